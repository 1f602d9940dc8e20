// vstream.Pipeline and vstream.Event.
//
// Every call that waits or works in C++ runs without the GIL, so PyModule stages and the observer
// (which take it) keep running meanwhile. The observer runs on the pipeline's event thread and
// takes the GIL for each event; an exception it raises is printed as unraisable and the next
// events still arrive. A Pipeline dropped from Python stops (abort) without the GIL; pipelines
// still running when the interpreter exits are stopped by an atexit hook first, while Python code
// can still run.
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "py_module.hpp"
#include "vstream/config.hpp"
#include "vstream/pipeline.hpp"
#include "vstream/stats.hpp"

namespace vstream::python {
namespace {

// A Python object referenced from C++ threads: dropped with the GIL, or leaked when the
// interpreter is gone.
class PyObjectRef {
 public:
  explicit PyObjectRef(py::object object) : object_(std::move(object)) {}
  PyObjectRef(const PyObjectRef&) = delete;
  PyObjectRef& operator=(const PyObjectRef&) = delete;
  ~PyObjectRef() {
    if (!PythonAlive()) {
      object_.release();
      return;
    }
    PythonCall gil;
    object_ = py::object();
  }
  const py::object& get() const { return object_; }

 private:
  py::object object_;
};

// An Event as Python sees it: the C++ fields, the type as its name, the time in seconds since the
// epoch.
struct PyEvent {
  std::string type;
  std::string module;
  std::string stream_id;
  int64_t frame_index;
  uint64_t count;
  std::string message;
  double time;
};

PyEvent ToPyEvent(const Event& e) {
  const double seconds = std::chrono::duration<double>(e.time.time_since_epoch()).count();
  return {std::string(EventTypeName(e.type)), e.module, e.stream_id, e.frame_index, e.count, e.message, seconds};
}

// Every pipeline Python has made and not yet dropped, for the atexit hook. Weak references: the
// hook takes a strong one before it lets go of the lock and the GIL, so a Python thread that drops
// the last Python reference meanwhile cannot destroy the pipeline under it (the hook's reference
// then destroys it, without the GIL).
std::mutex live_mutex;
std::map<const void*, std::weak_ptr<Pipeline>> live_pipelines;  // guarded by live_mutex

// A timeout in seconds from Python -> milliseconds; nullopt for "no limit" (None, inf or a value
// beyond what a duration holds). NaN and negative values are errors naming `what`.
std::optional<std::chrono::milliseconds> ToMilliseconds(std::optional<double> seconds, const char* what) {
  if (!seconds) return std::nullopt;
  if (std::isnan(*seconds) || *seconds < 0) {
    throw StatusError(Status(StatusCode::kInvalidArgument,
                             std::string(what) + " must be a number of seconds >= 0 (or None), not " +
                                 py::repr(py::float_(*seconds)).cast<std::string>()));
  }
  // Beyond ~30 years: no limit. Deadlines become steady_clock time points, int64 nanoseconds,
  // which end after ~292 years from the clock's epoch, so a larger value would overflow there.
  constexpr double kLongest = 1e9;
  if (*seconds > kLongest) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(*seconds * 1000));
}

class PyPipeline {
 public:
  explicit PyPipeline(const std::string& name) : pipeline_(std::make_shared<Pipeline>(name)) {
    std::lock_guard<std::mutex> lock(live_mutex);
    live_pipelines.emplace(this, pipeline_);
  }
  PyPipeline(const PyPipeline&) = delete;
  PyPipeline& operator=(const PyPipeline&) = delete;
  ~PyPipeline() {
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      live_pipelines.erase(this);
    }
    py::gil_scoped_release release;  // its PyModule workers and observer may be waiting for the GIL
    pipeline_.reset();               // destroys it, unless the atexit hook is stopping it right now
  }

  void BuildFromFile(const std::string& path, const std::vector<std::string>& overrides) {
    GraphConfig config;
    ThrowIfError(GraphConfig::FromFile(path, &config));
    Build(config, overrides);
  }
  void BuildFromString(const std::string& json, const std::vector<std::string>& overrides, const std::string& base_dir) {
    GraphConfig config;
    ThrowIfError(GraphConfig::FromString(json, base_dir, &config));
    Build(config, overrides);
  }
  void Start() {
    py::gil_scoped_release release;
    ThrowIfError(pipeline_->Start());
  }
  void Stop(const std::string& mode, std::optional<double> drain_timeout_s) {
    StopMode stop_mode;
    if (mode == "graceful") {
      stop_mode = StopMode::kGraceful;
    } else if (mode == "abort") {
      stop_mode = StopMode::kAbort;
    } else {
      throw StatusError(Status(StatusCode::kInvalidArgument, "stop: mode must be 'graceful' or 'abort', not '" + mode + "'"));
    }
    // No limit: milliseconds::max(), which Pipeline::Stop takes as "wait for the drain however long".
    const auto timeout = ToMilliseconds(drain_timeout_s, "stop: drain_timeout").value_or(std::chrono::milliseconds::max());
    py::gil_scoped_release release;
    ThrowIfError(pipeline_->Stop(stop_mode, timeout));
  }
  /// WaitForStreams in slices, so that Ctrl-C (KeyboardInterrupt) reaches a program waiting here:
  /// Python runs signal handlers only when the main thread comes back to it.
  bool Wait(std::optional<double> timeout_s) {
    using Clock = std::chrono::steady_clock;
    constexpr auto kSlice = std::chrono::milliseconds(200);
    const auto limit = ToMilliseconds(timeout_s, "wait: timeout");
    const auto deadline = limit ? Clock::now() + *limit : Clock::time_point::max();
    while (true) {
      const auto left = deadline - Clock::now();
      const auto slice = left < kSlice ? std::chrono::duration_cast<std::chrono::milliseconds>(left) : kSlice;
      bool finished = false;
      bool running = false;
      {
        py::gil_scoped_release release;
        finished = pipeline_->WaitForStreams(std::max(slice, std::chrono::milliseconds(0)));
        running = pipeline_->running();
      }
      if (finished) return true;
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!running || Clock::now() >= deadline) return false;
    }
  }
  bool running() const { return pipeline_->running(); }

  void SetObserver(py::object callback, size_t max_queued_events) {
    if (callback.is_none()) {
      pipeline_->SetObserver(nullptr, max_queued_events);
      return;
    }
    auto ref = std::make_shared<PyObjectRef>(std::move(callback));
    pipeline_->SetObserver(
        [ref](const Event& event) {
          if (!PythonAlive()) return;
          PythonCall gil;
          try {
            ref->get()(ToPyEvent(event));
          } catch (py::error_already_set& error) {
            error.discard_as_unraisable("vstream: the pipeline observer");
          }
        },
        max_queued_events);
  }

  void AddSource(const std::string& stream_id, const std::string& uri, std::optional<StreamOptions> options,
                 const std::string& source_module) {
    const StreamOptions stream_options = options.value_or(StreamOptions{});
    py::gil_scoped_release release;
    ThrowIfError(pipeline_->AddSource(stream_id, uri, stream_options, source_module));
  }
  void RemoveSource(const std::string& stream_id) {
    py::gil_scoped_release release;
    ThrowIfError(pipeline_->RemoveSource(stream_id));
  }

  py::object Stats() const {
    std::string json;
    {
      py::gil_scoped_release release;
      json = pipeline_->GetStats().ToJson();
    }
    return py::module_::import("json").attr("loads")(json);
  }

  /// The stats as the tool's table (PipelineStats::ToTable). since_last: its fps columns are the
  /// rates since the previous since_last call (the whole run's on the first one).
  std::string StatsTable(bool since_last) {
    py::gil_scoped_release release;
    PipelineStats now = pipeline_->GetStats();
    std::lock_guard<std::mutex> lock(table_mutex_);
    std::string table = now.ToTable(since_last && previous_table_ ? &*previous_table_ : nullptr);
    if (since_last) previous_table_ = std::move(now);
    return table;
  }

  py::dict ModuleInfo(const std::string& name) const {
    Module* module = pipeline_->GetModule(name);
    const ModuleConfig* config = pipeline_->config().Find(name);
    if (module == nullptr || config == nullptr) {
      throw StatusError(Status(StatusCode::kNotFound, "pipeline '" + pipeline_->name() + "' has no module '" + name + "'"));
    }
    py::dict info;
    info["name"] = config->name;
    info["class_name"] = config->class_name;
    info["parallelism"] = config->parallelism;
    info["next_modules"] = config->next_modules;
    info["params"] = config->params.Texts();
    // A PyModule's Python object, so a program can read what its stage collected.
    auto* py_module = dynamic_cast<PyModule*>(module);
    info["instance"] = py_module != nullptr ? py_module->instance() : py::object(py::none());
    return info;
  }
  std::vector<std::string> ModuleNames() const {
    std::vector<std::string> names;
    for (const auto& module : pipeline_->config().modules) names.push_back(module.name);
    return names;
  }
  const std::string& name() const { return pipeline_->name(); }
  Pipeline& pipeline() { return *pipeline_; }

  /// Stops every pipeline Python still holds: at interpreter exit, before Python code stops running.
  static void StopAll() {
    std::vector<std::shared_ptr<Pipeline>> pipelines;
    {
      std::lock_guard<std::mutex> lock(live_mutex);
      for (const auto& [owner, pipeline] : live_pipelines) {
        if (auto strong = pipeline.lock()) pipelines.push_back(std::move(strong));
      }
    }
    py::gil_scoped_release release;
    for (const auto& pipeline : pipelines) (void)pipeline->Stop(StopMode::kAbort, std::chrono::milliseconds(0));
    pipelines.clear();  // the last reference of a pipeline Python dropped meanwhile: destroyed here, without the GIL
  }

 private:
  void Build(GraphConfig& config, const std::vector<std::string>& overrides) {
    for (const auto& assignment : overrides) ThrowIfError(config.Set(assignment));
    py::gil_scoped_release release;
    ThrowIfError(pipeline_->Build(config));
  }

  std::shared_ptr<Pipeline> pipeline_;  // shared only with StopAll while it runs
  std::mutex table_mutex_;
  std::optional<PipelineStats> previous_table_;  // guarded by table_mutex_: the last since_last snapshot
};

}  // namespace

Pipeline& PipelineOf(const py::handle& self) { return self.cast<PyPipeline&>().pipeline(); }

void BindPipeline(py::module_& m) {
  py::class_<PyEvent>(m, "Event", "What a running pipeline reports to its observer (see Pipeline.set_observer).")
      .def_readonly("type", &PyEvent::type,
                    "stream_eos, stream_error, frame_error, module_error, frames_dropped or events_missed")
      .def_readonly("module", &PyEvent::module)
      .def_readonly("stream_id", &PyEvent::stream_id)
      .def_readonly("frame_index", &PyEvent::frame_index)
      .def_readonly("count", &PyEvent::count)
      .def_readonly("message", &PyEvent::message)
      .def_readonly("time", &PyEvent::time, "seconds since the epoch")
      .def("__repr__", [](const PyEvent& e) {
        return "Event(type='" + e.type + "', module='" + e.module + "', stream_id='" + e.stream_id +
               "', frame_index=" + std::to_string(e.frame_index) + ", count=" + std::to_string(e.count) +
               ", message=" + py::repr(py::str(e.message)).cast<std::string>() + ")";
      });

  py::class_<PyPipeline>(m, "Pipeline",
                         "A pipeline: build it from a config, start it, add streams, wait, stop (docs/python.md).")
      .def(py::init<const std::string&>(), py::arg("name") = "pipeline")
      .def("build_from_file", &PyPipeline::BuildFromFile, py::arg("path"),
           py::arg("overrides") = std::vector<std::string>{},
           "Loads a JSON config, applies the overrides ('module.key=value') and builds the modules. "
           "Raises ConfigError with every problem found.")
      .def("build_from_string", &PyPipeline::BuildFromString, py::arg("json"),
           py::arg("overrides") = std::vector<std::string>{}, py::arg("base_dir") = ".",
           "As build_from_file, from JSON text; relative paths resolve against base_dir.")
      .def("start", &PyPipeline::Start, "Opens every module and starts the threads.")
      .def("stop", &PyPipeline::Stop, py::arg("mode") = "graceful", py::arg("drain_timeout") = 30.0,
           "Stops and joins every thread ('graceful': queued frames finish, for at most drain_timeout seconds "
           "(None: no limit), then the rest is dropped; 'abort': they are dropped). Every pending event reaches "
           "the observer before this returns.")
      .def("wait", &PyPipeline::Wait, py::arg("timeout") = py::none(),
           "Waits until every stream has finished (True), or the timeout in seconds passes (False).")
      .def_property_readonly("running", &PyPipeline::running)
      .def_property_readonly("name", &PyPipeline::name)
      .def("set_observer", &PyPipeline::SetObserver, py::arg("callback"),
           py::arg("max_queued_events") = kDefaultMaxQueuedEvents,
           "Calls callback(event) for every Event, on the pipeline's event thread. Set it before start(); "
           "None removes it.")
      .def("add_source", &PyPipeline::AddSource, py::arg("stream_id"), py::arg("uri"), py::arg("options") = py::none(),
           py::arg("source_module") = "", "Adds a stream to a source module (running pipelines only).")
      .def("remove_source", &PyPipeline::RemoveSource, py::arg("stream_id"), "Ends a stream early.")
      .def("stats", &PyPipeline::Stats,
           "A snapshot as a dict: uptime_s, modules (a list of dicts) and streams (a list of dicts).")
      .def("stats_table", &PyPipeline::StatsTable, py::arg("since_last") = false,
           "The stats as the vstream tool prints them: a text table of modules and streams. since_last=True: "
           "the fps columns are the rates since the previous since_last=True call.")
      .def("module", &PyPipeline::ModuleInfo, py::arg("name"),
           "A module as a dict: name, class_name, parallelism, next_modules, params, and instance (a "
           "PyModule's Python object, else None). Raises NotFoundError.")
      .def("module_names", &PyPipeline::ModuleNames, "The modules' names, in config order.")
      // `with vstream.Pipeline() as p:` stops the pipeline when the block ends: gracefully, or
      // abandoning queued frames when the block raised.
      .def("__enter__", [](PyPipeline& pipeline) -> PyPipeline& { return pipeline; },
           py::return_value_policy::reference)
      .def("__exit__", [](PyPipeline& pipeline, const py::object& type, const py::object&, const py::object&) {
        if (pipeline.running()) pipeline.Stop(type.is_none() ? "graceful" : "abort", 30.0);
        return false;
      });

  m.def("_stop_all_pipelines", &PyPipeline::StopAll);
  py::module_::import("atexit").attr("register")(m.attr("_stop_all_pipelines"));
}

}  // namespace vstream::python
