// Pipeline: builds the module graph from a config, runs it, and reports what happens.
//
// Each module gets `parallelism` worker threads with one bounded queue each; frames of one stream
// always go to the same worker, so every module sees a stream's frames in order while different
// streams run in parallel. A full queue blocks the producer (or drops, per queue_policy), so a slow
// module slows the sources and memory stays bounded. Fan-out hands a frame to every child (a module
// that writes pixels works on a copy of its own where another branch has the frame:
// Module::MakeWritable); a module with several parents gets each frame once, after all parents
// processed it.
//
//   vstream::Pipeline pipeline;
//   if (auto s = pipeline.BuildFromFile("configs/face_detection.json"); !s) die(s.message());
//   pipeline.SetObserver([](const vstream::Event& e) { log(e); });
//   pipeline.Start();
//   pipeline.AddSource("cam1", "rtsp://127.0.0.1:8554/cam1");
//   pipeline.WaitForStreams();            // until every stream reached EOS
//   pipeline.Stop();
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/config.hpp"
#include "vstream/events.hpp"
#include "vstream/module.hpp"
#include "vstream/stats.hpp"
#include "vstream/status.hpp"

namespace vstream {

namespace detail {
class PipelineImpl;
}  // namespace detail

enum class StopMode {
  kGraceful,  // end every stream (EOS flows through), let queued frames finish, then stop
  kAbort,     // drop queued frames and stop as soon as each module's current Process returns
};

class VSTREAM_EXPORT Pipeline {
 public:
  explicit Pipeline(std::string name = "pipeline");
  /// Stops (abort) if still running.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  /// Validates `config` and creates its modules (nothing runs yet). Fails with every problem found.
  Status Build(const GraphConfig& config);
  /// GraphConfig::FromFile, then the `overrides` ("module.key=value"), then Build.
  Status BuildFromFile(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
  Status BuildFromString(const std::string& json, const std::filesystem::path& base_dir = ".");

  /// Opens every module (downstream first) and starts the worker threads.
  Status Start();
  /// Stops and joins every thread, then closes the modules. Never hangs on a full queue: a graceful
  /// stop that has not drained after `drain_timeout` continues as an abort (and says so).
  Status Stop(StopMode mode = StopMode::kGraceful,
              std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));
  bool running() const;

  /// Receives the pipeline's events (set it before Start). See events.hpp. At most
  /// `max_queued_events` wait for the callback; while that many are waiting, new ones are counted
  /// instead and reported by one kEventsMissed event (stream EOS and errors only past twice that),
  /// so a slow observer never blocks frames or grows memory.
  void SetObserver(EventCallback callback, size_t max_queued_events = kDefaultMaxQueuedEvents);

  /// Adds a stream to a source module (the only one, or `source_module` by name). Running only.
  Status AddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options = {},
                   const std::string& source_module = {});
  /// Ends a stream early (its EOS still flows through).
  Status RemoveSource(const std::string& stream_id);
  /// Blocks until every stream that was added has finished (EOS through every module) and no source
  /// expects more streams (SourceModule::SetExpectingStreams), or the pipeline stops, or the timeout
  /// passes. Returns true when all finished and none is expected. The observer may receive the last kStreamEos
  /// events just after this returns; Stop() delivers every pending event before it returns.
  bool WaitForStreams(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());

  PipelineStats GetStats() const;

  Module* GetModule(const std::string& name) const;
  template <typename T>
  T* GetModule(const std::string& name) const {
    return dynamic_cast<T*>(GetModule(name));
  }
  const GraphConfig& config() const;
  const std::string& name() const;

 private:
  std::unique_ptr<detail::PipelineImpl> impl_;
};

}  // namespace vstream
