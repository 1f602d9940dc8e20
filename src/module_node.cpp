#include "module_node.hpp"

#include <chrono>
#include <exception>

#include "frame_access.hpp"
#include "pipeline_impl.hpp"
#include "vstream/log.hpp"
#include "vstream/registry.hpp"

namespace vstream::detail {

ModuleNode::ModuleNode(PipelineImpl* pipeline_in, std::unique_ptr<Module> module_in, ModuleConfig config_in,
                       bool is_source_in, ModuleParams params_in, SkipPredicate skip)
    : pipeline(pipeline_in),
      module(std::move(module_in)),
      config(std::move(config_in)),
      is_source(is_source_in),
      params(std::move(params_in)),
      skip_(std::move(skip)),
      forwards_itself_(module->forwarding() == Module::Forwarding::kByModule) {}

ModuleNode::~ModuleNode() {
  CloseQueues(true);
  JoinWorkers();
  module->Bind(nullptr);  // what the module does while it is destroyed reaches no half-gone node
}

void ModuleNode::CreateQueues() {
  queues_.clear();
  join_mutexes_.clear();
  if (is_source) return;
  const size_t workers = static_cast<size_t>(config.parallelism);
  for (size_t i = 0; i < workers; ++i) {
    queues_.push_back(std::make_unique<BoundedQueue<FramePtr>>(static_cast<size_t>(config.max_input_queue_size)));
    if (join_slot >= 0) join_mutexes_.push_back(std::make_unique<std::mutex>());
  }
}

void ModuleNode::StartWorkers() {
  for (size_t i = 0; i < queues_.size(); ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

void ModuleNode::CloseQueues(bool discard) {
  for (auto& queue : queues_) {
    if (discard) {
      queue->CloseAndClear();
    } else {
      queue->Close();
    }
  }
}

void ModuleNode::JoinWorkers() {
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

bool ModuleNode::Deliver(FramePtr frame) {
  if (pipeline->aborting()) return false;
  const size_t worker = FrameAccess::RouteHash(*frame) % queues_.size();
  if (join_slot < 0) return Enqueue(worker, std::move(frame));
  // Count this parent's arrival and enqueue on the last one, under the worker's lock, so that the
  // order of enqueueing follows the order of completion for every stream of this worker.
  std::lock_guard<std::mutex> lock(*join_mutexes_[worker]);
  const uint32_t arrived = FrameAccess::JoinCount(*frame, join_slot).fetch_add(1, std::memory_order_relaxed) + 1;
  // Only the parents this frame's source reaches will deliver it (two sources may merge here).
  const auto& state = FrameAccess::State(*frame);
  const uint32_t expected = state ? (*state->join_expected)[static_cast<size_t>(join_slot)]
                                  : static_cast<uint32_t>(parents.size());
  if (arrived < expected) return true;
  return Enqueue(worker, std::move(frame));
}

bool ModuleNode::Enqueue(size_t worker, FramePtr frame) {
  BoundedQueue<FramePtr>& queue = *queues_[worker];
  switch (config.queue_policy) {
    case QueuePolicy::kBlock:
      return queue.Push(std::move(frame));
    case QueuePolicy::kDropNewest: {
      if (frame->IsEos()) return queue.Push(std::move(frame));  // EOS is never dropped
      switch (queue.TryPush(frame)) {
        case BoundedQueue<FramePtr>::TryResult::kPushed: return true;
        case BoundedQueue<FramePtr>::TryResult::kClosed: return false;
        case BoundedQueue<FramePtr>::TryResult::kFull: CountDrop(frame); return true;
      }
      return true;
    }
    case QueuePolicy::kDropOldest: {
      FramePtr evicted;
      const bool pushed = queue.PushEvictOldest(
          std::move(frame), [](const FramePtr& queued) { return !queued->IsEos(); }, &evicted);
      if (evicted) CountDrop(evicted);
      return pushed;
    }
  }
  return false;
}

void ModuleNode::CountDrop(const FramePtr& frame) {
  dropped_.fetch_add(1, std::memory_order_relaxed);
  if (const auto& state = FrameAccess::State(*frame)) state->dropped.fetch_add(1, std::memory_order_relaxed);
  pipeline->PostEvent(EventType::kFramesDropped, config.name, frame->stream_id,
                      "queue full (queue_policy " + std::string(QueuePolicyName(config.queue_policy)) + ")");
}

bool ModuleNode::Forward(FramePtr frame) {
  frames_out_.fetch_add(1, std::memory_order_relaxed);
  if (children.empty()) {
    pipeline->CompleteAtLeaf(frame);
    return true;
  }
  bool delivered = true;
  for (size_t i = 0; i + 1 < children.size(); ++i) delivered &= children[i]->Deliver(frame);
  delivered &= children.back()->Deliver(std::move(frame));
  return delivered;
}

bool ModuleNode::Transmit(FramePtr frame) {
  if (frame == nullptr || pipeline->aborting()) return false;
  if (is_source) pipeline->AttachStream(*frame, this);
  return Forward(std::move(frame));
}

bool ModuleNode::Stopping() const { return pipeline->state.load() != PipelineImpl::State::kRunning; }

void ModuleNode::ReportStreamError(const std::string& stream_id, const std::string& message) {
  pipeline->RecordStreamError(stream_id, message);
  pipeline->PostEvent(EventType::kStreamError, config.name, stream_id, message);
}

void ModuleNode::ReportFrameError(const Frame& frame, const std::string& message) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  pipeline->PostEvent(EventType::kFrameError, config.name, frame.stream_id, message, frame.frame_index);
}

void ModuleNode::ReportModuleError(const std::string& message) {
  pipeline->PostEvent(EventType::kModuleError, config.name, {}, message);
}

Status ModuleNode::StartStream(const std::string& stream_id) { return pipeline->RegisterStream(stream_id, this); }

void ModuleNode::CancelStream(const std::string& stream_id) { pipeline->UnregisterStream(stream_id); }

void ModuleNode::ExpectingStreamsChanged() { pipeline->NotifyStreamsChanged(); }

bool ModuleNode::FrameShared(const Frame& frame) const {
  const int origin = FrameAccess::Origin(frame);
  const auto& state = FrameAccess::State(frame);
  if (origin >= 0 && state && state->owner == pipeline && static_cast<size_t>(origin) < sharing.shared.size()) {
    return sharing.shared[static_cast<size_t>(origin)];
  }
  // A frame this pipeline did not route from one of its sources: shared if any frame may be.
  for (bool shared : sharing.shared) {
    if (shared) return true;
  }
  return false;
}

namespace {
// The frame this thread is running a module's Process on (ReplaceFrame accepts only that one).
thread_local const Frame* processing_frame = nullptr;
}  // namespace

Status ModuleNode::ReplaceFrame(const FramePtr& original, FramePtr copy) {
  if (original == nullptr || copy == nullptr) return {StatusCode::kInvalidArgument, "ReplaceFrame needs two frames"};
  const auto& state = FrameAccess::State(*original);
  if (state && state->owner == pipeline) {
    auto refused = sharing.copy_refused.find(static_cast<size_t>(state->source));
    if (refused != sharing.copy_refused.end()) return {StatusCode::kFailedState, refused->second};
  } else if (!sharing.copy_refused.empty()) {
    return {StatusCode::kFailedState, sharing.copy_refused.begin()->second};
  }
  // Everything below this module sees the copy as a frame that started here.
  FrameAccess::SetOrigin(*copy, index);
  if (forwards_itself_) return Status::Ok();  // the module Transmits the copy itself
  {
    std::lock_guard<std::mutex> lock(replacements_mutex_);
    // Only the frame this thread's Process is handling (or its copy) can be replaced: Handle takes
    // the replacement when Process returns, so any other would stay here for good.
    bool current = original.get() == processing_frame;
    for (const auto& [replaced, replacement] : replacements_) {
      current = current || (replaced == processing_frame && replacement == original);
    }
    if (!current) {
      return {StatusCode::kFailedState, "module '" + config.name +
                                            "': MakeWritable works on the frame Process was called with, from Process"};
    }
    for (auto& [replaced, replacement] : replacements_) {
      if (replaced == original.get() || replacement == original) {  // (a copy of a copy: keep the newest)
        replacement = std::move(copy);
        return Status::Ok();
      }
    }
    replacements_.emplace_back(original.get(), std::move(copy));
  }
  pending_replacements_.fetch_add(1, std::memory_order_release);
  return Status::Ok();
}

void ModuleNode::TakeReplacement(FramePtr& frame) {
  std::lock_guard<std::mutex> lock(replacements_mutex_);
  for (auto it = replacements_.begin(); it != replacements_.end(); ++it) {
    if (it->first != frame.get()) continue;
    frame = std::move(it->second);
    replacements_.erase(it);
    pending_replacements_.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
}

void ModuleNode::WorkerLoop(size_t worker) {
  FramePtr frame;
  while (queues_[worker]->Pop(&frame)) {
    if (pipeline->aborting()) {
      frame.reset();
      continue;
    }
    Handle(std::move(frame));
  }
}

Status CallProcess(Module& module, const FramePtr& frame, bool skipped) {
  try {
    return skipped ? module.ProcessSkipped(frame) : module.Process(frame);
  } catch (const std::exception& e) {
    return {StatusCode::kRuntimeError, std::string("Process threw: ") + e.what()};
  } catch (...) {
    return {StatusCode::kRuntimeError, "Process threw a non-standard exception"};
  }
}

void ModuleNode::Handle(FramePtr frame) {
  const bool eos = frame->IsEos();
  const bool skip = !eos && skip_ && skip_(*frame);
  if (skip) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    if (!forwards_itself_) {
      Forward(std::move(frame));
      return;
    }
  } else {
    frames_in_.fetch_add(1, std::memory_order_relaxed);
  }
  const bool profiling = pipeline->profiling && !skip;
  const auto begin = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  const Frame* const outer = processing_frame;  // (a Process that runs a pipeline of its own)
  processing_frame = frame.get();
  Status result = CallProcess(*module, frame, skip);
  processing_frame = outer;
  if (profiling) latency_.Record(std::chrono::steady_clock::now() - begin);
  // A branch copy goes on in the frame's place (and is dropped with it when Process failed).
  if (!forwards_itself_ && pending_replacements_.load(std::memory_order_acquire) != 0) TakeReplacement(frame);

  if (result.ok()) {
    if (!forwards_itself_) Forward(std::move(frame));
    return;
  }
  errors_.fetch_add(1, std::memory_order_relaxed);
  std::string message = result.message().empty() ? "Process failed without a message" : result.message();
  if (eos) {
    // An end of stream must reach every module: report the failure and forward it anyway (a module
    // that forwards frames itself did not take a frame it returned an error for).
    pipeline->PostEvent(EventType::kModuleError, config.name, frame->stream_id,
                        "failed while handling the end of stream: " + message);
    Forward(std::move(frame));
    return;
  }
  pipeline->PostEvent(EventType::kFrameError, config.name, frame->stream_id, std::move(message), frame->frame_index);
}

void ModuleNode::RecordProcessingTime(std::chrono::nanoseconds time) {
  if (pipeline->profiling) reported_latency_.Record(time);
}

ModuleStats ModuleNode::Stats(double uptime_s) const {
  ModuleStats stats;
  stats.name = config.name;
  stats.class_name = std::string(ModuleRegistry::Canonical(config.class_name));
  stats.parallelism = is_source ? 0 : config.parallelism;
  stats.frames_in = frames_in_.load(std::memory_order_relaxed);
  stats.frames_out = frames_out_.load(std::memory_order_relaxed);
  stats.frames_skipped = skipped_.load(std::memory_order_relaxed);
  stats.frames_dropped = dropped_.load(std::memory_order_relaxed);
  stats.errors = errors_.load(std::memory_order_relaxed);
  for (const auto& queue : queues_) {
    stats.queue_depth += queue->size();
    stats.queue_capacity += queue->capacity();
  }
  const LatencyHistogram& latency = forwards_itself_ && reported_latency_.count() > 0 ? reported_latency_ : latency_;
  stats.latency_p50_ms = latency.PercentileMs(0.50);
  stats.latency_p99_ms = latency.PercentileMs(0.99);
  const uint64_t counted = is_source ? stats.frames_out : stats.frames_in;
  stats.fps = uptime_s > 0 ? static_cast<double>(counted) / uptime_s : 0;
  return stats;
}

}  // namespace vstream::detail
