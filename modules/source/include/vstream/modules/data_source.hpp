// DataSource: decodes video with FFmpeg (libavformat + libavcodec + libswscale) into frames.
//
// Each stream runs on its own thread: demux, decode (CPU, or an FFmpeg hardware decoder when
// decoder_type is "hw" and the machine has one), convert to the output pixel format into pooled
// buffers, and Transmit (which blocks while downstream queues are full). Inputs, by URI:
//   - a file of any container and codec FFmpeg reads ("videos/cam1.mp4")
//   - a network stream: rtsp://, rtmp://, http(s)://, tcp://, udp://, srt:// ... (reconnect with
//     back-off after a disconnect, within the `reconnect` budget; `stall_timeout_ms` detects
//     silent connections)
//   - an image sequence: a folder of images, or a printf pattern ("frames/img_%04d.png")
//   - a V4L2 camera ("/dev/video0" or "v4l2:///dev/video0")
//   - H.264/H.265 elementary-stream bytes pushed from memory: AddSource(id, "mem://h264") (or
//     "mem://hevc"), then PushBytes() and EndBytes()
// A stream that cannot be opened or read ends with a stream-error event naming the input and the
// cause, then its EOS; the other streams go on. A network stream that comes back after a
// reconnect marks its first frame with the gap (user data kGapKey). Stopping a stream takes at
// most stop_timeout_ms, even when its reader is stuck in a system call (see Close).
//
//   "source": { "class_name": "DataSource", "next_modules": ["infer"],
//               "custom_params": { "inputs": ["cam1=rtsp://10.0.0.5/live", "videos/a.mp4"],
//                                  "reconnect": 10, "pixel_format": "bgr24" } }
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

namespace detail {
class StreamReader;
struct ReaderSettings;
}  // namespace detail

class VSTREAM_EXPORT DataSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  ~DataSource() override;

  /// User data (int64_t, milliseconds) on the first frame of a network stream after a reconnect:
  /// how long the stream had no frames. That frame's pts is later than the last one's by as much.
  static constexpr const char* kGapKey = "source.gap_ms";

  static ModuleDescription Describe();
  /// Per stream: the frame being handed on, the decoder's pictures and the buffer pool.
  static HeldFrames FramesHeld(const ModuleParams& params);

  Status Open(const ModuleParams& params) override;
  /// Stops every stream and waits for its reader thread, at most stop_timeout_ms in all. A reader
  /// still blocked then (in a system call FFmpeg cannot interrupt) is abandoned: its stream ends
  /// with an error, and the thread, which owns everything it still uses, exits on its own later.
  void Close() override;

  /// Feeds bytes of an Annex-B H.264/H.265 elementary stream to a "mem://h264" or "mem://hevc"
  /// stream, in chunks of any size. Blocks while the stream's input buffer (`memory_buffer_kb`)
  /// is full. kNotFound for an unknown stream, kInvalidArgument for a stream that is not a
  /// memory input, kFailedState after EndBytes.
  Status PushBytes(const std::string& stream_id, const uint8_t* data, size_t size);
  /// No more bytes for this memory stream: it ends (with EOS) once everything pushed is decoded.
  Status EndBytes(const std::string& stream_id);

 protected:
  /// Per-stream options override the module's parameters of the same name: loop, frame_rate,
  /// interval, reconnect, reconnect_delay_ms, stall_timeout_ms, decoder_threads, rtsp_transport,
  /// max_frame_pixels.
  Status OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) override;
  void OnRemoveSource(const std::string& stream_id) override;

 private:
  struct Stream;
  using Clock = std::chrono::steady_clock;
  void Run(const std::shared_ptr<Stream>& stream);
  void Reap();
  std::shared_ptr<Stream> Find(const std::string& stream_id);
  /// Watchdog thread: abandons streams asked to stop (RemoveSource) that have not stopped within
  /// stop_timeout_ms.
  void Watch();
  /// Ends `stream` without its reader thread, which is blocked; false (nothing done) when the
  /// thread is inside Transmit or has finished after all.
  bool Abandon(const std::shared_ptr<Stream>& stream);

  std::unique_ptr<detail::ReaderSettings> defaults_;
  std::chrono::milliseconds stop_timeout_{2000};
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Stream>> streams_;  // guarded by mutex_; finished ones reaped
  bool closing_ = false;                                     // guarded by mutex_
  std::vector<std::pair<std::shared_ptr<Stream>, Clock::time_point>> stopping_;  // guarded by mutex_
  std::condition_variable watchdog_wake_;                    // with mutex_
  std::thread watchdog_;                                     // started by the first RemoveSource
};

}  // namespace vstream
