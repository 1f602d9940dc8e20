// Module: one stage of a pipeline. Subclass it, declare your parameters, and register it by name.
//
// The pipeline calls Open(params) once before frames flow (validate, acquire resources; return
// false through Fail("what to fix") on error), Process(frame) for every frame in stream order on
// one of `parallelism` worker threads, and Close() after the last frame. Process returns 0 when
// the pipeline should forward the frame, > 0 when the module will forward it later itself with
// Transmit() (batching, asynchronous work), and < 0 on error (the frame goes no further on this
// path and a frame-error event is posted). End-of-stream frames (IsEos()) pass through Process
// like any other frame, in order, so a module can flush what it keeps per stream; an asynchronous
// module must Transmit a stream's EOS frame after that stream's other frames.
//
//   class Counter : public vstream::Module {
//    public:
//     using Module::Module;
//     static vstream::ModuleDescription Describe() { return {"Counts frames", {}}; }
//     bool Open(const vstream::ModuleParams&) override { return true; }
//     void Close() override {}
//     int Process(vstream::FramePtr frame) override { ++count; return 0; }
//     std::atomic<int> count{0};
//   };
//   VSTREAM_REGISTER_MODULE(Counter);   // usable as "class_name": "Counter" in a config
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vstream/frame.hpp"
#include "vstream/params.hpp"
#include "vstream/status.hpp"

namespace vstream {

namespace detail {
class ModuleNode;
}  // namespace detail

class Pipeline;
class SourceModule;

/// What `vstream inspect` shows for a module class, and what its custom_params are checked against.
struct ModuleDescription {
  std::string summary;             // one sentence
  std::vector<ParamSpec> params;
  std::string details;             // optional Markdown: inputs, events, examples (the reference page's body)
};

class Module {
 public:
  explicit Module(std::string name);
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual bool Open(const ModuleParams& params) = 0;
  /// Also called when Open failed, to release what it acquired before failing.
  virtual void Close() = 0;
  virtual int Process(FramePtr frame) = 0;

  /// The module's name in the config (not its class name).
  const std::string& name() const { return name_; }

  /// An asynchronous module that forwards frames from its own thread returns true: frames that
  /// match its `skip_if` then still go through Process (with Skipping() true), so the module can
  /// pass them on in order with the others instead of them overtaking frames it still holds.
  virtual bool ReceivesSkippedFrames() const { return false; }

  /// Called when the pipeline aborts (Stop(kAbort), a graceful stop that timed out, or the
  /// destructor), from the stopping thread, sources first, once Transmit refuses new frames but
  /// before queued frames are dropped and threads joined.
  /// A module that can block inside Process on something outside the pipeline (another process,
  /// a device) wakes that wait here and makes Process return soon; frames released after this
  /// were dropped by the abort, not finished. Default: nothing.
  virtual void Interrupt() {}
  /// Inside Process: true when this frame matched the module's skip_if (see ReceivesSkippedFrames);
  /// do no work on it, only forward it in order.
  static bool Skipping();

  /// The message recorded by the last Fail() on the calling thread (empty when none).
  static const std::string& LastError();
  static void ClearLastError();

 protected:
  /// Hands `frame` to the modules after this one. For sources and asynchronous modules.
  /// Blocks while a downstream queue is full (backpressure). Returns false when the pipeline is
  /// stopping (the frame was not delivered) or the module is not part of a running pipeline.
  bool Transmit(FramePtr frame);
  /// Records why Open or Process failed, for the error message or event. Returns false, so
  /// `return Fail("model_path: file not found: x.onnx");` reads naturally in Open().
  bool Fail(std::string message);
  /// True once the pipeline running this module has begun to stop (and when it runs in none).
  bool PipelineStopping() const;
  /// Posts a stream-error event for `stream_id` (the stream goes on; see SourceModule::EndStream).
  void ReportStreamError(const std::string& stream_id, const std::string& message);
  /// Posts a module-error event (the pipeline goes on).
  void ReportModuleError(const std::string& message);
  /// For asynchronous modules: `frame` failed after Process returned > 0 and will not be
  /// transmitted. Counted and reported like a Process that returned < 0.
  void ReportFrameError(const FramePtr& frame, const std::string& message);
  /// Worker threads this module runs on (its config's parallelism; 0 for sources, and before Build).
  int parallelism() const { return parallelism_; }
  /// Index (0 .. parallelism-1) of the pipeline worker thread that calls this, -1 on other threads.
  /// A worker always gets the same streams, so per-worker state needs no lock.
  static int CurrentWorker();

  /// Per-stream state for a module that runs on several workers, without locks: one map per
  /// worker, and each worker only ever touches its own streams. Reset(parallelism()) in Open;
  /// operator[], Find and Erase from Process; ForEach and Clear once the workers are done (Close).
  ///   PerStreamState<Tracks> tracks_;                 // a member
  ///   Tracks& t = tracks_[frame->stream_id];          // in Process
  ///   if (frame->IsEos()) tracks_.Erase(frame->stream_id);
  template <typename T>
  class PerStreamState {
   public:
    void Reset(int workers) {
      maps_.clear();
      maps_.resize(static_cast<size_t>(workers > 1 ? workers : 1));  // (resize: T may be move-only)
    }
    T& operator[](const std::string& stream_id) { return Mine()[stream_id]; }
    T* Find(const std::string& stream_id) {
      auto& mine = Mine();
      auto it = mine.find(stream_id);
      return it == mine.end() ? nullptr : &it->second;
    }
    void Erase(const std::string& stream_id) { Mine().erase(stream_id); }
    template <typename F>
    void ForEach(F&& visit) {
      for (auto& map : maps_) {
        for (auto& [stream_id, state] : map) visit(stream_id, state);
      }
    }
    void Clear() { maps_.clear(); }

   private:
    std::map<std::string, T>& Mine() {
      const int worker = CurrentWorker();
      return maps_[static_cast<size_t>(worker > 0 ? worker : 0) % maps_.size()];
    }
    std::vector<std::map<std::string, T>> maps_;  // one per worker
  };

 private:
  friend class detail::ModuleNode;
  friend class SourceModule;
  friend class Pipeline;
  std::string name_;
  detail::ModuleNode* node_ = nullptr;  // set by the pipeline while the module belongs to one
  int parallelism_ = 0;                 // set by the pipeline at Build
};

using StreamOptions = std::map<std::string, std::string>;

/// A module that produces frames: video files, cameras, shared memory from another process.
/// Streams come and go while the pipeline runs. A source runs its own threads and calls Transmit.
/// Each stream must end with exactly one EndStream() call, which sends its EOS frame.
class SourceModule : public Module {
 public:
  using Module::Module;

  /// Starts reading `uri` as stream `stream_id`. Fails when the id is already in use, or when the
  /// source rejects the uri or options (OnAddSource's status).
  Status AddSource(const std::string& stream_id, const std::string& uri,
                   const StreamOptions& options = {});
  /// Ends a stream early; its EOS still flows through the pipeline.
  Status RemoveSource(const std::string& stream_id);
  /// Ends every stream (as RemoveSource does for each one).
  void RemoveAllSources();
  std::vector<std::string> ActiveStreams() const;
  bool HasStream(const std::string& stream_id) const;
  /// True while the source says more streams will come (see SetExpectingStreams).
  bool ExpectingStreams() const { return expecting_streams_.load(std::memory_order_acquire); }

  /// A source has no inputs, so the pipeline never calls Process on it. A class that is a source
  /// only in some configurations (see ModuleRegistry's IsSource) overrides it for the others.
  int Process(FramePtr frame) override;

 protected:
  virtual Status OnAddSource(const std::string& stream_id, const std::string& uri,
                             const StreamOptions& options) = 0;
  /// Asks the stream to end soon; the source then calls EndStream for it (from any thread).
  virtual void OnRemoveSource(const std::string& stream_id) = 0;

  /// Ends `stream_id`: posts a stream-error event when `error` is not empty, transmits the
  /// stream's EOS frame (with index `next_index`), and frees the id for reuse. Call it once per
  /// stream. Returns false when the stream was not active.
  bool EndStream(const std::string& stream_id, int64_t next_index, const std::string& error = {});
  /// As above, with an EOS frame the source made itself (Frame::CreateEos, perhaps with an
  /// OnDestroy hook, so the source learns when the EOS has left the pipeline). `delivered`, when
  /// given, says whether the pipeline took the EOS (false while it aborts).
  bool EndStream(FramePtr eos, const std::string& error = {}, bool* delivered = nullptr);

  /// A source that will start streams on its own later (an IPC server waiting for its clients)
  /// sets this, so Pipeline::WaitForStreams does not return while it waits for them; it clears it
  /// when no more will come. A graceful Stop ends the wait as well.
  void SetExpectingStreams(bool expecting);

 private:
  std::atomic<bool> expecting_streams_{false};
  mutable std::mutex streams_mutex_;
  std::set<std::string> streams_;  // active stream ids; guarded by streams_mutex_
};

}  // namespace vstream
