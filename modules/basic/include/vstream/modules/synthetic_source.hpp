// SyntheticSource: a source of generated frames, for demos, tests and benchmarks without media.
//
// Each stream produces `frames` frames (0: until removed) of `width` x `height` in `pixel_format`
// (width 0: frames without an image, to measure the framework alone). Pattern "index" fills every
// byte of frame i with i % 256, so a consumer can check content and order; "moving_box" draws a
// bright square that moves across a dark background (tracking and drawing demos). `threads`
// producer threads share the streams; frame_rate > 0 paces each stream to real time.
//
//   "source": { "class_name": "SyntheticSource", "next_modules": ["sink"],
//               "custom_params": { "streams": 4, "frames": 300, "width": 640, "height": 360 } }
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT SyntheticSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  ~SyntheticSource() override;

  static ModuleDescription Describe();
  /// A frame in the hands of each producer thread, of the configured size and format.
  static HeldFrames FramesHeld(const ModuleParams& params);

  Status Open(const ModuleParams& params) override;
  void Close() override;

 protected:
  /// Options: "frames" overrides the module's frame count for this stream.
  Status OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) override;
  void OnRemoveSource(const std::string& stream_id) override;

 private:
  struct Stream;
  struct Producer;
  void Produce(Producer* producer);
  FramePtr MakeFrame(Stream& stream);

  int width_ = 0;
  int height_ = 0;
  PixelFormat format_ = PixelFormat::kBGR24;
  int64_t frames_ = 0;
  double frame_rate_ = 0;
  bool moving_box_ = false;
  std::vector<std::unique_ptr<Producer>> producers_;
  size_t next_producer_ = 0;  // guarded by mutex_
  std::mutex mutex_;          // guards producers' stream lists and stopping_
  bool stopping_ = false;
};

}  // namespace vstream
