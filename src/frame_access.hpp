// Pipeline-private state attached to frames and streams (never installed).
//
// StreamState is one incarnation of a stream inside one pipeline: counters for stats, the
// end-to-end latency histogram, and how many leaf modules must still see its EOS. FrameAccess
// reaches the routing fields that Frame keeps private, and makes branch copies (Module::MakeWritable).
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "latency_histogram.hpp"
#include "vstream/frame.hpp"

namespace vstream::detail {

class PipelineImpl;

struct StreamState {
  StreamState(std::string id, const PipelineImpl* owner_in, int source_in, int leaves,
              const std::vector<uint32_t>* joins)
      : stream_id(std::move(id)), owner(owner_in), source(source_in), join_expected(joins), pending_leaves(leaves) {}

  const std::string stream_id;
  const PipelineImpl* const owner;
  const int source;  // index of the source module (PipelineImpl::nodes) that produces the stream
  /// Per join slot: how many of that join's parents this stream's source reaches (so how many
  /// deliveries of one frame the join waits for). Owned by the source's node.
  const std::vector<uint32_t>* const join_expected;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::atomic<uint64_t> frames{0};     // produced by the source
  std::atomic<uint64_t> completed{0};  // completions at leaf modules
  std::atomic<uint64_t> dropped{0};
  std::atomic<int> pending_leaves;     // leaves that have not yet seen the EOS
  LatencyHistogram latency;            // end to end
  std::mutex mutex;
  std::string error;                   // guarded by mutex
  bool finished = false;               // guarded by mutex
};

struct FrameAccess {
  static uint64_t RouteHash(const Frame& frame) { return frame.route_hash_; }
  static const std::shared_ptr<StreamState>& State(const Frame& frame) { return frame.stream_state_; }
  static void Attach(Frame& frame, std::shared_ptr<StreamState> state, size_t join_slots) {
    frame.stream_state_ = std::move(state);
    if (join_slots > 0) {
      frame.join_counts_ = std::make_unique<std::atomic<uint32_t>[]>(join_slots);
      for (size_t i = 0; i < join_slots; ++i) frame.join_counts_[i].store(0, std::memory_order_relaxed);
    }
  }
  static std::atomic<uint32_t>& JoinCount(Frame& frame, int slot) { return frame.join_counts_[slot]; }

  /// Index (PipelineImpl::nodes) of the module this frame object started at: the source that
  /// produced it, or the module that made it as a branch copy. -1 before a pipeline routed it.
  static int Origin(const Frame& frame) { return frame.origin_; }
  /// Before the frame is shared (a source's Transmit, a branch copy not yet handed on).
  static void SetOrigin(Frame& frame, int origin) { frame.origin_ = origin; }

  /// A new frame object that stands for `original` on one branch of the graph: the same stream,
  /// index, timing, flags, creation time and routing state; its own objects and user data (copies),
  /// fresh join counters (it has reached no join yet), and an image that is a deep copy when
  /// `copy_pixels`, else shares the original's pixels (for a module that only reads them before it
  /// replaces the image). It keeps `original` alive until it is destroyed itself, so that a
  /// source's OnDestroy hooks still run only once every branch is done with the frame.
  static FramePtr BranchCopy(const FramePtr& original, bool copy_pixels) {
    Frame& from = *original;
    FramePtr copy(new Frame(from.stream_id, from.frame_index, from.created));
    copy->pts = from.pts;
    copy->time_base = from.time_base;
    copy->flags = from.flags;
    copy->image = copy_pixels ? from.image.Clone() : from.image;
    {
      auto lock = from.LockObjects();  // another branch may be adding objects right now
      copy->objects = from.objects;
    }
    from.data.Visit([&](const std::string& key, const std::any& value) { copy->data.SetAny(key, value); });
    copy->stream_state_ = from.stream_state_;
    const size_t join_slots = from.stream_state_ ? from.stream_state_->join_expected->size() : 0;
    if (join_slots > 0) {
      copy->join_counts_ = std::make_unique<std::atomic<uint32_t>[]>(join_slots);
      for (size_t i = 0; i < join_slots; ++i) copy->join_counts_[i].store(0, std::memory_order_relaxed);
    }
    copy->origin_ = from.origin_;
    copy->destroy_hooks_.push_back([keep = original] {});
    return copy;
  }
};

}  // namespace vstream::detail
