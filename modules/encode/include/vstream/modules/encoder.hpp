// Encoder: writes each stream to a video file (FFmpeg: H.264 in MP4/MKV, or any encoder and
// container FFmpeg has) or to JPEG images, one per frame.
//
// A stream's file is opened at its first frame (with that frame's size) and completed at its EOS,
// so a finished stream always leaves a playable file. "{stream}" in `path` is replaced by the
// stream id; for JPEG output "{index}" by the frame index (6 digits).
//
//   "encode": { "class_name": "Encoder", "custom_params": { "path": "out/{stream}.mp4" } }
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

namespace detail {
struct EncodeSession;
}  // namespace detail

class VSTREAM_EXPORT Encoder : public Module {
 public:
  using Module::Module;
  ~Encoder() override;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

 private:
  std::string PathFor(const std::string& stream_id, int64_t index) const;

  std::string path_;
  bool jpeg_ = false;
  std::string codec_;
  int crf_ = 23;
  int bitrate_kbps_ = 0;
  std::string preset_;
  double frame_rate_ = 0;
  int gop_size_ = 0;
  int jpeg_quality_ = 90;
  // One map per worker (a stream always goes to the same worker): no lock needed.
  PerStreamState<std::unique_ptr<detail::EncodeSession>> sessions_;
};

}  // namespace vstream
