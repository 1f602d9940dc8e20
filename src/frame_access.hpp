// Pipeline-private state attached to frames and streams (never installed).
//
// StreamState is one incarnation of a stream inside one pipeline: counters for stats, the
// end-to-end latency histogram, and how many leaf modules must still see its EOS. FrameAccess
// reaches the routing fields that Frame keeps private.
#pragma once

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
  StreamState(std::string id, const PipelineImpl* owner_in, int leaves, const std::vector<uint32_t>* joins)
      : stream_id(std::move(id)), owner(owner_in), join_expected(joins), pending_leaves(leaves) {}

  const std::string stream_id;
  const PipelineImpl* const owner;
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
};

}  // namespace vstream::detail
