// InferenceBackend: runs a model on batches of tensors. The Inferencer talks to engines only
// through this interface and finds them by the name in its `engine` param, so another engine (ONNX
// Runtime, TensorRT, libtorch) is one class and one registration away. vstream ships "opencv"
// (cv::dnn: ONNX, Caffe, TensorFlow, Darknet, ...).
//
// Each Inferencer instance (one per `parallelism` worker) gets a backend of its own, with the device
// it is bound to (`device_id`, or its turn in `devices`) and the `backend`/`target` params as
// strings in BackendOptions: the engine decides what they mean, binds the device in Load (an error
// there names a device this machine or build lacks), and keeps it bound for every Prepare and Run
// (which may come from another thread than Load).
//
//   vstream::RegisterInferenceBackend("onnxruntime", [] { return std::make_unique<OrtBackend>(); });
//   // config: "infer": { "class_name": "Inferencer", "custom_params": { "engine": "onnxruntime", ... } }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/inference/tensor.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class TensorLayout { kUnknown, kNCHW, kNHWC };

/// What a backend learned about the model's input (0 where the model does not say).
struct ModelInfo {
  std::vector<int64_t> input_shape;  // as declared; -1 for a dynamic dimension
  TensorLayout layout = TensorLayout::kUnknown;
  int input_width = 0;
  int input_height = 0;
  int input_channels = 0;
  std::vector<std::string> output_names;
};

/// What an instance is asked to run on. `backend` and `target` are the Inferencer's params as
/// written: each engine decides what they mean (OpenCV: backend default, opencv, cuda, ...; target
/// auto, cpu, opencl, cuda, ...).
struct BackendOptions {
  std::string backend = "default";
  std::string target = "auto";
  int device_id = -1;  // the device this instance is bound to; -1: the CPU
  /// True when the device came from `device_id` (CNStream configs name MLU cards there): a device
  /// this machine lacks may then run on the best available one, with a warning. False when it came
  /// from `devices`: a device this machine lacks is an error.
  bool device_fallback = false;
  int wanted_batch = 1;  // the batch size the caller would like to use
  std::string module;    // the Inferencer's name, for messages
};

class VSTREAM_EXPORT InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;
  /// Loads `model` on the device `options` bind it to. On success fills what `info` the model
  /// declares (input shape, layout, outputs). A device this machine or engine cannot bind is
  /// kUnavailable, with a message that names it (the Inferencer adds the param that chose it).
  virtual Status Load(const std::filesystem::path& model, const BackendOptions& options, ModelInfo* info) = 0;
  /// Checks that the model runs on one item of `item_shape` (batch dimension first, = 1) and finds
  /// the largest batch up to `wanted_batch` it accepts. Fails with what does not fit.
  virtual Status Prepare(const std::vector<int64_t>& item_shape, int wanted_batch, int* max_batch) = 0;
  /// Runs one batch (input batch first, at most Prepare's max_batch items). Outputs keep the batch first,
  /// in the model's output order. Called from the instance's own thread, one call at a time.
  virtual Status Run(const Tensor& input, std::vector<Tensor>* outputs) = 0;
  /// Where Load bound the instance, for logs and Inferencer::InstanceDevices(): "cpu", "cuda:1",
  /// "opencl", ... Empty (the default): the Inferencer says "device N" from the options.
  virtual std::string device() const { return {}; }
};

using InferenceBackendFactory = std::function<std::unique_ptr<InferenceBackend>()>;

/// Adds an engine under `name` (for the `engine` param, with or without a "vstream::" prefix); false
/// when the name is taken or the factory is empty.
VSTREAM_EXPORT bool RegisterInferenceBackend(const std::string& name, InferenceBackendFactory factory);
/// Creates the engine `name`; nullptr when unknown.
VSTREAM_EXPORT std::unique_ptr<InferenceBackend> CreateInferenceBackend(const std::string& name);
/// Registered engine names, sorted.
VSTREAM_EXPORT std::vector<std::string> InferenceBackendNames();

}  // namespace vstream
