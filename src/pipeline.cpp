#include "vstream/pipeline.hpp"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "frame_sharing.hpp"
#include "graph_validation.hpp"
#include "vstream/log.hpp"
#include "pipeline_impl.hpp"
#include "vstream/text.hpp"
#include "vstream/registry.hpp"

namespace vstream {
namespace detail {

bool PipelineImpl::ForkedChild() const { return owner_pid != 0 && owner_pid != ::getpid(); }

Status PipelineImpl::ObserverError() const {
  return {StatusCode::kFailedState,
          "pipeline '" + name + "': Start and Stop cannot be called from the observer (it runs on the "
          "pipeline's event thread, which Stop joins); call them from another thread"};
}

Status PipelineImpl::ForkError() const {
  return {StatusCode::kFailedState,
          "pipeline '" + name + "' was started in process " + std::to_string(owner_pid) +
              " and cannot be used in process " + std::to_string(::getpid()) +
              ", a child forked from it: its worker threads do not exist in the child. Create and start "
              "pipelines after forking, or start other processes with spawn semantics (posix_spawn or "
              "fork+exec, as `vstream run a.json b.json` does)"};
}

Status PipelineImpl::RegisterStream(const std::string& stream_id, ModuleNode* source) {
  std::lock_guard<std::mutex> lock(streams_mutex);
  if (!accepting_streams) {
    return {StatusCode::kFailedState, "pipeline '" + name + "' is not running; start it before adding streams"};
  }
  if (active_streams.count(stream_id) != 0) {
    return {StatusCode::kInvalidArgument, "stream id '" + stream_id + "' is already in use in pipeline '" + name +
                                              "'; choose another id or remove that stream first"};
  }
  auto stream = std::make_shared<StreamState>(stream_id, this, source->index, source->reachable_leaves,
                                              &source->join_expected);
  active_streams.emplace(stream_id, stream);
  all_streams.push_back(std::move(stream));
  ++unfinished_streams;
  return Status::Ok();
}

void PipelineImpl::UnregisterStream(const std::string& stream_id) {
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    auto it = active_streams.find(stream_id);
    if (it == active_streams.end()) return;
    std::shared_ptr<StreamState> stream = it->second;
    active_streams.erase(it);
    all_streams.erase(std::remove(all_streams.begin(), all_streams.end(), stream), all_streams.end());
    --unfinished_streams;
  }
  streams_changed.notify_all();
}

void PipelineImpl::AttachStream(Frame& frame, ModuleNode* source) {
  const auto& attached = FrameAccess::State(frame);
  if (attached && attached->owner == this) return;  // re-transmitted by the same pipeline
  std::shared_ptr<StreamState> stream;
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    auto it = active_streams.find(frame.stream_id);
    if (it == active_streams.end()) {
      // A stream the source did not register through AddSource: track it from its first frame.
      stream = std::make_shared<StreamState>(frame.stream_id, this, source->index, source->reachable_leaves,
                                             &source->join_expected);
      all_streams.push_back(stream);
      ++unfinished_streams;
      if (!frame.IsEos()) active_streams.emplace(frame.stream_id, stream);
    } else {
      stream = it->second;
      // After its EOS the id is free: a new stream with the same id gets fresh stream.
      if (frame.IsEos()) active_streams.erase(it);
    }
  }
  if (!frame.IsEos()) stream->frames.fetch_add(1, std::memory_order_relaxed);
  FrameAccess::Attach(frame, std::move(stream), join_slots);
  FrameAccess::SetOrigin(frame, source->index);
}

void PipelineImpl::CompleteAtLeaf(const FramePtr& frame) {
  const auto& stream = FrameAccess::State(*frame);
  if (!stream) return;
  if (!frame->IsEos()) {
    stream->completed.fetch_add(1, std::memory_order_relaxed);
    if (profiling) stream->latency.Record(std::chrono::steady_clock::now() - frame->created);
    return;
  }
  if (stream->pending_leaves.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // The last leaf saw the EOS: the stream is done.
  {
    std::lock_guard<std::mutex> stream_lock(stream->mutex);
    stream->finished = true;
  }
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    --unfinished_streams;
    // Keep stats of a bounded number of finished streams: forget the oldest.
    finished_streams.push_back(stream);
    if (finished_streams.size() > kFinishedStreamsKept) {
      const auto oldest = std::find(all_streams.begin(), all_streams.end(), finished_streams.front());
      if (oldest != all_streams.end()) all_streams.erase(oldest);
      finished_streams.pop_front();
    }
  }
  PostEvent(EventType::kStreamEos, {}, stream->stream_id, "end of stream");
  streams_changed.notify_all();
}

void PipelineImpl::NotifyStreamsChanged() {
  // Taking the mutex orders this notification after a waiter's check of the predicate.
  { std::lock_guard<std::mutex> lock(streams_mutex); }
  streams_changed.notify_all();
}

bool PipelineImpl::AllStreamsDone() const {
  if (unfinished_streams != 0) return false;
  for (const ModuleNode* source : sources) {
    if (static_cast<const SourceModule*>(source->module.get())->ExpectingStreams()) return false;
  }
  return true;
}

void PipelineImpl::RecordStreamError(const std::string& stream_id, const std::string& message) {
  std::shared_ptr<StreamState> stream;
  {
    std::lock_guard<std::mutex> lock(streams_mutex);
    auto it = active_streams.find(stream_id);
    if (it != active_streams.end()) stream = it->second;
  }
  if (stream) {
    std::lock_guard<std::mutex> stream_lock(stream->mutex);
    stream->error = message;
  }
}

void PipelineImpl::PostEvent(EventType type, std::string module, std::string stream_id, std::string message,
                             int64_t frame_index, uint64_t count) {
  Event event;
  event.type = type;
  event.module = std::move(module);
  event.stream_id = std::move(stream_id);
  event.message = std::move(message);
  event.frame_index = frame_index;
  event.count = count;
  events.Post(std::move(event));
}

}  // namespace detail

using detail::ModuleNode;
using detail::PipelineImpl;

Pipeline::Pipeline(std::string name) : impl_(std::make_unique<PipelineImpl>(std::move(name))) {}

Pipeline::~Pipeline() {
  if (impl_->ForkedChild()) {
    // The threads this object would join do not exist in a forked child, and its locks may be
    // held forever: leak it rather than hang.
    (void)impl_.release();
    return;
  }
  if (Status stopped = Stop(StopMode::kAbort); !stopped) VSTREAM_LOG_WARN("{}", stopped.message());
  impl_->nodes.clear();  // modules (and their threads) go before the state they report to
}

const std::string& Pipeline::name() const { return impl_->name; }
const GraphConfig& Pipeline::config() const { return impl_->config; }
bool Pipeline::running() const {
  // A forked child has the state's memory but none of the threads: nothing runs there.
  return !impl_->ForkedChild() && impl_->state.load() == PipelineImpl::State::kRunning;
}

Status Pipeline::BuildFromFile(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  GraphConfig config;
  if (Status s = GraphConfig::FromFile(path, &config); !s) return s;
  for (const auto& assignment : overrides) {
    if (Status s = config.Set(assignment); !s) return s;
  }
  return Build(config);
}

Status Pipeline::BuildFromString(const std::string& json, const std::filesystem::path& base_dir) {
  GraphConfig config;
  if (Status s = GraphConfig::FromString(json, base_dir, &config); !s) return s;
  return Build(config);
}

Status Pipeline::Build(const GraphConfig& config) {
  std::lock_guard<std::mutex> api_lock(impl_->api_mutex);
  const auto state = impl_->state.load();
  if (state == PipelineImpl::State::kRunning || state == PipelineImpl::State::kStopping) {
    return {StatusCode::kFailedState, "pipeline '" + impl_->name + "' is running; stop it before building again"};
  }
  GraphConfig copy = config;
  detail::ValidatedGraph graph;
  if (Status s = detail::ValidateGraph(copy, &graph); !s) return s;

  impl_->nodes.clear();
  impl_->by_name.clear();
  impl_->sources.clear();
  impl_->join_slots = 0;
  // `graph` points at the modules of `copy`; moving the vector keeps those addresses.
  impl_->config = std::move(copy);
  impl_->profiling = impl_->config.profiler.enable_profiling;
  if (impl_->config.profiler.enable_tracing) {
    VSTREAM_LOG_WARN("profiler_config.enable_tracing is not supported yet and is ignored; per-module and per-stream "
                "statistics (Pipeline::GetStats) are collected while enable_profiling is true");
  }

  std::vector<ModuleNode*> by_index(graph.modules.size(), nullptr);
  for (size_t index : graph.topological_order) {
    detail::ValidatedModule& vm = graph.modules[index];
    std::unique_ptr<Module> module = vm.entry->factory(vm.config->name);
    if (module == nullptr) {
      return {StatusCode::kRuntimeError, "module '" + vm.config->name + "': the factory of class '" +
                                             vm.entry->class_name + "' returned nothing"};
    }
    auto node = std::make_unique<ModuleNode>(impl_.get(), std::move(module), *vm.config, vm.is_source,
                                             std::move(vm.params), std::move(vm.skip));
    by_index[index] = node.get();
    impl_->by_name[vm.config->name] = node.get();
    if (node->is_source) impl_->sources.push_back(node.get());
    impl_->nodes.push_back(std::move(node));
  }
  for (size_t index = 0; index < graph.modules.size(); ++index) {
    ModuleNode* node = by_index[index];
    for (size_t child : graph.modules[index].children) node->children.push_back(by_index[child]);
    for (size_t parent : graph.modules[index].parents) node->parents.push_back(by_index[parent]);
    if (node->parents.size() > 1) node->join_slot = static_cast<int>(impl_->join_slots++);
  }
  // Below each source: the distinct leaves (that many modules must see a stream's EOS), and for
  // each join how many of its parents the source reaches (that many deliveries make a frame whole).
  for (ModuleNode* source : impl_->sources) {
    std::set<ModuleNode*> seen;
    std::vector<ModuleNode*> stack{source};
    while (!stack.empty()) {
      ModuleNode* node = stack.back();
      stack.pop_back();
      if (!seen.insert(node).second) continue;
      if (node->children.empty()) ++source->reachable_leaves;
      for (ModuleNode* child : node->children) stack.push_back(child);
    }
    source->join_expected.assign(impl_->join_slots, 0);
    for (auto& node : impl_->nodes) {
      if (node->join_slot < 0) continue;
      for (ModuleNode* parent : node->parents) source->join_expected[static_cast<size_t>(node->join_slot)] += seen.count(parent);
    }
  }
  // Which modules may hold a frame while another branch has it too (Module::MakeWritable copies).
  std::vector<std::vector<size_t>> children(impl_->nodes.size());
  std::vector<std::string> names;
  for (size_t i = 0; i < impl_->nodes.size(); ++i) impl_->nodes[i]->index = static_cast<int>(i);
  for (size_t i = 0; i < impl_->nodes.size(); ++i) {
    for (ModuleNode* child : impl_->nodes[i]->children) children[i].push_back(static_cast<size_t>(child->index));
    names.push_back(impl_->nodes[i]->config.name);
  }
  detail::FrameSharing sharing = detail::AnalyzeFrameSharing(children, names);
  for (size_t i = 0; i < impl_->nodes.size(); ++i) impl_->nodes[i]->sharing = std::move(sharing.modules[i]);
  for (auto& node : impl_->nodes) node->module->Bind(node.get());
  impl_->state = PipelineImpl::State::kBuilt;
  return Status::Ok();
}

void Pipeline::SetObserver(EventCallback callback, size_t max_queued_events) {
  impl_->events.SetCallback(std::move(callback), max_queued_events);
}

Status Pipeline::Start() {
  if (impl_->ForkedChild()) return impl_->ForkError();
  if (impl_->events.OnDispatcherThread()) return impl_->ObserverError();
  std::lock_guard<std::mutex> api_lock(impl_->api_mutex);
  const auto state = impl_->state.load();
  if (state == PipelineImpl::State::kEmpty) {
    return {StatusCode::kFailedState, "pipeline '" + impl_->name + "' has no modules: call Build first"};
  }
  if (state == PipelineImpl::State::kRunning) {
    return {StatusCode::kFailedState, "pipeline '" + impl_->name + "' is already running"};
  }
  impl_->owner_pid = ::getpid();
  impl_->aborting_ = false;
  impl_->abort_requested = false;
  impl_->start_time = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(impl_->streams_mutex);
    impl_->active_streams.clear();
    impl_->all_streams.clear();
    impl_->finished_streams.clear();
    impl_->unfinished_streams = 0;
    impl_->accepting_streams = true;
  }
  impl_->events.Start();
  for (auto& node : impl_->nodes) node->CreateQueues();

  // Open downstream modules first and start their workers, then the sources, so that the first
  // frame a source produces finds everything ready.
  std::vector<ModuleNode*> opened;
  auto fail = [&](ModuleNode* node, const std::string& why) {
    for (auto& n : impl_->nodes) n->CloseQueues(true);
    node->module->Close();  // it may have started threads before it failed (a source's first inputs)
    for (auto& n : impl_->nodes) n->JoinWorkers();
    for (auto it = opened.rbegin(); it != opened.rend(); ++it) (*it)->module->Close();
    {
      std::lock_guard<std::mutex> lock(impl_->streams_mutex);
      impl_->accepting_streams = false;
    }
    impl_->events.Stop();
    impl_->state = PipelineImpl::State::kBuilt;
    return Status(StatusCode::kRuntimeError, "module '" + node->config.name + "' (" +
                                                 std::string(ModuleRegistry::Canonical(node->config.class_name)) +
                                                 ") failed to open: " + why);
  };
  auto open = [&](ModuleNode* node) -> std::string {
    Status opened_status;
    try {
      opened_status = node->module->Open(node->params);
    } catch (const std::exception& e) {
      return std::string("Open threw: ") + e.what();
    }
    if (opened_status) return {};
    return opened_status.message().empty() ? "Open failed without a message" : opened_status.message();
  };
  impl_->state = PipelineImpl::State::kRunning;
  for (auto it = impl_->nodes.rbegin(); it != impl_->nodes.rend(); ++it) {
    ModuleNode* node = it->get();
    if (node->is_source) continue;
    if (std::string why = open(node); !why.empty()) return fail(node, why);
    opened.push_back(node);
    node->StartWorkers();
  }
  for (ModuleNode* node : impl_->sources) {
    if (std::string why = open(node); !why.empty()) {
      impl_->aborting_ = true;
      return fail(node, why);
    }
    opened.push_back(node);
  }
  VSTREAM_LOG_DEBUG("pipeline '{}' started with {} modules", impl_->name, impl_->nodes.size());
  return Status::Ok();
}

Status Pipeline::Stop(StopMode mode, std::chrono::milliseconds drain_timeout) {
  if (impl_->ForkedChild()) return impl_->ForkError();
  if (impl_->events.OnDispatcherThread()) return impl_->ObserverError();
  if (mode == StopMode::kAbort) {
    // Cut short a graceful stop that another thread may be waiting in.
    std::lock_guard<std::mutex> lock(impl_->streams_mutex);
    impl_->abort_requested = true;
    impl_->streams_changed.notify_all();
  }
  std::lock_guard<std::mutex> api_lock(impl_->api_mutex);
  if (impl_->state.load() != PipelineImpl::State::kRunning) return Status::Ok();
  impl_->state = PipelineImpl::State::kStopping;
  Status result;
  std::string cut_short;  // why a graceful stop became an abort

  if (mode == StopMode::kGraceful) {
    {
      // First refuse new streams, then end the ones there are: an AddSource racing with this
      // Stop either lands before (and is ended) or fails.
      std::lock_guard<std::mutex> lock(impl_->streams_mutex);
      impl_->accepting_streams = false;
    }
    for (ModuleNode* source : impl_->sources) static_cast<SourceModule*>(source->module.get())->RemoveAllSources();
    std::unique_lock<std::mutex> lock(impl_->streams_mutex);
    auto settled = [this] { return impl_->unfinished_streams == 0 || impl_->abort_requested; };
    bool drained = true;
    if (drain_timeout == std::chrono::milliseconds::max()) {
      impl_->streams_changed.wait(lock, settled);  // now + max would overflow
    } else {
      drained = impl_->streams_changed.wait_for(lock, drain_timeout, settled);
    }
    if (impl_->abort_requested || !drained) {
      const std::string message =
          impl_->abort_requested
              ? "graceful stop cut short by an abort; " + std::to_string(impl_->unfinished_streams) +
                    " stream(s) did not finish and their queued frames were dropped"
              : "graceful stop timed out after " + std::to_string(drain_timeout.count()) + " ms; " +
                    std::to_string(impl_->unfinished_streams) +
                    " stream(s) did not finish and their queued frames were dropped";
      if (!impl_->abort_requested) result = Status(StatusCode::kRuntimeError, message);
      cut_short = "pipeline '" + impl_->name + "': " + message;
      mode = StopMode::kAbort;
    }
  }
  {
    std::lock_guard<std::mutex> lock(impl_->streams_mutex);
    impl_->accepting_streams = false;
  }
  if (mode == StopMode::kAbort) {
    impl_->aborting_ = true;  // from here Transmit refuses frames
    // Before the queued frames are dropped: a module can then tell frames dropped by the abort
    // from frames that were done (refused ones it sees from Transmit's answer).
    for (auto& node : impl_->nodes) node->module->Interrupt();
    for (auto& node : impl_->nodes) node->CloseQueues(true);  // wakes producers blocked on full queues
    // Said once the queued frames are gone, and before the workers are joined: an observer may
    // need to hear it to release a module stuck in Process.
    if (!cut_short.empty()) impl_->PostEvent(EventType::kModuleError, {}, {}, cut_short);
    for (ModuleNode* source : impl_->sources) source->module->Close();
    for (auto& node : impl_->nodes) node->JoinWorkers();
    for (auto& node : impl_->nodes) {
      if (!node->is_source) node->module->Close();
    }
  } else {
    for (auto& node : impl_->nodes) node->CloseQueues(false);
    for (auto& node : impl_->nodes) node->JoinWorkers();
    for (auto& node : impl_->nodes) node->module->Close();  // sources first: topological order
  }
  {
    std::lock_guard<std::mutex> lock(impl_->streams_mutex);
    impl_->active_streams.clear();
    impl_->unfinished_streams = 0;
  }
  impl_->streams_changed.notify_all();
  impl_->events.Stop();
  impl_->state = PipelineImpl::State::kStopped;
  VSTREAM_LOG_DEBUG("pipeline '{}' stopped", impl_->name);
  return result;
}

Status Pipeline::AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options,
                           const std::string& source_module) {
  if (impl_->ForkedChild()) return impl_->ForkError();
  if (impl_->state.load() != PipelineImpl::State::kRunning) {
    return {StatusCode::kFailedState, "pipeline '" + impl_->name + "' is not running; call Start before AddSource"};
  }
  ModuleNode* target = nullptr;
  if (source_module.empty()) {
    if (impl_->sources.size() != 1) {
      std::vector<std::string> names;
      for (ModuleNode* s : impl_->sources) names.push_back(s->config.name);
      return {StatusCode::kInvalidArgument, "pipeline '" + impl_->name + "' has " + std::to_string(names.size()) +
                                                " source modules (" + vstream::Join(names, ", ") +
                                                "); name the one to add '" + stream_id + "' to"};
    }
    target = impl_->sources.front();
  } else {
    auto it = impl_->by_name.find(source_module);
    if (it == impl_->by_name.end() || !it->second->is_source) {
      return {StatusCode::kNotFound, "pipeline '" + impl_->name + "' has no source module named '" + source_module + "'"};
    }
    target = it->second;
  }
  return static_cast<SourceModule*>(target->module.get())->AddSource(stream_id, uri, options);
}

Status Pipeline::RemoveSource(const std::string& stream_id) {
  if (impl_->ForkedChild()) return impl_->ForkError();
  for (ModuleNode* source : impl_->sources) {
    auto* module = static_cast<SourceModule*>(source->module.get());
    if (module->HasStream(stream_id)) return module->RemoveSource(stream_id);
  }
  return {StatusCode::kNotFound, "no active stream '" + stream_id + "' in pipeline '" + impl_->name + "'"};
}

bool Pipeline::WaitForStreams(std::chrono::milliseconds timeout) {
  if (impl_->ForkedChild()) return false;
  std::unique_lock<std::mutex> lock(impl_->streams_mutex);
  auto done = [this] { return impl_->AllStreamsDone() || impl_->state.load() != PipelineImpl::State::kRunning; };
  if (timeout == std::chrono::milliseconds::max()) {
    impl_->streams_changed.wait(lock, done);
  } else {
    impl_->streams_changed.wait_for(lock, timeout, done);
  }
  return impl_->AllStreamsDone();
}

PipelineStats Pipeline::GetStats() const {
  PipelineStats stats;
  if (impl_->ForkedChild()) return stats;
  const auto now = std::chrono::steady_clock::now();
  const auto state = impl_->state.load();
  if (state == PipelineImpl::State::kEmpty || state == PipelineImpl::State::kBuilt) return stats;
  stats.uptime_s = std::chrono::duration<double>(now - impl_->start_time).count();
  for (const auto& node : impl_->nodes) stats.modules.push_back(node->Stats(stats.uptime_s));
  std::vector<std::shared_ptr<detail::StreamState>> streams;
  {
    std::lock_guard<std::mutex> lock(impl_->streams_mutex);
    streams = impl_->all_streams;
  }
  for (const auto& s : streams) {
    StreamStats out;
    out.stream_id = s->stream_id;
    out.frames = s->frames.load(std::memory_order_relaxed);
    out.frames_completed = s->completed.load(std::memory_order_relaxed);
    out.frames_dropped = s->dropped.load(std::memory_order_relaxed);
    const double seconds = std::chrono::duration<double>(now - s->started).count();
    out.fps = seconds > 0 ? static_cast<double>(out.frames) / seconds : 0;
    out.latency_p50_ms = s->latency.PercentileMs(0.50);
    out.latency_p99_ms = s->latency.PercentileMs(0.99);
    {
      std::lock_guard<std::mutex> stream_lock(s->mutex);
      out.finished = s->finished;
      out.error = s->error;
    }
    stats.streams.push_back(std::move(out));
  }
  return stats;
}

Module* Pipeline::GetModule(const std::string& name) const {
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : it->second->module.get();
}

}  // namespace vstream
