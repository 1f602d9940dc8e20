// AppSource: a source whose frames the program pushes (a camera SDK's callback, images made in
// memory, numpy arrays from Python) instead of a source that reads them itself.
//
// A stream starts like any other: from the `streams` parameter at Open, or with
// Pipeline::AddSource(id, "app://"). Then any thread of the program pushes images into it, and the
// stream ends with EndStream (or RemoveSource, or when the pipeline stops):
//  - Push copies the image (an Image description of memory, a cv::Mat or a VideoFrame, whose
//    buffer is shared as it is) into a frame; PushZeroCopy makes the frame's pixels the caller's
//    memory, read-only to the pipeline (a module that writes pixels gets a copy first,
//    Module::MakeWritable), and calls the caller's `release` exactly once, when the last frame
//    using the memory is gone, or at once when the push fails.
//  - frame_index counts each stream's frames from 0. pts is in microseconds (the frame's default
//    time base): given, it must be later than the stream's previous pts; kAutoPts derives it as
//    the previous pts + 1/frame_rate (0 for the first frame) or, with frame_rate 0, from the
//    clock (microseconds since the stream's first push).
//  - Push blocks while the next module's queue is full (backpressure), like a source's Transmit.
//    Pushes to one stream from several threads are handed on one at a time, in index order.
// Errors: kNotFound for a stream the module does not have, kInvalidArgument naming what is wrong
// with the image or pts, kFailedState after the stream ended, before Start, and when the pipeline
// stops or aborts while the push waits (the frame was not taken). Ending a stream never blocks:
// its EOS follows the stream's last frame, sent by the module's own thread.
//
//   auto* app = pipeline.GetModule<vstream::AppSource>("source");   // "streams": ["cam1"]
//   if (auto s = app->Push("cam1", bgr_mat); !s) log(s.message());   // a copy, pts derived
//   app->EndStream("cam1");
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <opencv2/core/mat.hpp>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT AppSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  ~AppSource() override;

  /// The pts argument that asks the module to derive the frame's pts (see above).
  static constexpr int64_t kAutoPts = std::numeric_limits<int64_t>::min();
  /// The only uri AddSource takes: the frames come from Push, not from a place.
  static constexpr const char* kUri = "app://";

  /// An image somewhere in memory: `height` rows of `stride` bytes from `data` (0: rows packed,
  /// width x bytes per pixel). NV12: the interleaved UV plane's height / 2 rows follow the Y
  /// plane's rows, with the same stride; width and height must be even.
  struct Image {
    const void* data = nullptr;
    int width = 0;
    int height = 0;
    int stride = 0;
    PixelFormat format = PixelFormat::kBGR24;
  };

  static ModuleDescription Describe();
  /// Per stream, the pushed frame waiting for room in the next queue.
  static HeldFrames FramesHeld(const ModuleParams& params);

  Status Open(const ModuleParams& params) override;
  /// Refuses pushes from now on, waits for the pushes under way (they return once the pipeline
  /// refuses their frames) and for the module's thread, and frees the ids of streams never ended.
  void Close() override;

  /// Copies `image` into a new frame of `stream_id`.
  Status Push(const std::string& stream_id, const Image& image, int64_t pts = kAutoPts);
  /// The frame's pixels are `image.data` itself, which the pipeline only reads; `release` (may be
  /// empty) runs once, from whichever thread drops the last frame using them, or before this
  /// returns when the push fails. Do not change the memory until then.
  Status PushZeroCopy(const std::string& stream_id, const Image& image, std::function<void()> release,
                      int64_t pts = kAutoPts);
  /// A cv::Mat of 8-bit pixels, copied: CV_8UC3 as bgr24 (or `format` kRGB24), CV_8UC1 as gray8
  /// (or `format` kNV12: height * 3 / 2 rows, Y then UV).
  Status Push(const std::string& stream_id, const cv::Mat& image, int64_t pts = kAutoPts,
              PixelFormat format = PixelFormat::kNone);
  /// As above without a copy: the frame keeps a reference to the Mat's pixels, read-only to the
  /// pipeline. Do not write into them while frames use them (cv::VideoCapture::read into the same
  /// Mat does: push a clone, or use Push).
  Status PushZeroCopy(const std::string& stream_id, const cv::Mat& image, int64_t pts = kAutoPts,
                      PixelFormat format = PixelFormat::kNone);
  /// An image already in a VideoFrame: the frame shares its buffer (and its writable() flag).
  Status Push(const std::string& stream_id, VideoFrame image, int64_t pts = kAutoPts);

  /// No more frames for `stream_id`: its EOS follows the last frame pushed (a push under way
  /// first hands its frame on). Returns at once. kNotFound for an unknown stream, kFailedState
  /// when it already ended. RemoveSource does the same.
  Status EndStream(const std::string& stream_id);

 protected:
  /// `uri` must be "app://". Option "frame_rate" overrides the parameter for this stream.
  Status OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) override;
  void OnRemoveSource(const std::string& stream_id) override;

 private:
  struct Stream;
  /// The bytes `image` spans, once its description and the module's requirements are checked (an
  /// error names what is wrong).
  Status ImageBytes(const std::string& stream_id, const Image& image, size_t* bytes) const;
  /// The pixel_format, width and height parameters.
  Status CheckRequirements(const std::string& stream_id, int width, int height, PixelFormat format) const;
  Status MatImage(const std::string& stream_id, const cv::Mat& mat, PixelFormat format, Image* out) const;
  /// `buffer` (holding `image`'s bytes) as a VideoFrame of `image`'s layout.
  static Status WrapImage(const Image& image, BufferPtr buffer, VideoFrame* out);
  Status NotRunning() const;
  /// Not in a forked child, and between Open and Close.
  Status CheckUsable() const;
  /// Hands `image` on as the stream's next frame.
  Status PushFrame(const std::string& stream_id, VideoFrame image, int64_t pts);
  /// The stream a push may use now (after waiting for a push of the same stream under way), or an
  /// error. Called with mutex_ held, through `lock`.
  Status Claim(const std::string& stream_id, std::unique_lock<std::mutex>& lock, std::shared_ptr<Stream>* out);
  Status NextPts(Stream& stream, int64_t pts, int64_t* out) const;
  /// Marks `stream` ended; its EOS is queued now unless a push is under way (that push queues it).
  void EndLocked(const std::shared_ptr<Stream>& stream);
  void QueueEosLocked(const std::shared_ptr<Stream>& stream);
  /// The module's thread: sends the EOS of ended streams, which may wait for room downstream.
  void SendEnds();

  std::string required_format_ = "any";  // pixel_format: "any" or a format every image must have
  int required_width_ = 0;       // 0: any
  int required_height_ = 0;      // 0: any
  double frame_rate_ = 25;
  std::atomic<int> owner_pid_{0};  // the process that opened the module (a forked child may not push)

  mutable std::mutex mutex_;
  std::condition_variable changed_;     // a push finished, a stream ended, or the module closed; with mutex_
  std::condition_variable ender_wake_;  // an EOS to send, or the module closed; with mutex_
  bool closed_ = true;                  // guarded by mutex_
  std::map<std::string, std::shared_ptr<Stream>> streams_;  // guarded by mutex_; until their EOS left
  std::deque<std::shared_ptr<Stream>> ending_;              // EOS to send, in order; guarded by mutex_
  std::deque<std::string> recently_ended_;  // ids whose EOS left, newest last (bounded); guarded by mutex_
  int in_flight_ = 0;                   // pushes handing a frame on; guarded by mutex_
  std::thread ender_;
};

}  // namespace vstream
