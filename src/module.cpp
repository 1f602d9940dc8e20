#include "vstream/module.hpp"

#include "module_node.hpp"
#include "pipeline_impl.hpp"

namespace vstream {
namespace {
thread_local std::string t_last_error;
}  // namespace

namespace detail {
thread_local int t_current_worker = -1;  // set by ModuleNode::WorkerLoop
}  // namespace detail

int Module::CurrentWorker() { return detail::t_current_worker; }

namespace detail {
thread_local bool t_skipping = false;  // set by ModuleNode::Handle around Process
}  // namespace detail

bool Module::Skipping() { return detail::t_skipping; }

Module::Module(std::string name) : name_(std::move(name)) {}
Module::~Module() = default;

const std::string& Module::LastError() { return t_last_error; }
void Module::ClearLastError() { t_last_error.clear(); }

bool Module::Fail(std::string message) {
  t_last_error = std::move(message);
  return false;
}

bool Module::Transmit(FramePtr frame) { return node_ != nullptr && node_->Transmit(std::move(frame)); }

bool Module::PipelineStopping() const {
  return node_ == nullptr || node_->pipeline->state.load() != detail::PipelineImpl::State::kRunning;
}

void Module::ReportStreamError(const std::string& stream_id, const std::string& message) {
  if (node_ == nullptr) return;
  node_->pipeline->RecordStreamError(stream_id, message);
  node_->pipeline->PostEvent(EventType::kStreamError, name_, stream_id, message);
}

void Module::ReportFrameError(const FramePtr& frame, const std::string& message) {
  if (node_ == nullptr || frame == nullptr) return;
  node_->CountError();
  node_->pipeline->PostEvent(EventType::kFrameError, name_, frame->stream_id, message, frame->frame_index);
}

void Module::ReportModuleError(const std::string& message) {
  if (node_ == nullptr) return;
  node_->pipeline->PostEvent(EventType::kModuleError, name_, {}, message);
}

// ----------------------------------------------------------------------------------------------

int SourceModule::Process(FramePtr /*frame*/) { return Fail("a source module has no inputs"), -1; }

Status SourceModule::AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) {
  if (stream_id.empty()) return {StatusCode::kInvalidArgument, "a stream id must not be empty"};
  {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    if (!streams_.insert(stream_id).second) {
      return {StatusCode::kInvalidArgument, "module '" + name() + "': stream id '" + stream_id +
                                                "' is already in use; choose another id or remove that stream first"};
    }
  }
  auto forget = [&] {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    streams_.erase(stream_id);
  };
  if (node_ != nullptr) {
    if (Status s = node_->pipeline->RegisterStream(stream_id, node_); !s) {
      forget();
      return s;
    }
  }
  Status status;
  try {
    status = OnAddSource(stream_id, uri, options);
  } catch (const std::exception& e) {
    status = Status(StatusCode::kRuntimeError, std::string("OnAddSource threw: ") + e.what());
  }
  if (!status) {
    if (node_ != nullptr) node_->pipeline->UnregisterStream(stream_id);
    forget();
  }
  return status;
}

Status SourceModule::RemoveSource(const std::string& stream_id) {
  if (!HasStream(stream_id)) {
    return {StatusCode::kNotFound, "module '" + name() + "': no active stream '" + stream_id + "'"};
  }
  OnRemoveSource(stream_id);
  return Status::Ok();
}

void SourceModule::RemoveAllSources() {
  for (const auto& id : ActiveStreams()) OnRemoveSource(id);
}

std::vector<std::string> SourceModule::ActiveStreams() const {
  std::lock_guard<std::mutex> lock(streams_mutex_);
  return {streams_.begin(), streams_.end()};
}

bool SourceModule::HasStream(const std::string& stream_id) const {
  std::lock_guard<std::mutex> lock(streams_mutex_);
  return streams_.count(stream_id) != 0;
}

void SourceModule::SetExpectingStreams(bool expecting) {
  expecting_streams_.store(expecting, std::memory_order_release);
  if (node_ != nullptr) node_->pipeline->NotifyStreamsChanged();
}

bool SourceModule::EndStream(const std::string& stream_id, int64_t next_index, const std::string& error) {
  return EndStream(Frame::CreateEos(stream_id, next_index), error);
}

bool SourceModule::EndStream(FramePtr eos, const std::string& error, bool* delivered) {
  if (eos == nullptr) return false;
  eos->SetFlag(kFrameEos);
  {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    if (streams_.erase(eos->stream_id) == 0) return false;
  }
  if (!error.empty()) ReportStreamError(eos->stream_id, error);
  // The EOS frame frees the id in the pipeline as it leaves the source.
  const bool taken = Transmit(std::move(eos));
  if (delivered != nullptr) *delivered = taken;
  return true;
}

}  // namespace vstream
