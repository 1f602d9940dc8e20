// ModuleNode: one module inside a running pipeline: its workers, queues, edges and counters.
//
// A frame reaches a node through Deliver() (from a parent, or from the source itself), waits in
// the queue of worker hash(stream) % parallelism, goes through the module's Process, and leaves
// through Forward(): to every child, or, at a leaf, to the pipeline's end-of-path accounting.
// A node with several parents counts each frame's arrivals and enqueues it once, when the last
// parent delivered it; counting and enqueueing happen under one lock per worker so frames of a
// stream keep their order even when different parents complete them.
//
// The node is also its module's ModuleContext: everything the module asks of the pipeline
// (Transmit, events, stream registration for sources, whether a frame is shared with another
// branch and which branch copy replaces it) comes here, through the pointer the module was bound
// to, and nowhere else.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bounded_queue.hpp"
#include "frame_sharing.hpp"
#include "latency_histogram.hpp"
#include "vstream/config.hpp"
#include "vstream/module.hpp"
#include "vstream/skip_condition.hpp"
#include "vstream/stats.hpp"

namespace vstream::detail {

class PipelineImpl;

/// Calls `module`'s Process (or ProcessSkipped), turning an exception into an error Status: how the
/// pipeline and the ModuleRunner both call a module.
Status CallProcess(Module& module, const FramePtr& frame, bool skipped);

class ModuleNode final : public ModuleContext {
 public:
  ModuleNode(PipelineImpl* pipeline, std::unique_ptr<Module> module, ModuleConfig config, bool is_source,
             ModuleParams params, SkipPredicate skip);
  ~ModuleNode() override;

  /// Called with a frame this node is to process. False when the pipeline is aborting or closed.
  bool Deliver(FramePtr frame);
  /// This node is done with `frame`: hand it to the children (or finish it at a leaf).
  bool Forward(FramePtr frame);
  // ModuleContext ---------------------------------------------------------------------------
  int parallelism() const override { return is_source ? 0 : config.parallelism; }
  bool Transmit(FramePtr frame) override;
  bool Stopping() const override;
  void ReportStreamError(const std::string& stream_id, const std::string& message) override;
  void ReportFrameError(const Frame& frame, const std::string& message) override;
  void ReportModuleError(const std::string& message) override;
  Status StartStream(const std::string& stream_id) override;
  void CancelStream(const std::string& stream_id) override;
  void ExpectingStreamsChanged() override;
  void RecordProcessingTime(std::chrono::nanoseconds time) override;
  bool FrameShared(const Frame& frame) const override;
  Status ReplaceFrame(const FramePtr& original, FramePtr copy) override;

  void CreateQueues();
  void StartWorkers();
  /// Graceful: workers finish what is queued. Abort: queued frames are released now.
  void CloseQueues(bool discard);
  void JoinWorkers();

  ModuleStats Stats(double uptime_s) const;

  PipelineImpl* const pipeline;
  const std::unique_ptr<Module> module;
  const ModuleConfig config;
  const bool is_source;
  const ModuleParams params;
  std::vector<ModuleNode*> children;
  std::vector<ModuleNode*> parents;
  int join_slot = -1;       // index of this node's arrival counter in each frame, when it has >1 parent
  int reachable_leaves = 0; // sources: distinct leaf modules downstream (EOS accounting)
  std::vector<uint32_t> join_expected;  // sources, per join slot: parents of that join it reaches
  int index = -1;           // position in PipelineImpl::nodes
  ModuleSharing sharing;    // which frames other branches may hold too (set by Build, with the above)

 private:
  void WorkerLoop(size_t worker);
  void Handle(FramePtr frame);

  bool Enqueue(size_t worker, FramePtr frame);
  void CountDrop(const FramePtr& frame);
  /// After Process: the branch copy the module made of `frame` (MakeWritable) takes its place.
  void TakeReplacement(FramePtr& frame);

  const SkipPredicate skip_;
  const bool forwards_itself_;  // module->forwarding() is kByModule (a property of the class)
  std::vector<std::unique_ptr<BoundedQueue<FramePtr>>> queues_;  // one per worker; set before StartWorkers
  std::vector<std::unique_ptr<std::mutex>> join_mutexes_;        // one per worker, join nodes only
  std::vector<std::thread> workers_;

  // Branch copies that replace frames in Process (kByPipeline modules only): (original, copy), at
  // most one per worker. The count lets Handle skip the lock when there are none.
  std::mutex replacements_mutex_;
  std::vector<std::pair<const Frame*, FramePtr>> replacements_;  // guarded by replacements_mutex_
  std::atomic<int> pending_replacements_{0};

  std::atomic<uint64_t> frames_in_{0};
  std::atomic<uint64_t> frames_out_{0};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> errors_{0};
  LatencyHistogram latency_;          // time inside Process
  LatencyHistogram reported_latency_; // RecordProcessingTime; preferred in stats once it has any
};

}  // namespace vstream::detail
