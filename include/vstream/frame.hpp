// Frame: one video frame of one stream as it travels through a pipeline.
//
// A frame belongs to a stream (stream_id) and carries its position (frame_index, monotonic per
// stream; pts in time_base units), flags (end of stream, invalid, skipped), the image, the objects
// modules found in it, and a typed user-data map. Frames are shared (FramePtr) between branches of
// the graph: modules that may run at the same time as another reader of `objects` must hold
// LockObjects() while they touch it; modules ordered before every reader need not. A module that
// writes pixels (or replaces the image) first calls Module::MakeWritable, which gives it a copy of
// its own when another branch has the same frame.
//
//   vstream::FramePtr frame = vstream::Frame::Create("cam1", 41);
//   frame->image = vstream::VideoFrame::Allocate(1280, 720, vstream::PixelFormat::kBGR24);
//   frame->objects.push_back(face);
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/detected_object.hpp"
#include "vstream/user_data.hpp"
#include "vstream/video_frame.hpp"

namespace vstream {

namespace detail {
struct StreamState;
struct FrameAccess;
}  // namespace detail

enum FrameFlag : uint32_t {
  kFrameEos = 1u << 0,      // end of stream: carries no image; every module sees it once, in order
  kFrameInvalid = 1u << 1,  // the frame could not be produced correctly (e.g. a corrupt packet)
  kFrameSkipped = 1u << 2,  // a module skipped it (skip_if or an interval setting)
};

struct VSTREAM_EXPORT Rational {
  int num = 1;
  int den = 1000000;  // default time base: microseconds
};

class Frame;
using FramePtr = std::shared_ptr<Frame>;

class VSTREAM_EXPORT Frame {
 public:
  static FramePtr Create(std::string stream_id, int64_t frame_index);
  /// The end-of-stream marker of `stream_id`. `frame_index` is the index after the last frame.
  static FramePtr CreateEos(std::string stream_id, int64_t frame_index = -1);

  explicit Frame(std::string stream_id_in, int64_t frame_index_in);
  ~Frame();
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;

  bool IsEos() const { return (flags & kFrameEos) != 0; }
  bool HasFlag(FrameFlag flag) const { return (flags & flag) != 0; }
  void SetFlag(FrameFlag flag) { flags |= flag; }
  /// pts in seconds (pts * time_base).
  double timestamp() const { return static_cast<double>(pts) * time_base.num / time_base.den; }

  /// Runs `hook` when the frame is destroyed: the last FramePtr to it is gone, wherever that is (a
  /// leaf, a queue that dropped it, a module that failed it), on that thread. For a source that
  /// must know when its frame has left the pipeline (ModuleIPC acknowledges frames this way). Add
  /// hooks before the frame is shared; they run in the order added.
  void OnDestroy(std::function<void()> hook) { destroy_hooks_.push_back(std::move(hook)); }

  /// Lock to hold while reading or writing `objects` from a module that runs in parallel
  /// with another module using the same frame (fan-out branches).
  std::unique_lock<std::mutex> LockObjects() { return std::unique_lock<std::mutex>(objects_mutex_); }

  const std::string stream_id;
  const int64_t frame_index;
  int64_t pts = 0;
  Rational time_base;
  uint32_t flags = 0;
  VideoFrame image;
  std::vector<DetectedObject> objects;  // see LockObjects()
  UserData data;
  /// When the frame was created (end-to-end latency is measured from here).
  const std::chrono::steady_clock::time_point created;

 private:
  friend struct detail::FrameAccess;
  // A copy of another frame keeps its creation time (see detail::FrameAccess::BranchCopy).
  Frame(std::string stream_id_in, int64_t frame_index_in, std::chrono::steady_clock::time_point created_in);

  std::mutex objects_mutex_;
  std::vector<std::function<void()>> destroy_hooks_;  // written before the frame is shared
  // Routing state owned by the pipeline that carries the frame (see src/frame_access.hpp); written
  // before the frame is shared.
  const uint64_t route_hash_;
  std::shared_ptr<detail::StreamState> stream_state_;
  std::unique_ptr<std::atomic<uint32_t>[]> join_counts_;
  int origin_ = -1;  // the module this frame object started at (a source, or one that copied it)
};

}  // namespace vstream
