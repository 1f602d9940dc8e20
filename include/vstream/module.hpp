// Module: one stage of a pipeline. Subclass it, declare your parameters, and register it by name.
//
// The pipeline calls Open(params) once before frames flow (validate, acquire resources; an error
// Status says what to fix), Process(frame) for every frame in stream order on one of `parallelism`
// worker threads, and Close() after the last frame. When Process returns OK the pipeline forwards
// the frame to the next modules; an error Status is a frame error (the frame goes no further on
// this path and a frame-error event carries the message). A module that forwards frames itself,
// later and from its own thread (batching, asynchronous work), says so with forwarding() and
// calls Transmit for every frame. End-of-stream frames (IsEos()) pass through Process like any
// other frame, in order, so a module can flush what it keeps per stream. Fan-out hands the same
// frame to every branch: a module that writes pixels (or replaces the image) calls
// MakeWritable(frame) first, which gives it a copy of its own where another branch has the frame;
// modules that only read need nothing.
//
// Everything a module may ask of the pipeline goes through its ModuleContext, which the pipeline
// (or a ModuleRunner, in a test) binds before Open: Transmit, events, whether it is stopping, and
// its parallelism. Nothing reaches a module through thread-local state.
//
//   class Counter : public vstream::Module {
//    public:
//     using Module::Module;
//     static vstream::ModuleDescription Describe() { return {"Counts frames", {}}; }
//     vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
//     void Close() override {}
//     vstream::Status Process(vstream::FramePtr frame) override { ++count; return {}; }
//     std::atomic<int> count{0};
//   };
//   VSTREAM_REGISTER_MODULE(Counter);   // usable as "class_name": "Counter" in a config
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/frame.hpp"
#include "vstream/params.hpp"
#include "vstream/status.hpp"

namespace vstream {

class SourceModule;

/// What `vstream inspect` shows for a module class, and what its custom_params are checked against.
///
/// A class whose parameters are not all known in advance (PyModule hands them to a Python class)
/// says so with `other_params`: a sentence on what it does with keys it does not declare. Config
/// validation then keeps such keys as the config gave them, unchecked, for ModuleParams::others()
/// (a scalar as text, an array of scalars as a list, anything else as its JSON text); the declared
/// ones are checked as for any class. Left empty (the default), an undeclared key is a config error
/// with a did-you-mean, which catches typos: set it only for classes that cannot know their keys.
///   return {"Runs a script", {ParamSpec::Path("script", "", "the script").Required()}, "",
///           "every other key is passed to the script as --key=value"};
struct VSTREAM_EXPORT ModuleDescription {
  std::string summary;             // one sentence
  std::vector<ParamSpec> params;
  std::string details;             // optional Markdown: inputs, events, examples (the reference page's body)
  std::string other_params;        // non-empty: undeclared custom_params are accepted; what becomes of them
};

/// The worker (0 .. parallelism-1) that handles `stream_id` in a module with `parallelism`
/// workers: the pipeline routes every frame of a stream to this worker, so per-stream state kept
/// per worker needs no lock. 0 when parallelism < 2.
VSTREAM_EXPORT size_t WorkerForStream(std::string_view stream_id, int parallelism);

/// What the pipeline offers one module: implemented by the pipeline for each module it runs, and
/// by vstream::ModuleRunner for a module tested alone. Modules use it through Module's protected
/// helpers (Transmit, Report*, PipelineStopping, parallelism), never directly.
class VSTREAM_EXPORT ModuleContext {
 public:
  virtual ~ModuleContext() = default;

  /// Worker threads the module runs on (its config's parallelism; 0 for a source).
  virtual int parallelism() const = 0;
  /// Hands `frame` to the modules after this one; blocks while a downstream queue is full. False
  /// when the frame was not taken (the pipeline is stopping or aborting).
  virtual bool Transmit(FramePtr frame) = 0;
  /// True once the pipeline has begun to stop.
  virtual bool Stopping() const = 0;
  /// Events (see events.hpp): a stream failed (it goes on until its source ends it), a frame failed
  /// after Process had returned (counted like a failed Process), a problem not tied to one frame.
  virtual void ReportStreamError(const std::string& stream_id, const std::string& message) = 0;
  virtual void ReportFrameError(const Frame& frame, const std::string& message) = 0;
  virtual void ReportModuleError(const std::string& message) = 0;

  /// For sources: `stream_id` starts (kInvalidArgument when the pipeline already runs a stream of
  /// that id, kFailedState when it takes no streams), or did not start after all (undo), and the
  /// source's ExpectingStreams() changed.
  virtual Status StartStream(const std::string& stream_id) = 0;
  virtual void CancelStream(const std::string& stream_id) = 0;
  virtual void ExpectingStreamsChanged() = 0;

  /// For modules that forward frames themselves: the time the module's work on one frame took
  /// (the module's latency in stats, instead of the time inside Process). Default: ignored.
  virtual void RecordProcessingTime(std::chrono::nanoseconds /*time*/) {}

  /// For Module::MakeWritable. True when another branch of the graph may hold `frame` (the same
  /// object) while this module has it: a fan-out above the module whose branches have not all
  /// joined again before it.
  virtual bool FrameShared(const Frame& frame) const = 0;
  /// For Module::MakeWritable, with a branch copy of `original` that is not handed on yet: the copy
  /// takes the original's place on this module's path. For a module that the pipeline forwards
  /// (kByPipeline) it forwards `copy` instead of `original` once Process returns OK; call it from
  /// Process. An error, and nothing replaced, when the copy cannot travel on from this module (a
  /// join below it also waits for the original from another branch); the message says what to do.
  virtual Status ReplaceFrame(const FramePtr& original, FramePtr copy) = 0;
};

class VSTREAM_EXPORT Module {
 public:
  /// How frames leave Process.
  enum class Forwarding {
    kByPipeline,  // the pipeline forwards each frame whose Process returned OK
    kByModule,    // the module Transmits every frame itself, in stream order, EOS included;
                  // frames matching its skip_if reach ProcessSkipped, so they keep their place;
                  // a frame it returns an error for is not taken (the pipeline reports it)
  };

  explicit Module(std::string name);
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Validates the parameters and acquires resources. An error names what to fix.
  virtual Status Open(const ModuleParams& params) = 0;
  /// Also called when Open failed, to release what it acquired before failing.
  virtual void Close() = 0;
  /// Handles one frame. OK: forwarded (by the pipeline, or by the module when forwarding() is
  /// kByModule). An error: the frame goes no further on this path; a frame-error event says why
  /// (an end-of-stream frame is forwarded anyway, with a module-error event).
  virtual Status Process(FramePtr frame) = 0;
  virtual Forwarding forwarding() const { return Forwarding::kByPipeline; }
  /// kByModule only: a frame that matched the module's skip_if. Do no work on it; pass it on in
  /// order with the others. Default: Transmit it at once.
  virtual Status ProcessSkipped(FramePtr frame);

  /// What a module is about to do with the image of a frame it makes writable (MakeWritable).
  enum class ImageAccess {
    kWritePixels,   // write into frame->image's pixels (draw on them, blur them in place)
    kReplaceImage,  // only read the pixels, then assign a new frame->image (a converted copy)
  };

  /// Called when the pipeline aborts (Stop(kAbort), a graceful stop that timed out, or the
  /// destructor), from the stopping thread, sources first, once Transmit refuses new frames but
  /// before queued frames are dropped and threads joined.
  /// A module that can block inside Process on something outside the pipeline (another process,
  /// a device) wakes that wait here and makes Process return soon; frames released after this
  /// were dropped by the abort, not finished. Default: nothing.
  virtual void Interrupt() {}

  /// The module's name in the config (not its class name).
  const std::string& name() const { return name_; }

  /// Connects the module to what runs it: called by the pipeline (or a ModuleRunner) before Open,
  /// and with nullptr once the module is closed. Not for modules themselves.
  void Bind(ModuleContext* context) { context_ = context; }

 protected:
  /// A Status that carries `message`: `return Fail("model_path: file not found: x.onnx");`.
  static Status Fail(std::string message, StatusCode code = StatusCode::kRuntimeError) {
    return {code, std::move(message)};
  }
  /// Makes `frame` this module's to change: call it before writing pixels or replacing the image.
  /// Once it returns OK, frame->image (the member and its pixels), objects and data are seen by no
  /// other branch until the module hands the frame on. Modules that only read need nothing.
  ///  - When another branch of the graph may hold the same frame (a fan-out above this module,
  ///    ModuleContext::FrameShared), `frame` becomes a branch copy: a new Frame with the same stream,
  ///    index, pts, time base, flags and creation time, copies of the objects and user data, and an
  ///    image of its own (a deep copy for kWritePixels; for kReplaceImage it shares the pixels, which
  ///    the module only reads). The pipeline forwards the copy (a kByModule module Transmits it);
  ///    the other branches keep the original, unchanged. The copy keeps the original alive until it
  ///    is gone itself, so a source's OnDestroy hooks still run when every branch is done.
  ///  - Otherwise, for kWritePixels, when the pixels are not the frame's alone (another image holds
  ///    the same Buffer) or may not be written (Buffer::writable() is false), they are copied into
  ///    a new buffer that becomes frame->image's.
  ///  - Otherwise nothing is copied: on a straight chain the module works in place.
  /// End-of-stream frames and frames without an image: nothing to do, OK.
  /// An error (kFailedState) when a copy cannot travel on from here: a join below this module
  /// waits for the original frame from another branch too (the message names it; move the module
  /// below the join). Call it from Process, on the frame being processed (a kByModule module:
  /// before it Transmits the frame), and not while holding that frame's LockObjects (the copy
  /// takes it). User data is copied value by value: a pointer held in it is shared still.
  ///   if (Status s = MakeWritable(frame); !s) return s;
  ///   cv::Mat canvas = ToMat(frame->image);   // draw on it: no other branch sees it
  Status MakeWritable(FramePtr& frame, ImageAccess access = ImageAccess::kWritePixels);
  /// Hands `frame` to the modules after this one. For sources and kByModule modules.
  /// Blocks while a downstream queue is full (backpressure). Returns false when the pipeline is
  /// stopping (the frame was not delivered) or the module is not bound to a pipeline.
  bool Transmit(FramePtr frame);
  /// True once the pipeline running this module has begun to stop (and when it runs in none).
  bool PipelineStopping() const;
  /// Posts a stream-error event for `stream_id` (the stream goes on; see SourceModule::EndStream).
  void ReportStreamError(const std::string& stream_id, const std::string& message);
  /// Posts a module-error event (the pipeline goes on).
  void ReportModuleError(const std::string& message);
  /// For kByModule modules: `frame` failed after Process returned and will not be transmitted.
  /// Counted and reported like a Process that returned an error.
  void ReportFrameError(const FramePtr& frame, const std::string& message);
  /// For kByModule modules, whose Process only hands the frame to their own threads: the time
  /// the work on one frame took, measured where it happens (an Inferencer records each inferred
  /// frame's batch time). Once a module records any, its latency in stats is these times; until
  /// then (and always for kByPipeline modules) it is the time inside Process.
  void RecordProcessingTime(std::chrono::nanoseconds time) {
    if (context_ != nullptr) context_->RecordProcessingTime(time);
  }
  /// Worker threads this module runs on (its config's parallelism; 0 for sources, and unbound).
  int parallelism() const { return context_ != nullptr ? context_->parallelism() : 0; }
  /// The worker that handles `stream_id` in this module (see WorkerForStream).
  size_t WorkerFor(std::string_view stream_id) const { return WorkerForStream(stream_id, parallelism()); }
  ModuleContext* context() const { return context_; }

  /// Per-stream state for a module that runs on several workers, without locks: one map per
  /// worker, and each worker only ever touches its own streams (the worker a stream is routed to,
  /// WorkerForStream). Reset(parallelism()) in Open; operator[], Find and Erase from Process;
  /// ForEach and Clear once the workers are done (Close).
  ///   PerStreamState<Tracks> tracks_;                 // a member
  ///   Tracks& t = tracks_[frame->stream_id];          // in Process
  ///   if (frame->IsEos()) tracks_.Erase(frame->stream_id);
  template <typename T>
  class PerStreamState {
   public:
    void Reset(int workers) {
      workers_ = workers > 1 ? workers : 1;
      maps_.clear();
      maps_.resize(static_cast<size_t>(workers_));  // (resize: T may be move-only)
    }
    T& operator[](const std::string& stream_id) { return MapOf(stream_id)[stream_id]; }
    T* Find(const std::string& stream_id) {
      auto& map = MapOf(stream_id);
      auto it = map.find(stream_id);
      return it == map.end() ? nullptr : &it->second;
    }
    void Erase(const std::string& stream_id) { MapOf(stream_id).erase(stream_id); }
    template <typename F>
    void ForEach(F&& visit) {
      for (auto& map : maps_) {
        for (auto& [stream_id, state] : map) visit(stream_id, state);
      }
    }
    void Clear() { Reset(workers_); }

   private:
    std::map<std::string, T>& MapOf(const std::string& stream_id) {
      return maps_[WorkerForStream(stream_id, workers_)];
    }
    int workers_ = 1;
    std::vector<std::map<std::string, T>> maps_ = std::vector<std::map<std::string, T>>(1);  // one per worker
  };

 private:
  std::string name_;
  ModuleContext* context_ = nullptr;
};

using StreamOptions = std::map<std::string, std::string>;

/// A module that produces frames: video files, cameras, shared memory from another process.
/// Streams come and go while the pipeline runs. A source runs its own threads and calls Transmit.
/// Each stream must end with exactly one EndStream() call, which sends its EOS frame.
class VSTREAM_EXPORT SourceModule : public Module {
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

  /// A source has no inputs, so the pipeline never calls Process on it.
  Status Process(FramePtr frame) override;

 protected:
  virtual Status OnAddSource(const std::string& stream_id, const std::string& uri,
                             const StreamOptions& options) = 0;
  /// Asks the stream to end soon; the source then calls EndStream for it (from any thread).
  virtual void OnRemoveSource(const std::string& stream_id) = 0;

  /// Starts `stream_id` on the source's own initiative (a stream that arrived from elsewhere, not
  /// through AddSource): registers the id as AddSource does, without calling OnAddSource.
  Status StartStream(const std::string& stream_id);

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
  Status Register(const std::string& stream_id);
  void Forget(const std::string& stream_id);

  std::atomic<bool> expecting_streams_{false};
  mutable std::mutex streams_mutex_;
  std::set<std::string> streams_;  // active stream ids; guarded by streams_mutex_
};

}  // namespace vstream
