// ModuleRunner: one module run alone, without a pipeline, the way a pipeline would run it: for
// testing a module (yours or ours) with frames you make and checking what comes out.
//
// The runner creates the module from the registry (or takes one you made), checks its parameters
// against its Describe() as a config would, binds it to a context of its own and opens it. Push
// calls Process on the calling thread and collects what the module forwards, in order: the frames
// whose Process returned OK, or, for a module that forwards frames itself (forwarding() is
// kByModule) and for sources, every frame it Transmits, from whatever thread. Events the module
// reports (and frame errors of a failed Process) are collected too. Close (or the destructor)
// closes the module.
//
//   vstream::ModuleRunner runner("Tracker", {{"max_age", "5"}});
//   ASSERT_TRUE(runner.Open());
//   ASSERT_TRUE(runner.Push(frame0));          // a Frame::Create("cam", 0) with objects
//   ASSERT_TRUE(runner.PushEos("cam"));
//   ASSERT_TRUE(runner.WaitForEos("cam"));
//   auto out = runner.Output("cam");           // the frames it forwarded, EOS last
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/events.hpp"
#include "vstream/frame.hpp"
#include "vstream/module.hpp"
#include "vstream/params.hpp"
#include "vstream/skip_condition.hpp"
#include "vstream/status.hpp"

namespace vstream {

struct VSTREAM_EXPORT ModuleRunnerOptions {
  std::string name = "module";  // the module's name (as in a config)
  int parallelism = 1;          // what parallelism() and WorkerFor() say; Process still runs on the caller's thread
  std::string skip_if;          // as a config's skip_if
  std::filesystem::path base_dir = ".";  // where relative path parameters start
  /// As if a fan-out also handed every pushed frame to another branch: Module::MakeWritable then
  /// gives the module a branch copy, which is what the runner collects, and the frame you pushed
  /// stays as it was (what the other branch would see). False: the module has each frame alone.
  bool frames_shared = false;
};

class VSTREAM_EXPORT ModuleRunner {
 public:
  /// A module of `class_name` (any spelling a config accepts) with these custom_params: texts
  /// (`{{"max_age", "5"}}`), or ParamValue::List({...}) for a list whose items contain commas.
  explicit ModuleRunner(std::string class_name, ParamValues custom_params = {},
                        ModuleRunnerOptions options = {});
  /// A module you made; `description` is what its parameters are checked against (default: none).
  ModuleRunner(std::unique_ptr<Module> module, ParamValues custom_params = {},
               ModuleDescription description = {}, ModuleRunnerOptions options = {});
  /// Closes the module when it is open.
  ~ModuleRunner();
  ModuleRunner(const ModuleRunner&) = delete;
  ModuleRunner& operator=(const ModuleRunner&) = delete;

  /// Checks the parameters and opens the module. An error says what a config would have been told.
  Status Open();
  /// Closes the module (a source ends its streams first, as a pipeline's graceful stop does).
  void Close();

  /// Runs `frame` through the module (Process, or ProcessSkipped when it matches skip_if). The
  /// module's error Status, if any, is returned and recorded as a frame-error event.
  Status Push(FramePtr frame);
  /// Pushes frame `index` of `stream_id`, a frame without an image (fill in what you need first
  /// with the returned pointer, or build your own frame and use Push).
  Status Push(const std::string& stream_id, int64_t index);
  /// Pushes the end of `stream_id` (an EOS frame with the next index after the last one pushed).
  Status PushEos(const std::string& stream_id);

  /// For sources: starts a stream as Pipeline::AddSource would.
  Status AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options = {});

  /// Waits until at least `count` frames (EOS included) came out since the start or the last
  /// ClearOutput, or the timeout. True when they did.
  bool WaitForOutput(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Waits until the EOS of `stream_id` came out (needed for modules that forward frames later).
  bool WaitForEos(const std::string& stream_id, std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// What the module forwarded so far, in order: all streams, or one.
  std::vector<FramePtr> Output() const;
  std::vector<FramePtr> Output(const std::string& stream_id) const;
  /// Forgets the output collected so far (a long test's memory stays flat); WaitForEos still knows
  /// the streams whose EOS came out before.
  void ClearOutput();
  /// The events so far, in the order they happened.
  std::vector<Event> Events() const;

  Module& module() { return *module_; }
  template <typename T>
  T* module_as() {
    return dynamic_cast<T*>(module_.get());
  }

 private:
  class Context;
  void Record(EventType type, const std::string& stream_id, const std::string& message, int64_t frame_index = -1);

  std::unique_ptr<Module> module_;
  ParamValues custom_params_;
  ModuleDescription description_;
  ModuleRunnerOptions options_;
  Status construction_;  // an unknown class name, reported by Open
  SkipPredicate skip_;
  std::unique_ptr<Context> context_;
  bool open_ = false;
  std::map<std::string, int64_t> next_index_;  // per stream pushed; caller's thread only

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<FramePtr> output_;           // guarded by mutex_
  std::set<std::string> ended_;            // streams whose EOS came out; guarded by mutex_
  std::vector<Event> events_;              // guarded by mutex_
};

}  // namespace vstream
