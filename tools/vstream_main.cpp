// vstream: run, check, inspect and draw pipelines from the command line.
//
//   vstream run CONFIG [--set module.key=value]... [--input [ID=]URI]... [--stats-interval S]
//               [--stats-json FILE] [--log-level LEVEL]
//   vstream run CONFIG CONFIG... [--set module.key=value]... [--restart N] [--grace-period S]
//               (one process per config)
//   vstream check CONFIG [--set module.key=value]...
//   vstream inspect [CLASS] [--markdown] | --markdown-dir DIR
//   vstream graph CONFIG
//   vstream --version | version
// run, check, inspect and graph take --plugin LIB.so (repeatable) and load VSTREAM_PLUGIN_PATH first.
//
// Exit codes: 0 success, 1 runtime error, 2 invalid config or plugin, 64 wrong usage.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "supervisor.hpp"
#include "vstream/plugin.hpp"
#include "vstream/version.hpp"
#include "vstream/vstream.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;
constexpr int kExitUsage = 64;

const char* kUsage =
    "usage:\n"
    "  vstream run CONFIG [--set MODULE.KEY=VALUE]... [--input [ID=]URI]... [--stats-interval SECONDS]\n"
    "              [--stats-json FILE] [--log-level LEVEL] [--plugin LIB.so]...\n"
    "      Runs the pipeline until every stream has ended (Ctrl-C, SIGTERM or SIGHUP: stop gracefully;\n"
    "      twice: abort).\n"
    "  vstream run CONFIG CONFIG... [--set MODULE.KEY=VALUE]... [--restart N] [--grace-period SECONDS]\n"
    "              [--stats-interval SECONDS] [--log-level LEVEL] [--plugin LIB.so]...\n"
    "      Runs each config in a process of its own and supervises them (Ctrl-C, SIGTERM or SIGHUP\n"
    "      stops all, killing a stage still running after the grace period, default 40 s; a stage\n"
    "      that dies is restarted up to N times with --restart, else the others are stopped).\n"
    "  vstream check CONFIG [--set MODULE.KEY=VALUE]... [--plugin LIB.so]...\n"
    "      Validates the config without running it.\n"
    "  vstream inspect [CLASS] [--markdown] [--plugin LIB.so]...\n"
    "      Lists the module classes (and the plugin each plugin class comes from), or the parameters\n"
    "      of one (as Markdown with --markdown).\n"
    "  vstream inspect --markdown-dir DIR\n"
    "      Writes DIR/<class>.md, the module reference, for every class.\n"
    "  vstream graph CONFIG [--plugin LIB.so]...\n"
    "      Prints the pipeline as a Graphviz DOT graph.\n"
    "  vstream --version | version\n"
    "      Prints the version (\"vstream X.Y.Z\").\n"
    "--plugin LIB.so loads module classes from a shared library (repeatable); the libraries and folders\n"
    "in VSTREAM_PLUGIN_PATH (colon-separated; a folder: every *.so in it) are loaded before them.\n"
    "exit codes: 0 success, 1 runtime error, 2 invalid config or plugin, 64 wrong usage\n";

int Usage(const std::string& problem) {
  std::cerr << "vstream: " << problem << "\n" << kUsage;
  return kExitUsage;
}

struct Options {
  std::vector<std::string> positional;
  std::vector<std::string> overrides;
  std::vector<std::string> inputs;
  std::vector<std::string> plugins;
  double stats_interval = 0;
  std::string stats_json;
  std::string markdown_dir;
  int restart = 0;
  double grace_period = 40;
  bool markdown = false;
  std::string log_level;
};

bool ParseOptions(int argc, char** argv, int first, Options* out, std::string* error) {
  for (int i = first; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](std::string* into) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      *into = argv[++i];
      return true;
    };
    std::string v;
    if (arg == "--set") {
      if (!value(&v)) return false;
      out->overrides.push_back(v);
    } else if (arg == "--input" || arg == "-i") {
      if (!value(&v)) return false;
      out->inputs.push_back(v);
    } else if (arg == "--plugin") {
      if (!value(&v)) return false;
      out->plugins.push_back(v);
    } else if (arg == "--stats-interval") {
      if (!value(&v)) return false;
      char* end = nullptr;
      out->stats_interval = std::strtod(v.c_str(), &end);
      if (*end != '\0' || !(out->stats_interval >= 0 && out->stats_interval <= 86400)) {
        *error = "--stats-interval takes seconds from 0 to 86400, got '" + v + "'";
        return false;
      }
    } else if (arg == "--restart") {
      if (!value(&v)) return false;
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (*end != '\0' || n < 0) {
        *error = "--restart takes a count >= 0, got '" + v + "'";
        return false;
      }
      out->restart = static_cast<int>(n);
    } else if (arg == "--grace-period") {
      if (!value(&v)) return false;
      char* end = nullptr;
      out->grace_period = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(out->grace_period >= 0 && out->grace_period <= 86400)) {
        *error = "--grace-period takes seconds from 0 to 86400, got '" + v + "'";
        return false;
      }
    } else if (arg == "--stats-json") {
      if (!value(&out->stats_json)) return false;
    } else if (arg == "--markdown-dir") {
      if (!value(&out->markdown_dir)) return false;
    } else if (arg == "--log-level") {
      if (!value(&out->log_level)) return false;
    } else if (arg == "--markdown") {
      out->markdown = true;
    } else if (arg.rfind("--", 0) == 0) {
      *error = "unknown option " + arg;
      return false;
    } else {
      out->positional.push_back(arg);
    }
  }
  return true;
}

// VSTREAM_PLUGIN_PATH first, then every --plugin, in order. A plugin that fails is exit code 2:
// the configs that need its classes cannot be valid.
int LoadPlugins(const Options& options) {
  bool ok = true;
  if (vstream::Status s = vstream::LoadPluginsFromEnv(); !s) {
    std::cerr << "vstream: " << s.message() << "\n";
    ok = false;
  }
  for (const auto& plugin : options.plugins) {
    if (vstream::Status s = vstream::LoadPlugin(plugin); !s) {
      std::cerr << "vstream: --plugin: " << s.message() << "\n";
      ok = false;
    }
  }
  return ok ? kExitOk : kExitConfig;
}

// The plugin a class was loaded from; empty for built-in classes.
std::string PluginOf(const std::string& class_name) {
  for (const auto& plugin : vstream::LoadedPlugins()) {
    for (const auto& name : plugin.classes) {
      if (name == class_name) return plugin.path.string();
    }
  }
  return {};
}

int LoadConfig(const Options& options, vstream::GraphConfig* config) {
  if (options.positional.size() != 1) {
    return Usage(options.positional.empty() ? "a CONFIG file is needed" : "one CONFIG file at a time");
  }
  vstream::Status s = vstream::GraphConfig::FromFile(options.positional[0], config);
  for (size_t i = 0; s && i < options.overrides.size(); ++i) s = config->Set(options.overrides[i]);
  if (s) s = config->Validate();
  if (!s) {
    std::cerr << s.message() << "\n";
    return kExitConfig;
  }
  return kExitOk;
}

std::string TypeText(const vstream::ParamSpec& spec) {
  std::string text(vstream::ParamTypeName(spec.type));
  if (spec.type == vstream::ParamType::kEnum) {
    text += " (";
    for (size_t i = 0; i < spec.choices.size(); ++i) text += (i ? ", " : "") + spec.choices[i];
    text += ")";
  }
  return text;
}

std::string RangeText(const vstream::ParamSpec& spec) {
  const bool lo = std::isfinite(spec.min);
  const bool hi = std::isfinite(spec.max);
  auto number = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  if (lo && hi) return number(spec.min) + " .. " + number(spec.max);
  if (lo) return ">= " + number(spec.min);
  if (hi) return "<= " + number(spec.max);
  return "";
}

std::string Markdown(const vstream::ModuleRegistry::Entry& entry) {
  const vstream::ModuleDescription description = entry.describe();
  std::ostringstream out;
  out << "# " << entry.class_name << "\n\n" << description.summary << "\n\n";
  if (entry.choose) {
    out << "A name for more than one class: a config's parameters choose the class its module gets "
           "(each class has a page of its own).\n\n";
  } else if (entry.is_source) {
    out << "A source module: it has no inputs and starts streams.\n\n";
  }
  out << "<!-- Generated by `vstream inspect --markdown-dir docs/modules`; a test checks it matches. -->\n\n";
  if (!description.details.empty()) out << description.details << "\n\n";
  out << "## Parameters\n\n";
  if (description.params.empty()) {
    out << "No custom_params.\n";
    return out.str();
  }
  out << "| parameter | type | default | range | required | description |\n";
  out << "|---|---|---|---|---|---|\n";
  for (const auto& p : description.params) {
    out << "| `" << p.name << "` | " << TypeText(p) << " | "
        << (p.default_value.empty() ? "" : "`" + p.default_value + "`") << " | " << RangeText(p) << " | "
        << (p.required ? "yes" : "no") << " | " << p.description << " |\n";
  }
  return out.str();
}

std::string FileNameOf(const std::string& class_name) {
  std::string name;
  for (char c : class_name) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name + ".md";
}

int Inspect(const Options& options) {
  const auto& registry = vstream::ModuleRegistry::Instance();
  if (!options.markdown_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options.markdown_dir, error);
    for (const auto& name : registry.ClassNames()) {
      const std::filesystem::path file = std::filesystem::path(options.markdown_dir) / FileNameOf(name);
      std::ofstream out(file);
      out << Markdown(*registry.Find(name));
      if (!out) {
        std::cerr << "vstream inspect: cannot write " << file << "\n";
        return kExitRuntime;
      }
      std::cout << file.string() << "\n";
    }
    return kExitOk;
  }
  if (options.positional.empty()) {
    for (const auto& name : registry.ClassNames()) {
      const auto* entry = registry.Find(name);
      const char* role = entry->choose ? " (chooses a class by its parameters)" : entry->is_source ? " (source)" : "";
      std::cout << name << role << ": " << entry->describe().summary;
      if (const std::string plugin = PluginOf(name); !plugin.empty()) std::cout << " [plugin " << plugin << "]";
      std::cout << "\n";
    }
    return kExitOk;
  }
  const auto* entry = registry.Find(options.positional[0]);
  if (entry == nullptr) {
    std::cerr << "vstream inspect: unknown class '" << options.positional[0] << "'; known classes:";
    for (const auto& name : registry.ClassNames()) std::cerr << " " << name;
    std::cerr << "\n";
    return kExitConfig;
  }
  if (options.markdown) {
    std::cout << Markdown(*entry);
    return kExitOk;
  }
  const vstream::ModuleDescription description = entry->describe();
  const char* role = entry->choose ? " (chooses a class by its parameters)" : entry->is_source ? " (source)" : "";
  std::cout << entry->class_name << role << ": " << description.summary << "\n";
  if (const std::string plugin = PluginOf(entry->class_name); !plugin.empty()) {
    std::cout << "From plugin " << plugin << "\n";
  }
  if (!description.details.empty()) std::cout << "\n" << description.details << "\n\nParameters:\n";
  for (const auto& p : description.params) {
    std::cout << "  " << p.name << " : " << TypeText(p);
    if (!p.default_value.empty()) std::cout << " = " << p.default_value;
    if (const std::string range = RangeText(p); !range.empty()) std::cout << " [" << range << "]";
    if (p.required) std::cout << " (required)";
    std::cout << "\n      " << p.description << "\n";
  }
  return kExitOk;
}

// Several configs: validate them all, then run each in a process of its own.
int RunStages(const Options& options) {
  if (!options.inputs.empty() || !options.stats_json.empty()) {
    return Usage("--input and --stats-json go with a single CONFIG (put inputs in each config's source)");
  }
  std::vector<vstream::tool::Stage> stages;
  std::vector<bool> override_used(options.overrides.size(), false);
  for (const auto& path : options.positional) {
    vstream::GraphConfig config;
    vstream::Status s = vstream::GraphConfig::FromFile(path, &config);
    vstream::tool::Stage stage{path, {}};
    // An override applies to every config that has its module.
    for (size_t i = 0; s && i < options.overrides.size(); ++i) {
      const std::string& o = options.overrides[i];
      const std::string module = o.substr(0, o.substr(0, o.find('=')).rfind('.'));
      if (config.Find(module) == nullptr) continue;
      override_used[i] = true;
      s = config.Set(o);
      stage.args.insert(stage.args.end(), {"--set", o});
    }
    if (s) s = config.Validate();
    if (!s) {
      std::cerr << s.message() << "\n";
      return kExitConfig;  // nothing starts
    }
    if (options.stats_interval > 0) stage.args.insert(stage.args.end(), {"--stats-interval", std::to_string(options.stats_interval)});
    if (!options.log_level.empty()) stage.args.insert(stage.args.end(), {"--log-level", options.log_level});
    // Each stage loads the same plugins (VSTREAM_PLUGIN_PATH reaches it through the environment).
    for (const auto& plugin : options.plugins) {
      std::error_code error;
      const std::filesystem::path absolute = std::filesystem::absolute(plugin, error);
      stage.args.insert(stage.args.end(), {"--plugin", error ? plugin : absolute.string()});
    }
    stages.push_back(std::move(stage));
  }
  for (size_t i = 0; i < options.overrides.size(); ++i) {
    if (!override_used[i]) {
      std::cerr << "override '" << options.overrides[i] << "': no config has that module\n";
      return kExitConfig;
    }
  }
  vstream::tool::SupervisorOptions supervision;
  supervision.restarts = options.restart;
  supervision.grace_period = std::chrono::milliseconds(static_cast<int64_t>(options.grace_period * 1000));
  return vstream::tool::Supervise(std::filesystem::canonical("/proc/self/exe").string(), stages, supervision);
}

int Run(const Options& options) {
  if (options.positional.size() > 1) return RunStages(options);
  vstream::GraphConfig config;
  if (int code = LoadConfig(options, &config); code != kExitOk) return code;

  // Signals are taken by one thread with sigwait, so no handler runs inside pipeline code.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);   // a closed terminal stops like SIGTERM
  sigaddset(&signals, SIGUSR1);  // our own wake-up of the signal thread at exit
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vstream::Pipeline pipeline(options.positional[0]);
  if (vstream::Status s = pipeline.Build(config); !s) {
    std::cerr << s.message() << "\n";
    return kExitConfig;
  }
  std::atomic<int> errors{0};
  pipeline.SetObserver([&errors](const vstream::Event& event) {
    if (event.type == vstream::EventType::kStreamError || event.type == vstream::EventType::kModuleError) ++errors;
  });
  if (vstream::Status s = pipeline.Start(); !s) {
    std::cerr << s.message() << "\n";
    return kExitRuntime;
  }
  for (size_t i = 0; i < options.inputs.size(); ++i) {
    std::string id = "stream_" + std::to_string(i);
    std::string uri = options.inputs[i];
    const size_t equals = uri.find('=');
    if (equals != std::string::npos && uri.find("://") > equals) {
      id = uri.substr(0, equals);
      uri = uri.substr(equals + 1);
    }
    if (vstream::Status s = pipeline.AddSource(id, uri); !s) {
      std::cerr << "input '" << options.inputs[i] << "': " << s.message() << "\n";
      if (vstream::Status stopped = pipeline.Stop(vstream::StopMode::kAbort); !stopped) std::cerr << stopped.message() << "\n";
      return kExitRuntime;
    }
  }

  std::atomic<int> interrupts{0};
  std::thread graceful_stopper;  // Stop(kGraceful) blocks while draining: run it beside the signal thread
  std::thread signal_thread([&] {
    int signal = 0;
    while (sigwait(&signals, &signal) == 0) {
      if (signal == SIGUSR1) return;
      const int count = ++interrupts;
      if (count == 1) {
        std::cerr << "\nvstream: stopping gracefully (Ctrl-C again to abort)\n";
        graceful_stopper = std::thread([&pipeline] {
          if (vstream::Status s = pipeline.Stop(vstream::StopMode::kGraceful); !s) std::cerr << "vstream: " << s.message() << "\n";
        });
      } else {
        std::cerr << "\nvstream: aborting\n";
        if (vstream::Status s = pipeline.Stop(vstream::StopMode::kAbort); !s) std::cerr << "vstream: " << s.message() << "\n";
        return;
      }
    }
  });

  const auto interval = options.stats_interval > 0
                            ? std::chrono::milliseconds(static_cast<int64_t>(options.stats_interval * 1000))
                            : std::chrono::milliseconds::max();
  vstream::PipelineStats previous = pipeline.GetStats();
  while (!pipeline.WaitForStreams(interval) && pipeline.running()) {
    vstream::PipelineStats now = pipeline.GetStats();
    std::cerr << now.ToTable(&previous) << "\n";
    previous = std::move(now);
  }
  const vstream::Status stopped = pipeline.Stop(interrupts > 1 ? vstream::StopMode::kAbort : vstream::StopMode::kGraceful);
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (graceful_stopper.joinable()) graceful_stopper.join();

  const vstream::PipelineStats summary = pipeline.GetStats();
  std::cerr << "summary:\n" << summary.ToTable();
  if (!options.stats_json.empty()) {
    std::ofstream out(options.stats_json);
    out << summary.ToJson() << "\n";
    if (!out) {
      std::cerr << "vstream: cannot write --stats-json file '" << options.stats_json << "'\n";
      return kExitRuntime;
    }
  }
  if (!stopped) {
    std::cerr << stopped.message() << "\n";
    return kExitRuntime;
  }
  return errors > 0 ? kExitRuntime : kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string command = argv[1];
  if (command == "--version" || command == "version") {
    if (argc > 2) return Usage(command + " takes no arguments");
    std::cout << "vstream " << vstream::Version() << "\n";
    return kExitOk;
  }
  if (command == "run") {
    // Taken with sigwait once the pipeline runs; blocked from the start so that a Ctrl-C that
    // comes early (while a config loads) stops the run gracefully instead of killing it.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // A stage of `vstream run a.json b.json` stops (SIGTERM) when its supervisor dies.
    vstream::tool::WatchSupervisor();
  }
  Options options;
  std::string error;
  if (!ParseOptions(argc, argv, 2, &options, &error)) return Usage(error);
  if (!options.log_level.empty() && !vstream::SetLogLevel(options.log_level)) {
    return Usage("--log-level must be trace, debug, info, warn, error or off");
  }
  if (command != "run" && command != "check" && command != "inspect" && command != "graph") {
    return Usage("unknown command '" + command + "'");
  }
  if (int code = LoadPlugins(options); code != kExitOk) return code;
  if (command == "run") return Run(options);
  if (command == "check") {
    vstream::GraphConfig config;
    const int code = LoadConfig(options, &config);
    if (code == kExitOk) std::cout << options.positional[0] << ": OK (" << config.modules.size() << " modules)\n";
    return code;
  }
  if (command == "inspect") return Inspect(options);
  if (command == "graph") {
    vstream::GraphConfig config;
    if (int code = LoadConfig(options, &config); code != kExitOk) return code;
    std::cout << config.ToDot();
    return kExitOk;
  }
  return Usage("unknown command '" + command + "'");
}
