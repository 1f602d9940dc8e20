#include "vstream/module.hpp"

#include "vstream/stream_id.hpp"

#include "frame_access.hpp"

#include <exception>
#include <functional>

namespace vstream {

size_t WorkerForStream(std::string_view stream_id, int parallelism) {
  // The same hash as Frame's routing hash (std::hash of the stream id), so modules and the
  // pipeline agree on which worker owns a stream.
  return parallelism < 2 ? 0 : std::hash<std::string_view>{}(stream_id) % static_cast<size_t>(parallelism);
}

Module::Module(std::string name) : name_(std::move(name)) {}
Module::~Module() = default;

Status Module::ProcessSkipped(FramePtr frame) {
  if (!Transmit(std::move(frame)) && !PipelineStopping()) {
    return Fail("a skipped frame could not be passed on");
  }
  return Status::Ok();
}

Status Module::MakeWritable(FramePtr& frame, ImageAccess access) {
  if (frame == nullptr || frame->IsEos() || frame->image.empty()) return Status::Ok();
  const bool write_pixels = access == ImageAccess::kWritePixels;
  if (context_ != nullptr && context_->FrameShared(*frame)) {
    // Another branch may be reading this very frame: change a copy, never the original.
    FramePtr copy = detail::FrameAccess::BranchCopy(frame, write_pixels);
    if (Status s = context_->ReplaceFrame(frame, copy); !s) return s;
    frame = std::move(copy);
    return Status::Ok();
  }
  if (!write_pixels) return Status::Ok();  // assigning a new image leaves the old pixels as they are
  const BufferPtr& buffer = frame->image.buffer();
  // The frame is this module's alone, so no one can take another reference to its buffer now: a
  // count of 1 stays 1. More than one means another image (another frame, user data) shows them.
  if (buffer.use_count() > 1 || !buffer->writable()) frame->image = frame->image.Clone();
  return Status::Ok();
}

bool Module::Transmit(FramePtr frame) { return context_ != nullptr && context_->Transmit(std::move(frame)); }

bool Module::PipelineStopping() const { return context_ == nullptr || context_->Stopping(); }

void Module::ReportStreamError(const std::string& stream_id, const std::string& message) {
  if (context_ != nullptr) context_->ReportStreamError(stream_id, message);
}

void Module::ReportFrameError(const FramePtr& frame, const std::string& message) {
  if (context_ != nullptr && frame != nullptr) context_->ReportFrameError(*frame, message);
}

void Module::ReportModuleError(const std::string& message) {
  if (context_ != nullptr) context_->ReportModuleError(message);
}

// ----------------------------------------------------------------------------------------------

Status SourceModule::Process(FramePtr /*frame*/) {
  return Fail("module '" + name() + "' is a source: it has no inputs", StatusCode::kFailedState);
}

Status SourceModule::Register(const std::string& stream_id) {
  // Ids end up in output paths ({stream}) and log lines: only the documented character set.
  if (Status s = CheckStreamId(stream_id); !s) {
    return {s.code(), "module '" + name() + "': " + s.message()};
  }
  {
    std::lock_guard<std::mutex> lock(streams_mutex_);
    if (!streams_.insert(stream_id).second) {
      return {StatusCode::kInvalidArgument, "module '" + name() + "': stream id '" + stream_id +
                                                "' is already in use; choose another id or remove that stream first"};
    }
  }
  if (context() != nullptr) {
    if (Status s = context()->StartStream(stream_id); !s) {
      std::lock_guard<std::mutex> lock(streams_mutex_);
      streams_.erase(stream_id);
      return s;
    }
  }
  return Status::Ok();
}

void SourceModule::Forget(const std::string& stream_id) {
  if (context() != nullptr) context()->CancelStream(stream_id);
  std::lock_guard<std::mutex> lock(streams_mutex_);
  streams_.erase(stream_id);
}

Status SourceModule::StartStream(const std::string& stream_id) { return Register(stream_id); }

Status SourceModule::AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) {
  if (Status s = Register(stream_id); !s) return s;
  Status status;
  try {
    status = OnAddSource(stream_id, uri, options);
  } catch (const std::exception& e) {
    status = Status(StatusCode::kRuntimeError, std::string("OnAddSource threw: ") + e.what());
  }
  if (!status) Forget(stream_id);
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
  if (context() != nullptr) context()->ExpectingStreamsChanged();
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
