// Inferencer: runs a model on frames (or on the objects in them) and attaches what it finds.
//
// Frames are preprocessed (resize, colour order, normalization, layout), batched across streams
// (`batch_size`, a partial batch runs after `batching_timeout` ms), run through an inference engine
// (`engine`: OpenCV DNN by default, or any registered InferenceBackend) and postprocessed by name
// into detected objects, with boxes in the frame's own coordinates. With `object_infer` the model
// runs on crops of the frame's objects (filtered by label) and its results become attributes of
// those objects. Each stream's frames leave in order.
// Every `parallelism` worker has its own model instance, which its engine binds to a device
// (`device_id`, or round-robin over `devices`); a device the engine cannot bind fails Open.
//
//   "detect": { "class_name": "Inferencer", "parallelism": 1, "next_modules": ["track"],
//               "custom_params": { "model_path": "face_detection_front_128x128_barracuda.onnx",
//                                  "postproc_name": "blazeface", "batch_size": 4,
//                                  "batching_timeout": 20 } }
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

namespace detail {
class InferenceExecutor;
struct InferenceSettings;
}  // namespace detail

class VSTREAM_EXPORT Inferencer : public Module {
 public:
  using Module::Module;
  ~Inferencer() override;

  static ModuleDescription Describe();
  /// Per worker: the batch queue (2 x batch_size, at least 4) and the batch running.
  static HeldFrames FramesHeld(const ModuleParams& params);

  Status Open(const ModuleParams& params) override;
  void Close() override;
  /// Hands the frame to the executor of its worker, which batches it and transmits it.
  Status Process(FramePtr frame) override;
  /// Frames that match skip_if pass through the executor, so they keep their place in the stream.
  Status ProcessSkipped(FramePtr frame) override;
  Forwarding forwarding() const override { return Forwarding::kByModule; }

  /// Where each instance (worker 0, 1, ...) runs, as its engine bound it: "cpu", "cuda:1", ...
  /// Empty when the module is not open. Call it between Open and Close.
  std::vector<std::string> InstanceDevices() const;

 private:
  Status Enqueue(FramePtr frame, bool skipped);

  std::shared_ptr<const detail::InferenceSettings> settings_;
  std::vector<std::unique_ptr<detail::InferenceExecutor>> executors_;  // one per worker
};

}  // namespace vstream
