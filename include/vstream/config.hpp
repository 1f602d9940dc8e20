// GraphConfig: a pipeline described in JSON (CNStream's format), parsed and validated.
//
// Top-level keys are module names; each module has "class_name", "next_modules", "parallelism",
// "max_input_queue_size", "custom_params", and optionally "queue_policy" and "skip_if". Comments
// are allowed, numbers may be written as strings ("40"), "profiler_config" tunes measurement, and
// "subgraph:NAME": {"config_path": "other.json"} inlines another file (its modules are named
// "NAME/module"). CNStream's spellings of module keys and values (show_perf_info, keep_aspect_ratio,
// file_name, "preproc": "name=...", ...) are translated into vstream's as the text is read, each one
// that does not apply here logged once (docs/config.md, "CNStream configs"). Parsing stops with an
// error at the limits of ConfigLimits (JSON nesting, subgraph nesting, modules after expansion).
// Validate() checks the graph and every parameter before anything starts and reports every problem
// at once, each naming the module, the key and the expected form.
//
//   vstream::GraphConfig config;
//   vstream::Status s = vstream::GraphConfig::FromFile("face.json", &config);
//   if (s) s = config.Set("infer.batch_size=8");
//   if (s) s = config.Validate();
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/params.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class QueuePolicy {
  kBlock,       // a full queue blocks the producer (backpressure; nothing is lost)
  kDropOldest,  // a full queue drops its oldest frame to make room (live video: keep the newest)
  kDropNewest,  // a full queue drops the arriving frame
};

VSTREAM_EXPORT std::string_view QueuePolicyName(QueuePolicy policy);

struct VSTREAM_EXPORT ModuleConfig {
  std::string name;
  std::string class_name;
  int parallelism = 1;             // worker threads (ignored for sources)
  int max_input_queue_size = 20;   // per worker
  std::vector<std::string> next_modules;
  ParamValues params;              // custom_params: scalars as text, arrays as lists
  QueuePolicy queue_policy = QueuePolicy::kBlock;
  std::string skip_if;             // "", "no_objects", "every_nth:N", "except_every_nth:N", or registered
  std::filesystem::path base_dir;  // folder of the file that declared the module
};

struct VSTREAM_EXPORT ProfilerConfig {
  bool enable_profiling = true;    // measure per-module and end-to-end latency
  bool enable_tracing = false;     // not supported yet: accepted, logged as ignored
  int64_t trace_event_capacity = 100000;
};

/// What parsing a config accepts at most; past a limit it stops with an error that names the limit
/// (a config that nests or includes itself without end fails fast instead of exhausting memory or
/// the stack).
struct VSTREAM_EXPORT ConfigLimits {
  int max_json_depth = 64;      // objects and arrays nested in one another, in any one file
  int max_include_depth = 16;   // subgraph files nested in one another below the main config
  int64_t max_modules = 10000;  // modules after subgraph expansion, each subgraph include counting as one
};

class VSTREAM_EXPORT GraphConfig {
 public:
  /// Reads and parses a JSON file (and the subgraphs it names). Relative paths in the file are
  /// resolved against its folder.
  static Status FromFile(const std::filesystem::path& path, GraphConfig* out, const ConfigLimits& limits = {});
  /// Parses JSON text; relative paths resolve against `base_dir`. `origin` names the text in errors.
  static Status FromString(const std::string& json, const std::filesystem::path& base_dir,
                           GraphConfig* out, const std::string& origin = "<string>",
                           const ConfigLimits& limits = {});

  /// Overrides one value: "module.key=value". `key` is a module setting (parallelism,
  /// max_input_queue_size, queue_policy, skip_if, class_name, next_modules as a comma list) or a
  /// custom param. Fails when the module does not exist.
  Status Set(const std::string& assignment);

  /// Checks classes, graph shape and parameters (see the header comment). kInvalidConfig with one
  /// line per problem.
  Status Validate() const;

  /// The graph in Graphviz DOT.
  std::string ToDot() const;

  const ModuleConfig* Find(const std::string& name) const;

  std::vector<ModuleConfig> modules;  // in file order
  ProfilerConfig profiler;
  std::string origin;                 // file name (or "<string>") for messages
};

}  // namespace vstream
