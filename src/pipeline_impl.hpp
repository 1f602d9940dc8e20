// PipelineImpl: the state behind vstream::Pipeline (private).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_dispatcher.hpp"
#include "frame_access.hpp"
#include "module_node.hpp"
#include "vstream/config.hpp"
#include "vstream/pipeline.hpp"

namespace vstream::detail {

class PipelineImpl {
 public:
  enum class State { kEmpty, kBuilt, kRunning, kStopping, kStopped };

  explicit PipelineImpl(std::string name_in) : name(std::move(name_in)) {}

  // Streams ------------------------------------------------------------------------------------
  /// A source starts `stream_id`. kInvalidArgument when the id is in use.
  Status RegisterStream(const std::string& stream_id, ModuleNode* source);
  /// Undoes RegisterStream when the source could not open the stream.
  void UnregisterStream(const std::string& stream_id);
  /// Gives a frame leaving a source its stream state (and join counters).
  void AttachStream(Frame& frame, ModuleNode* source);
  /// A frame reached the end of a leaf module.
  void CompleteAtLeaf(const FramePtr& frame);
  void RecordStreamError(const std::string& stream_id, const std::string& message);
  /// Wakes WaitForStreams to look again (a source changed whether it expects streams).
  void NotifyStreamsChanged();
  /// Every stream finished and no source expects more. Caller holds streams_mutex.
  bool AllStreamsDone() const;

  void PostEvent(EventType type, std::string module, std::string stream_id, std::string message,
                 int64_t frame_index = -1, uint64_t count = 1);

  bool aborting() const { return aborting_.load(std::memory_order_relaxed); }
  bool ForkedChild() const;
  Status ForkError() const;
  Status ObserverError() const;

  const std::string name;
  GraphConfig config;
  std::vector<std::unique_ptr<ModuleNode>> nodes;  // topological order (parents before children)
  std::map<std::string, ModuleNode*> by_name;
  std::vector<ModuleNode*> sources;
  size_t join_slots = 0;
  bool profiling = true;
  EventDispatcher events;

  std::mutex api_mutex;  // serializes Build/Start/Stop/AddSource/RemoveSource
  std::atomic<State> state{State::kEmpty};  // written under api_mutex
  std::atomic<bool> aborting_{false};
  std::atomic<bool> abort_requested{false};  // Stop(kAbort) during a graceful drain
  pid_t owner_pid = 0;   // the process that started the pipeline
  std::chrono::steady_clock::time_point start_time;

  std::mutex streams_mutex;
  std::condition_variable streams_changed;  // a stream finished or the pipeline stopped
  // All below guarded by streams_mutex.
  std::unordered_map<std::string, std::shared_ptr<StreamState>> active_streams;  // by id, until EOS leaves the source
  std::vector<std::shared_ptr<StreamState>> all_streams;                       // for stats; finished ones capped
  std::deque<std::shared_ptr<StreamState>> finished_streams;                   // oldest first, at most kFinishedStreamsKept
  size_t unfinished_streams = 0;
  bool accepting_streams = false;
  static constexpr size_t kFinishedStreamsKept = 4096;
};

}  // namespace vstream::detail
