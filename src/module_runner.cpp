#include "vstream/module_runner.hpp"

#include <utility>

#include "frame_access.hpp"
#include "module_node.hpp"
#include "vstream/registry.hpp"

namespace vstream {

/// What the module sees instead of a pipeline: Transmit and events land in the runner's lists.
class ModuleRunner::Context final : public ModuleContext {
 public:
  Context(ModuleRunner* runner, int parallelism, bool is_source, bool frames_shared, bool forwards_itself)
      : runner_(runner),
        parallelism_(is_source ? 0 : parallelism),
        frames_shared_(frames_shared),
        forwards_itself_(forwards_itself) {}

  int parallelism() const override { return parallelism_; }
  bool Transmit(FramePtr frame) override {
    if (frame == nullptr) return false;
    {
      std::lock_guard<std::mutex> lock(runner_->mutex_);
      if (stopping_) return false;
      if (frame->IsEos()) runner_->ended_.insert(frame->stream_id);
      runner_->output_.push_back(std::move(frame));
    }
    runner_->changed_.notify_all();
    return true;
  }
  bool Stopping() const override {
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    return stopping_;
  }
  void ReportStreamError(const std::string& stream_id, const std::string& message) override {
    runner_->Record(EventType::kStreamError, stream_id, message);
  }
  void ReportFrameError(const Frame& frame, const std::string& message) override {
    runner_->Record(EventType::kFrameError, frame.stream_id, message, frame.frame_index);
  }
  void ReportModuleError(const std::string& message) override { runner_->Record(EventType::kModuleError, {}, message); }
  Status StartStream(const std::string& stream_id) override {
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    if (stopping_) return {StatusCode::kFailedState, "the module runner is closing; it takes no new streams"};
    runner_->ended_.erase(stream_id);  // a stream id may be used again after its EOS
    return Status::Ok();
  }
  void CancelStream(const std::string& /*stream_id*/) override {}
  void ExpectingStreamsChanged() override { runner_->changed_.notify_all(); }
  bool FrameShared(const Frame& frame) const override {
    // The frames pushed have no origin; a branch copy made here has one and is the module's alone.
    return frames_shared_ && detail::FrameAccess::Origin(frame) < 0;
  }
  Status ReplaceFrame(const FramePtr& original, FramePtr copy) override {
    if (original == nullptr || copy == nullptr) return {StatusCode::kInvalidArgument, "ReplaceFrame needs two frames"};
    detail::FrameAccess::SetOrigin(*copy, 0);
    if (forwards_itself_) return Status::Ok();  // the module Transmits the copy itself
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    replacements_[original.get()] = std::move(copy);
    return Status::Ok();
  }
  /// After Process: the branch copy that takes `frame`'s place, if the module made one.
  void TakeReplacement(FramePtr& frame) {
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    auto it = replacements_.find(frame.get());
    if (it == replacements_.end()) return;
    frame = std::move(it->second);
    replacements_.erase(it);
  }

  /// From here on Transmit refuses frames (Close).
  void Stop() {
    std::lock_guard<std::mutex> lock(runner_->mutex_);
    stopping_ = true;
  }

 private:
  ModuleRunner* const runner_;
  const int parallelism_;
  const bool frames_shared_;
  const bool forwards_itself_;
  bool stopping_ = false;  // guarded by runner_->mutex_
  std::map<const Frame*, FramePtr> replacements_;  // pushed frame -> its branch copy; guarded by runner_->mutex_
};

ModuleRunner::ModuleRunner(std::string class_name, ParamValues custom_params,
                           ModuleRunnerOptions options)
    : custom_params_(std::move(custom_params)), options_(std::move(options)) {
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  const ModuleRegistry::Entry* named = registry.Find(class_name);
  const ModuleRegistry::Entry* entry = registry.Resolve(class_name, custom_params_.Texts());
  if (named == nullptr || entry == nullptr) {
    construction_ = registry.Unknown(class_name);
    return;
  }
  description_ = named->describe();  // a choice's own parameters, as a config is checked
  module_ = entry->factory(options_.name);
  if (module_ == nullptr) construction_ = {StatusCode::kRuntimeError, "the factory of '" + class_name + "' returned nothing"};
}

ModuleRunner::ModuleRunner(std::unique_ptr<Module> module, ParamValues custom_params,
                           ModuleDescription description, ModuleRunnerOptions options)
    : module_(std::move(module)),
      custom_params_(std::move(custom_params)),
      description_(std::move(description)),
      options_(std::move(options)) {
  if (module_ == nullptr) construction_ = {StatusCode::kInvalidArgument, "ModuleRunner needs a module, got nullptr"};
}

ModuleRunner::~ModuleRunner() { Close(); }

Status ModuleRunner::Open() {
  if (!construction_) return construction_;
  if (open_) return {StatusCode::kFailedState, "module '" + options_.name + "' is already open"};
  if (options_.parallelism < 1) {
    return {StatusCode::kInvalidArgument, "ModuleRunnerOptions::parallelism must be 1 or more, got " +
                                              std::to_string(options_.parallelism)};
  }
  if (Status s = ParseSkipCondition(options_.skip_if, &skip_); !s) return s;
  ModuleParams params;
  const OtherParams others = description_.other_params.empty() ? OtherParams::kReject : OtherParams::kAccept;
  if (Status s = ModuleParams::Validate(options_.name, description_.params, custom_params_, options_.base_dir, &params,
                                        others);
      !s) {
    return s;
  }
  const bool is_source = dynamic_cast<SourceModule*>(module_.get()) != nullptr;
  context_ = std::make_unique<Context>(this, options_.parallelism, is_source, options_.frames_shared,
                                       module_->forwarding() == Module::Forwarding::kByModule);
  module_->Bind(context_.get());
  Status opened;
  try {
    opened = module_->Open(params);
  } catch (const std::exception& e) {
    opened = {StatusCode::kRuntimeError, std::string("Open threw: ") + e.what()};
  }
  if (!opened) {
    module_->Close();
    module_->Bind(nullptr);
    return {opened.code(), "module '" + options_.name + "' failed to open: " + opened.message()};
  }
  open_ = true;
  return Status::Ok();
}

void ModuleRunner::Close() {
  if (!open_) return;
  open_ = false;
  if (auto* source = dynamic_cast<SourceModule*>(module_.get())) source->RemoveAllSources();
  module_->Close();
  context_->Stop();
  module_->Bind(nullptr);
}

Status ModuleRunner::Push(FramePtr frame) {
  if (!open_) return {StatusCode::kFailedState, "module '" + options_.name + "' is not open: call Open first"};
  if (frame == nullptr) return {StatusCode::kInvalidArgument, "Push needs a frame, got nullptr"};
  next_index_[frame->stream_id] = frame->frame_index + 1;
  const bool skipped = !frame->IsEos() && skip_ && skip_(*frame);
  const bool forwards_itself = module_->forwarding() == Module::Forwarding::kByModule;
  if (skipped && !forwards_itself) {
    context_->Transmit(std::move(frame));  // passed on untouched, as a pipeline does
    return Status::Ok();
  }
  Status result = detail::CallProcess(*module_, frame, skipped);
  if (!forwards_itself) context_->TakeReplacement(frame);  // a branch copy goes on in its place
  if (!result) {
    if (frame->IsEos()) {  // an EOS goes on, reported as the pipeline reports it
      Record(EventType::kModuleError, frame->stream_id, "failed while handling the end of stream: " + result.message());
      context_->Transmit(std::move(frame));
    } else {
      Record(EventType::kFrameError, frame->stream_id, result.message(), frame->frame_index);
    }
    return result;
  }
  if (!forwards_itself) context_->Transmit(std::move(frame));
  return Status::Ok();
}

Status ModuleRunner::Push(const std::string& stream_id, int64_t index) { return Push(Frame::Create(stream_id, index)); }

Status ModuleRunner::PushEos(const std::string& stream_id) {
  auto it = next_index_.find(stream_id);
  return Push(Frame::CreateEos(stream_id, it == next_index_.end() ? 0 : it->second));
}

Status ModuleRunner::AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) {
  auto* source = dynamic_cast<SourceModule*>(module_.get());
  if (source == nullptr) return {StatusCode::kInvalidArgument, "module '" + options_.name + "' is not a source"};
  if (!open_) return {StatusCode::kFailedState, "module '" + options_.name + "' is not open: call Open first"};
  return source->AddSource(stream_id, uri, options);
}

bool ModuleRunner::WaitForOutput(size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return output_.size() >= count; });
}

bool ModuleRunner::WaitForEos(const std::string& stream_id, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return ended_.count(stream_id) != 0; });
}

std::vector<FramePtr> ModuleRunner::Output() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

std::vector<FramePtr> ModuleRunner::Output(const std::string& stream_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<FramePtr> mine;
  for (const auto& frame : output_) {
    if (frame->stream_id == stream_id) mine.push_back(frame);
  }
  return mine;
}

void ModuleRunner::ClearOutput() {
  std::lock_guard<std::mutex> lock(mutex_);
  output_.clear();
}

std::vector<Event> ModuleRunner::Events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

void ModuleRunner::Record(EventType type, const std::string& stream_id, const std::string& message, int64_t frame_index) {
  Event event;
  event.type = type;
  event.module = options_.name;
  event.stream_id = stream_id;
  event.frame_index = frame_index;
  event.message = message;
  event.time = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }
  changed_.notify_all();
}

}  // namespace vstream
