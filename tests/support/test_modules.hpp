// Modules and helpers shared by the core tests: they record what they see so tests can assert on
// order, counts and timing-free synchronization (condition variables, never sleeps).
#pragma once

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vstream/vstream.hpp"

namespace vstream::test {

/// Threads of this process right now (/proc/self/task). The first call starts and joins one thread
/// so that runtime helper threads started lazily with the first thread (ThreadSanitizer's) are
/// already counted in a baseline.
inline int ThreadCount() {
  static const bool warmed = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)warmed;
  int count = 0;
  if (DIR* dir = opendir("/proc/self/task")) {
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++count;
    }
    closedir(dir);
  }
  return count;
}

/// Base for test stages that need no parameters or resources: only Process to write.
class Stage : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
};

/// Adds one object to every frame (not EOS): label "thing", label id 0, score 0.9, the box
/// x = y = 0.25, w = h = 0.5 (normalized), so that modules such as Osd have something to draw.
class BoxMaker : public Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    DetectedObject object;
    object.box = {0.25f, 0.25f, 0.5f, 0.5f};
    object.label = "thing";
    object.label_id = 0;
    object.score = 0.9f;
    auto lock = frame->LockObjects();
    frame->objects.push_back(object);
    return {};
  }
};

/// Forwards frames later from its own thread (as a batching module would), keeping arrival order,
/// skipped frames included. Frames that went through Process (not ProcessSkipped) carry the user
/// data "relay.processed".
class AsyncRelay : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override {
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
    return {};
  }
  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Status Process(FramePtr frame) override { return Enqueue(std::move(frame), false); }
  Status ProcessSkipped(FramePtr frame) override { return Enqueue(std::move(frame), true); }
  Forwarding forwarding() const override { return Forwarding::kByModule; }

 private:
  Status Enqueue(FramePtr frame, bool skipped) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.emplace_back(std::move(frame), skipped);
    }
    wake_.notify_all();
    return {};  // Run transmits it
  }
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;
      auto [frame, skipped] = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      if (!skipped && !frame->IsEos()) frame->data.Set("relay.processed", true);
      Transmit(std::move(frame));
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<FramePtr, bool>> pending_;  // (frame, skipped); guarded by mutex_
  bool stop_ = false;                              // guarded by mutex_
  std::thread thread_;
};

/// Records, per stream, the frame indices it processed and the EOS frames it saw (and, when
/// `keep` is set, the frames themselves). Flags a stream whose indices do not increase.
class Recorder : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"records frames for tests", {ParamSpec::Bool("keep", false, "keep every frame for inspection")}};
  }
  Status Open(const ModuleParams& params) override {
    keep_ = params.GetBool("keep");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr frame) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& seen = frames_[frame->stream_id];
    if (frame->IsEos()) {
      ++eos_[frame->stream_id];
    } else {
      if (!seen.empty() && frame->frame_index <= seen.back()) out_of_order_ = true;
      if (eos_[frame->stream_id] > 0) frame_after_eos_ = true;
      seen.push_back(frame->frame_index);
      ++total_;
      if (keep_) kept_[frame->stream_id].push_back(frame);
    }
    changed_.notify_all();
    return {};
  }
  /// Waits until `n` frames (all streams) have arrived; false on timeout.
  bool WaitFrames(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return total_ >= n; });
  }
  std::vector<FramePtr> kept(const std::string& stream_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = kept_.find(stream_id);
    return it == kept_.end() ? std::vector<FramePtr>{} : it->second;
  }

  std::map<std::string, std::vector<int64_t>> frames() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frames_;
  }
  std::map<std::string, int> eos() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return eos_;
  }
  bool out_of_order() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_of_order_;
  }
  bool frame_after_eos() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return frame_after_eos_;
  }
  size_t total() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return total_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool keep_ = false;
  size_t total_ = 0;
  std::map<std::string, std::vector<FramePtr>> kept_;
  std::map<std::string, std::vector<int64_t>> frames_;
  std::map<std::string, int> eos_;
  bool out_of_order_ = false;
  bool frame_after_eos_ = false;
};

/// A module whose Process blocks until the test lets frames through (Release / Open all).
class Gate : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override { OpenAll(); }
  void Interrupt() override { OpenAll(); }  // an abort lets held frames go
  Status Process(FramePtr frame) override {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_ || permits_ > 0; });
    if (!open_) --permits_;
    if (!frame->IsEos()) ++passed_;
    return {};
  }
  void Release(int frames) {
    std::lock_guard<std::mutex> lock(mutex_);
    permits_ += frames;
    changed_.notify_all();
  }
  void OpenAll() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  /// Waits until `n` frames have entered Process (true) or the timeout passes (false).
  bool WaitEntered(int n, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }
  int passed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return passed_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  int permits_ = 0;
  int passed_ = 0;
  bool open_ = false;
};

/// Collects events; lets a test wait for a number of events of one type.
class EventLog {
 public:
  EventCallback Callback() {
    return [this](const Event& event) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(event);
      changed_.notify_all();
    };
  }
  bool WaitFor(EventType type, size_t count, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return CountLocked(type) >= count; });
  }
  size_t Count(EventType type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return CountLocked(type);
  }
  std::vector<Event> Of(EventType type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Event> out;
    for (const auto& e : events_) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }

 private:
  size_t CountLocked(EventType type) const {
    size_t n = 0;
    for (const auto& e : events_) n += e.type == type ? 1 : 0;
    return n;
  }
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Event> events_;
};

/// Counts frames alive right now (each frame produced by ScriptedSource holds one token) and the
/// most that were ever alive at once.
struct LiveFrames {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> peak{0};
  static void Reset() {
    live = 0;
    peak = 0;
  }
};

struct LiveToken {
  LiveToken() { Up(); }
  LiveToken(const LiveToken&) { Up(); }
  ~LiveToken() { --LiveFrames::live; }
  static void Up() {
    const int now = ++LiveFrames::live;
    int peak = LiveFrames::peak.load();
    while (now > peak && !LiveFrames::peak.compare_exchange_weak(peak, now)) {
    }
  }
};

/// A source with one thread per stream. Options: "frames" (default 10; 0 = until removed).
/// Every frame carries a LiveToken. Counts transmitted frames so tests can wait for them.
class ScriptedSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  ~ScriptedSource() override { Close(); }
  Status Open(const ModuleParams&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    return {};
  }
  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  bool WaitTransmitted(int n, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return transmitted_ >= n; });
  }
  int transmitted() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return transmitted_;
  }
  /// Waits until `n` streams were asked to end (RemoveSource, or a graceful Stop).
  bool WaitRemoved(size_t n, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return removed_.size() >= n; });
  }

 protected:
  Status OnAddSource(const std::string& id, const std::string&, const StreamOptions& options) override {
    int64_t frames = 10;
    if (auto it = options.find("frames"); it != options.end()) frames = std::stoll(it->second);
    std::lock_guard<std::mutex> lock(mutex_);
    threads_.emplace_back([this, id, frames] { Run(id, frames); });
    return Status::Ok();
  }
  void OnRemoveSource(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    removed_.push_back(id);
    changed_.notify_all();
  }

 private:
  bool Removed(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return true;
    return std::find(removed_.begin(), removed_.end(), id) != removed_.end();
  }
  void Run(const std::string& id, int64_t frames) {
    int64_t i = 0;
    for (; frames == 0 || i < frames; ++i) {
      if (Removed(id)) break;
      FramePtr frame = Frame::Create(id, i);
      frame->data.Set("token", LiveToken());
      if (!Transmit(std::move(frame))) return;  // the pipeline is aborting
      std::lock_guard<std::mutex> lock(mutex_);
      ++transmitted_;
      changed_.notify_all();
    }
    EndStream(id, i);
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> threads_;   // guarded by mutex_ (joined in Close)
  std::vector<std::string> removed_;   // guarded by mutex_
  int transmitted_ = 0;                // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
};

/// A source the test drives: Push() transmits a frame from the calling thread, End() ends a stream.
class ManualSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  bool Push(FramePtr frame) { return Transmit(std::move(frame)); }
  bool End(const std::string& stream_id, int64_t next_index) { return EndStream(stream_id, next_index); }

 protected:
  Status OnAddSource(const std::string&, const std::string&, const StreamOptions&) override { return Status::Ok(); }
  void OnRemoveSource(const std::string&) override {}
};

/// A frame of one colour (BGR), `width` x `height`.
inline FramePtr SolidFrame(const std::string& stream_id, int64_t index, uint8_t b, uint8_t g, uint8_t r,
                           int width = 64, int height = 48) {
  FramePtr frame = Frame::Create(stream_id, index);
  frame->image = VideoFrame::Allocate(width, height, PixelFormat::kBGR24);
  for (int y = 0; y < height; ++y) {
    uint8_t* row = frame->image.plane(0) + static_cast<size_t>(y) * frame->image.stride(0);
    for (int x = 0; x < width; ++x) {
      row[3 * x] = b;
      row[3 * x + 1] = g;
      row[3 * x + 2] = r;
    }
  }
  return frame;
}

/// Builds a JSON config: a SyntheticSource without images feeding `body` (which must name the
/// source's children in `first`).
inline std::string SyntheticConfig(int streams, int frames, const std::string& first, const std::string& body,
                                   int threads = 1) {
  return R"({ "source": { "class_name": "SyntheticSource", "next_modules": [)" + first +
         R"(], "custom_params": { "streams": )" + std::to_string(streams) + R"(, "frames": )" +
         std::to_string(frames) + R"(, "width": 0, "height": 0, "threads": )" + std::to_string(threads) + R"( } }, )" +
         body + "}";
}

}  // namespace vstream::test
