// vstream: run, check, inspect and draw pipelines from the command line.
//
//   vstream run CONFIG [--set module.key=value]... [--input [ID=]URI]... [--stats-interval S]
//               [--stats-json FILE] [--log-level LEVEL]
//   vstream run CONFIG CONFIG... [--set module.key=value]... [--restart N] [--grace-period S]
//               (one process per config)
//   vstream check CONFIG... [--set module.key=value]... [--frame-size WxH]
//   vstream inspect [CLASS] [--markdown] | --markdown-dir DIR
//   vstream graph CONFIG [--set module.key=value]...
//   vstream --version | version
//   vstream help [COMMAND] | COMMAND --help
// run, check, inspect and graph take --plugin LIB.so (repeatable; VSTREAM_PLUGIN_PATH is loaded
// first) and --log-level. Options take their value as the next argument or after '=' (--set=a.b=c);
// an option a command does not take is a usage error that names it.
//
// Exit codes: 0 success, 1 runtime error, 2 invalid config or plugin, 64 wrong usage.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "supervisor.hpp"
#include "vstream/capacity.hpp"
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
    "  vstream check CONFIG... [--set MODULE.KEY=VALUE]... [--frame-size WxH] [--plugin LIB.so]...\n"
    "      Validates the configs without running them and prints, for each, the most frames and bytes\n"
    "      it can hold at once and the shapes that would starve or deadlock.\n"
    "  vstream inspect [CLASS] [--markdown] [--plugin LIB.so]...\n"
    "      Lists the module classes (and the plugin each plugin class comes from), or the parameters\n"
    "      of one (as Markdown with --markdown).\n"
    "  vstream inspect --markdown-dir DIR\n"
    "      Writes DIR/<class>.md, the module reference, for every class.\n"
    "  vstream graph CONFIG [--set MODULE.KEY=VALUE]... [--plugin LIB.so]...\n"
    "      Prints the pipeline as a Graphviz DOT graph.\n"
    "  vstream --version | version\n"
    "      Prints the version (\"vstream X.Y.Z\").\n"
    "  vstream help [COMMAND] | vstream COMMAND --help\n"
    "      Prints a command's options.\n"
    "Options take their value as the next argument or after '=' (--set x.y=1, --set=x.y=1).\n"
    "--plugin LIB.so loads module classes from a shared library (repeatable); the libraries and folders\n"
    "in VSTREAM_PLUGIN_PATH (colon-separated; a folder: every *.so in it) are loaded before them.\n"
    "exit codes: 0 success, 1 runtime error, 2 invalid config or plugin, 64 wrong usage\n";

const char* kExitCodes = "exit codes: 0 success, 1 runtime error, 2 invalid config or plugin, 64 wrong usage";

struct Options {
  std::vector<std::string> positional;
  std::vector<std::string> overrides;
  std::vector<std::string> inputs;
  std::vector<std::string> plugins;
  std::string stats_interval_text;
  double stats_interval = 0;
  std::string stats_json;
  std::string markdown_dir;
  std::string restart_text;
  int restart = 0;
  std::string grace_period_text;
  double grace_period = 40;
  bool markdown = false;
  std::string log_level;
  std::string frame_size_text;
  vstream::CapacityOptions capacity;
};

// What `vstream COMMAND --help` prints above the options: the command's forms and what it does.
struct CommandText {
  const char* name;
  const char* synopsis;
  const char* description;
};

constexpr CommandText kCommandTexts[] = {
    {"run",
     "vstream run CONFIG [OPTIONS]\n"
     "       vstream run CONFIG CONFIG... [OPTIONS]",
     "Runs the pipeline until every stream has ended: Ctrl-C, SIGTERM or SIGHUP stops it gracefully,\n"
     "a second one aborts. With several configs, runs each in a process of its own and supervises\n"
     "them (--restart, --grace-period); --input and --stats-json go with a single config."},
    {"check",
     "vstream check CONFIG... [OPTIONS]",
     "Validates each config without running it, then prints the most frames it can hold at once and\n"
     "the bytes they take (A + B per stream, from the queues, what each module keeps and each\n"
     "source's streams), and warns of modules that wait for frames that cannot come. Configs\n"
     "checked together are the parts of one pipeline: a ModuleIPC server is bounded by its clients."},
    {"inspect",
     "vstream inspect [CLASS] [OPTIONS]\n"
     "       vstream inspect --markdown-dir DIR",
     "Lists the module classes (a class from a plugin with the plugin's path), or the parameters of\n"
     "CLASS; --markdown-dir writes the module reference, DIR/<class>.md for every class."},
    {"graph",
     "vstream graph CONFIG [OPTIONS]",
     "Prints the pipeline as a Graphviz DOT graph (vstream graph p.json | dot -Tpng -o p.png)."},
    {"version", "vstream version", "Prints the version (\"vstream X.Y.Z\"), as vstream --version does."},
    {"help", "vstream help [COMMAND]",
     "Prints the options of COMMAND (as vstream COMMAND --help does), or the overview."},
};

// CLI11's help, laid out as vstream's: the forms of the command first, then what it does, then
// its arguments and options.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_description(const CLI::App* /*app*/) const override { return {}; }
  std::string make_usage(const CLI::App* app, std::string /*name*/) const override {
    for (const CommandText& text : kCommandTexts) {
      if (app->get_name() == text.name) {
        return std::string("usage: ") + text.synopsis + "\n\n" + text.description + "\n";
      }
    }
    return {};
  }
};

std::string Quoted(const std::string& argument) { return "'" + vstream::Excerpt(argument) + "'"; }

int Usage(const std::string& problem, const std::string& command = "") {
  std::cerr << "vstream" << (command.empty() ? "" : " " + command) << ": " << problem << "\n";
  if (command.empty()) {
    std::cerr << kUsage;
  } else {
    for (const CommandText& text : kCommandTexts) {
      if (command == text.name) std::cerr << "usage: " << text.synopsis << "\n";
    }
    std::cerr << "(vstream " << command << " --help lists its options)\n";
  }
  return kExitUsage;
}

// The command line's grammar: one CLI11 subcommand per command, each with only its own options.
class CommandLine {
 public:
  explicit CommandLine(Options* options) : app_("runs, checks, inspects and draws video-analytics pipelines", "vstream") {
    app_.formatter(std::make_shared<HelpFormatter>());
    app_.get_formatter()->column_width(30);
    app_.set_help_flag("-h,--help", "prints this help and exits");
    app_.allow_extras(true);
    // One command; a word after it that names another command is an argument (a file called "check").
    app_.require_subcommand(0, 1);
    app_.get_formatter()->label("Positionals", "Arguments");
    app_.add_flag("--version", version_, "prints the version");

    CLI::App* run = Command("run");
    run->add_option("CONFIG", options->positional, "the pipeline config; several: one process each")->option_text(" ");
    Overrides(run, options);
    run->add_option("-i,--input", options->inputs, "adds a stream to the source (repeatable; one config only)")
        ->option_text("[ID=]URI")
        ->allow_extra_args(false);
    Single(run->add_option("--stats-interval", options->stats_interval_text,
                           "prints the stats table this often (0, the default: only at the end)"))
        ->option_text("SECONDS");
    Single(run->add_option("--stats-json", options->stats_json, "writes the final stats as JSON (one config only)"))
        ->option_text("FILE");
    Single(run->add_option("--restart", options->restart_text,
                           "several configs: restarts a stage that died up to N times (default 0)"))
        ->option_text("N");
    Single(run->add_option("--grace-period", options->grace_period_text,
                           "several configs: time a stage has to stop before SIGKILL (default 40)"))
        ->option_text("SECONDS");
    Common(run, options);

    CLI::App* check = Command("check");
    check->add_option("CONFIG", options->positional, "the configs, checked together as the parts of one pipeline")
        ->option_text(" ");
    Overrides(check, options);
    Single(check->add_option("--frame-size", options->frame_size_text,
                             "frame size where the config leaves it to the input (default 1920x1080)"))
        ->option_text("WxH");
    Common(check, options);

    CLI::App* inspect = Command("inspect");
    inspect->add_option("CLASS", options->positional, "a module class")->option_text(" ");
    inspect->add_flag("--markdown", options->markdown, "prints CLASS's reference page as Markdown");
    Single(inspect->add_option("--markdown-dir", options->markdown_dir, "writes DIR/<class>.md for every class"))
        ->option_text("DIR");
    Common(inspect, options);

    CLI::App* graph = Command("graph");
    graph->add_option("CONFIG", options->positional, "the pipeline config")->option_text(" ");
    Overrides(graph, options);
    Common(graph, options);

    Command("version");
    CLI::App* help = Command("help");
    help->add_option("COMMAND", help_topic_, "the command to describe")->option_text(" ");
  }

  /// Parses argv. Returns -1 when the command should run, else the exit code (help printed, or a
  /// usage error reported).
  int Parse(int argc, char** argv) {
    try {
      app_.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      return PrintHelp(Selected());
    } catch (const CLI::ArgumentMismatch& e) {
      // "--plugin: 1 required TEXT missing": an option given last, without its value.
      const std::string what = e.what();
      return Usage("option " + Quoted(what.substr(0, what.find(':'))) + " needs a value", Selected());
    } catch (const CLI::ParseError& e) {
      return Usage(vstream::Excerpt(e.what(), 200), Selected());
    }
    const std::string command = Selected();
    const CLI::App* sub = command.empty() ? nullptr : Find(command);
    // Unknown arguments: the first one is named.
    std::vector<std::string> extras = sub ? sub->remaining() : std::vector<std::string>();
    for (const auto& rest : app_.remaining()) extras.push_back(rest);
    if (command.empty()) {
      if (version_ && extras.empty()) return PrintVersion();
      if (version_) return Usage("--version takes no arguments");
      if (extras.empty()) return Usage("a command is needed");
      const std::string& first = extras.front();
      if (first.rfind("-", 0) == 0) return Usage("unknown option " + Quoted(first));
      return Usage("unknown command " + Quoted(first));
    }
    if (!extras.empty()) return Usage(Unexpected(command, extras.front()), command);
    if (command == "version") return PrintVersion();
    if (command == "help") {
      if (help_topic_.empty()) return PrintHelp("");
      if (Find(help_topic_) == nullptr) return Usage("unknown command " + Quoted(help_topic_), "help");
      return PrintHelp(help_topic_);
    }
    command_ = command;
    return -1;
  }

  const std::string& command() const { return command_; }

 private:
  CLI::App* Command(const std::string& name) {
    std::string description;
    for (const CommandText& text : kCommandTexts) {
      if (name == text.name) description = text.description;
    }
    CLI::App* command = app_.add_subcommand(name, description);
    command->set_help_flag("-h,--help", "prints this help and exits");
    command->allow_extras(true);  // reported by Parse, naming the argument
    command->footer(kExitCodes);
    return command;
  }

  // An option given once; given again, the last value counts.
  static CLI::Option* Single(CLI::Option* option) { return option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast); }

  static void Overrides(CLI::App* command, Options* options) {
    command->add_option("--set", options->overrides, "overrides one value before validation (repeatable)")
        ->option_text("MODULE.KEY=VALUE")
        ->allow_extra_args(false);
  }

  static void Common(CLI::App* command, Options* options) {
    command->add_option("--plugin", options->plugins, "loads module classes from a shared library (repeatable)")
        ->option_text("LIB.so")
        ->allow_extra_args(false);
    Single(command->add_option("--log-level", options->log_level,
                               "trace, debug, info, warn, error or off (default: VSTREAM_LOG_LEVEL, else info)"))
        ->option_text("LEVEL");
  }

  const CLI::App* Find(const std::string& name) const {
    for (const CLI::App* command : app_.get_subcommands({})) {
      if (command->get_name() == name) return command;
    }
    return nullptr;
  }

  std::string Selected() const {
    const auto selected = app_.get_subcommands();
    return selected.empty() ? std::string() : selected.front()->get_name();
  }

  // The message for an argument `command` does not take: an option of another command, an
  // unknown option (with a did-you-mean), or a surplus argument.
  std::string Unexpected(const std::string& command, const std::string& argument) const {
    if (argument.rfind("-", 0) != 0 || argument == "-") {
      return "unexpected argument " + Quoted(argument) + " (" + command + " takes " +
             (command == "help" ? "one COMMAND" : "no arguments") + ")";
    }
    const std::string name = argument.substr(0, argument.find('='));
    std::vector<std::string> takers;
    for (const CLI::App* other : app_.get_subcommands({})) {
      if (other->get_name() != command && other->get_option_no_throw(name) != nullptr) takers.push_back(other->get_name());
    }
    if (!takers.empty()) {
      return "option " + Quoted(name) + " does not apply to " + command + " (it is an option of " +
             vstream::Join(takers, ", ") + ")";
    }
    std::vector<std::string> known;
    for (const CLI::Option* option : Find(command)->get_options()) {
      for (const auto& long_name : option->get_lnames()) known.push_back("--" + long_name);
    }
    std::string message = "unknown option " + Quoted(name);
    if (const std::string guess = vstream::ClosestMatch(name, known); !guess.empty()) {
      message += " (did you mean " + guess + "?)";
    }
    return message;
  }

  int PrintHelp(const std::string& command) const {
    if (command.empty()) {
      std::cout << kUsage;
    } else {
      std::cout << Find(command)->help();
    }
    return kExitOk;
  }

  static int PrintVersion() {
    std::cout << "vstream " << vstream::Version() << "\n";
    return kExitOk;
  }

  CLI::App app_;
  bool version_ = false;
  std::string help_topic_;
  std::string command_;
};

// Reads the values of the options that take numbers or sizes; false (after reporting) when one is wrong.
bool ReadOptionValues(const std::string& command, Options* options) {
  auto fail = [&](const std::string& problem) {
    Usage(problem, command);
    return false;
  };
  if (!options->stats_interval_text.empty()) {
    const std::string& v = options->stats_interval_text;
    char* end = nullptr;
    options->stats_interval = std::strtod(v.c_str(), &end);
    // 0 turns the table off; below a tenth of a second it would be printed faster than read.
    const double seconds = options->stats_interval;
    if (*end != '\0' || v.empty() || !(seconds == 0 || (seconds >= 0.1 && seconds <= 86400))) {
      return fail("--stats-interval takes seconds: 0 (no table) or from 0.1 to 86400, got " + Quoted(v));
    }
  }
  if (!options->restart_text.empty()) {
    const std::string& v = options->restart_text;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (*end != '\0' || n < 0 || n > 1000000 || errno == ERANGE) {
      return fail("--restart takes a count from 0 to 1000000, got " + Quoted(v));
    }
    options->restart = static_cast<int>(n);
  }
  if (!options->grace_period_text.empty()) {
    const std::string& v = options->grace_period_text;
    char* end = nullptr;
    options->grace_period = std::strtod(v.c_str(), &end);
    if (*end != '\0' || !(options->grace_period >= 0 && options->grace_period <= 86400)) {
      return fail("--grace-period takes seconds from 0 to 86400, got " + Quoted(v));
    }
  }
  if (!options->frame_size_text.empty()) {
    const std::string& v = options->frame_size_text;
    int width = 0;
    int height = 0;
    char rest = 0;
    if (std::sscanf(v.c_str(), "%dx%d%c", &width, &height, &rest) != 2 || width < 1 || height < 1 || width > 16384 ||
        height > 16384) {
      return fail("--frame-size takes WIDTHxHEIGHT, each from 1 to 16384 (e.g. 1280x720), got " + Quoted(v));
    }
    options->capacity.assumed_width = width;
    options->capacity.assumed_height = height;
  }
  if (!options->log_level.empty() && !vstream::SetLogLevel(options->log_level)) {
    return fail("--log-level must be trace, debug, info, warn, error or off, got " + Quoted(options->log_level));
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

// Reads every CONFIG and applies the overrides. With one config each override must name one of
// its modules; with several, an override goes to every config that has its module (`applied`: the
// overrides each took), and one that no config has is an error. Nothing is validated yet.
int LoadConfigs(const Options& options, std::vector<vstream::GraphConfig>* configs,
                std::vector<std::vector<std::string>>* applied = nullptr) {
  const bool several = options.positional.size() > 1;
  std::vector<bool> override_used(options.overrides.size(), false);
  configs->assign(options.positional.size(), {});
  if (applied != nullptr) applied->assign(options.positional.size(), {});
  for (size_t c = 0; c < options.positional.size(); ++c) {
    vstream::GraphConfig& config = (*configs)[c];
    vstream::Status s = vstream::GraphConfig::FromFile(options.positional[c], &config);
    for (size_t i = 0; s && i < options.overrides.size(); ++i) {
      const std::string& o = options.overrides[i];
      const std::string module = o.substr(0, o.substr(0, o.find('=')).rfind('.'));
      if (several && config.Find(module) == nullptr) continue;
      override_used[i] = true;
      s = config.Set(o);
      if (s && applied != nullptr) (*applied)[c].push_back(o);
    }
    if (!s) {
      std::cerr << s.message() << "\n";
      return kExitConfig;
    }
  }
  for (size_t i = 0; i < options.overrides.size(); ++i) {
    if (!override_used[i]) {
      std::cerr << "override " << Quoted(options.overrides[i]) << ": no config has that module\n";
      return kExitConfig;
    }
  }
  return kExitOk;
}

// One CONFIG, read, overridden and validated.
int LoadConfig(const std::string& command, const Options& options, vstream::GraphConfig* config) {
  if (options.positional.size() != 1) {
    return Usage(options.positional.empty() ? "a CONFIG file is needed" : "one CONFIG file at a time", command);
  }
  std::vector<vstream::GraphConfig> configs;
  if (int code = LoadConfigs(options, &configs); code != kExitOk) return code;
  if (vstream::Status s = configs[0].Validate(); !s) {
    std::cerr << s.message() << "\n";
    return kExitConfig;
  }
  *config = std::move(configs[0]);
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
    out << (description.other_params.empty() ? "No custom_params.\n" : "No declared custom_params.\n");
  } else {
    out << "| parameter | type | default | range | required | description |\n";
    out << "|---|---|---|---|---|---|\n";
    for (const auto& p : description.params) {
      out << "| `" << p.name << "` | " << TypeText(p) << " | "
          << (p.default_value.empty() ? "" : "`" + p.default_value + "`") << " | " << RangeText(p) << " | "
          << (p.required ? "yes" : "no") << " | " << p.description << " |\n";
    }
  }
  if (!description.other_params.empty()) {
    out << "\nOther parameters: accepted, unchecked; " << description.other_params << ".\n";
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
  if (options.positional.size() > 1) return Usage("one CLASS at a time", "inspect");
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
    std::cerr << "vstream inspect: unknown class " << Quoted(options.positional[0]) << "; known classes:";
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
  if (!description.other_params.empty()) {
    std::cout << "  (other keys) : accepted, unchecked\n      " << description.other_params << "\n";
  }
  return kExitOk;
}

// Several configs: validate them all, then run each in a process of its own.
int RunStages(const Options& options) {
  if (!options.inputs.empty() || !options.stats_json.empty()) {
    return Usage("--input and --stats-json go with a single CONFIG (put inputs in each config's source)", "run");
  }
  std::vector<vstream::GraphConfig> configs;
  std::vector<std::vector<std::string>> applied;
  if (int code = LoadConfigs(options, &configs, &applied); code != kExitOk) return code;
  std::vector<vstream::tool::Stage> stages;
  for (size_t c = 0; c < configs.size(); ++c) {
    if (vstream::Status s = configs[c].Validate(); !s) {
      std::cerr << s.message() << "\n";
      return kExitConfig;  // nothing starts
    }
    // A stage gets the overrides its config took, and the same settings and plugins (with their
    // values after '=', so a value that starts with '-' stays a value).
    vstream::tool::Stage stage{options.positional[c], {}};
    for (const auto& o : applied[c]) stage.args.push_back("--set=" + o);
    if (options.stats_interval > 0) stage.args.push_back("--stats-interval=" + options.stats_interval_text);
    if (!options.log_level.empty()) stage.args.push_back("--log-level=" + options.log_level);
    // VSTREAM_PLUGIN_PATH reaches the stages through the environment.
    for (const auto& plugin : options.plugins) {
      std::error_code error;
      const std::filesystem::path absolute = std::filesystem::absolute(plugin, error);
      stage.args.push_back("--plugin=" + (error ? plugin : absolute.string()));
    }
    stages.push_back(std::move(stage));
  }
  vstream::tool::SupervisorOptions supervision;
  supervision.restarts = options.restart;
  supervision.grace_period = std::chrono::milliseconds(static_cast<int64_t>(options.grace_period * 1000));
  return vstream::tool::Supervise(std::filesystem::canonical("/proc/self/exe").string(), stages, supervision);
}

int Run(const Options& options) {
  if (options.positional.size() > 1) return RunStages(options);
  if (!options.restart_text.empty() || !options.grace_period_text.empty()) {
    return Usage("--restart and --grace-period go with several CONFIGs (they look after one process per config)", "run");
  }
  vstream::GraphConfig config;
  if (int code = LoadConfig("run", options, &config); code != kExitOk) return code;

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
      std::cerr << "input " << Quoted(options.inputs[i]) << ": " << s.message() << "\n";
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
      std::cerr << "vstream: cannot write --stats-json file " << Quoted(options.stats_json) << "\n";
      return kExitRuntime;
    }
  }
  if (!stopped) {
    std::cerr << stopped.message() << "\n";
    return kExitRuntime;
  }
  return errors > 0 ? kExitRuntime : kExitOk;
}

// "6220800 bytes (5.9 MiB)".
std::string BytesText(uint64_t bytes) {
  char text[64];
  if (bytes < 1024 * 1024) {
    std::snprintf(text, sizeof(text), "%llu bytes", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof(text), "%llu bytes (%.1f MiB)", static_cast<unsigned long long>(bytes),
                  static_cast<double>(bytes) / (1024.0 * 1024.0));
  }
  return text;
}

// One module's line of check's breakdown: how its frames add up.
std::string ModuleLine(const vstream::ModuleCapacity& m, const vstream::ConfigCapacity& c) {
  const vstream::HeldFrames& d = m.declared;
  std::ostringstream line;
  if (m.is_source) {
    line << "source";
    if (m.held > 0) line << ", " << m.held << " frame(s) in hand";
    if (d.per_stream > 0) line << ", " << d.per_stream << " frame(s) in hand per stream";
    if (d.pool_per_stream > 0) {
      const int64_t pooled = std::min(d.pool_per_stream, c.frames + d.per_stream);
      line << "; per stream a pool of " << pooled << " buffers (the frames one stream can have in flight, at most "
           << d.pool_per_stream << ")";
    }
    if (d.decoder_pictures_per_stream > 0) line << " and " << d.decoder_pictures_per_stream << " decoder pictures (4:2:0)";
    return line.str();
  }
  line << m.workers << " x (" << m.queued / m.workers << " queued + 1 in hand";
  if (m.held > 0) line << " + " << m.held / m.workers << " held: " << d.detail;
  line << ") = " << m.frames();
  if (d.shared_memory_slots > 0) line << "; " << d.shared_memory_slots << " frame-sized slots of shared memory";
  return line.str();
}

// Prints what check found for one config: the worst case in frames and bytes, module by module,
// and the warnings.
void PrintCapacity(const vstream::ConfigCapacity& c) {
  std::cout << "  frames in flight, worst case: " << c.frames << " + " << c.frames_per_stream << " per stream";
  if (c.frames_limit) std::cout << "; at most " << *c.frames_limit << ", the slots of the ModuleIPC clients that send them";
  std::cout << "\n  memory, worst case: " << BytesText(c.bytes) << " + " << BytesText(c.bytes_per_stream) << " per stream";
  if (c.shared_memory_bytes > 0) std::cout << "; of them " << BytesText(c.shared_memory_bytes) << " shared memory";
  bool received = false;
  for (const auto& m : c.modules) received |= m.declared.frames_in_shared_memory;
  if (received) std::cout << " (frames received through ModuleIPC are in the clients' shared memory, counted there)";
  std::cout << "\n  frame size: ";
  if (c.frame_bytes == 0) {
    std::cout << "frames without an image";
  } else {
    std::cout << c.width << "x" << c.height << " " << vstream::PixelFormatName(c.format) << ", " << c.frame_bytes << " bytes";
    if (c.size_assumed) std::cout << " (assumed: the config leaves the size to the input; --frame-size WxH sets it)";
  }
  std::cout << "\n";
  size_t name_width = 0;
  size_t class_width = 0;
  for (const auto& m : c.modules) {
    name_width = std::max(name_width, vstream::Excerpt(m.name, 40).size());
    class_width = std::max(class_width, m.class_name.size());
  }
  for (const auto& m : c.modules) {
    const std::string name = vstream::Excerpt(m.name, 40);
    std::cout << "    " << name << std::string(name_width - name.size() + 2, ' ') << m.class_name
              << std::string(class_width - m.class_name.size() + 2, ' ') << ModuleLine(m, c) << "\n";
  }
  for (const auto& warning : c.warnings) std::cout << "  warning: " << warning << "\n";
}

// Validates every CONFIG (nothing is opened) and prints each one's capacity.
int Check(const Options& options) {
  if (options.positional.empty()) return Usage("a CONFIG file is needed", "check");
  std::vector<vstream::GraphConfig> configs;
  if (int code = LoadConfigs(options, &configs); code != kExitOk) return code;
  int code = kExitOk;
  for (const auto& config : configs) {
    if (vstream::Status s = config.Validate(); !s) {
      std::cerr << s.message() << "\n";
      code = kExitConfig;
    }
  }
  if (code != kExitOk) return code;
  std::vector<const vstream::GraphConfig*> pointers;
  for (const auto& config : configs) pointers.push_back(&config);
  std::vector<vstream::ConfigCapacity> capacity;
  if (vstream::Status s = vstream::ComputeCapacity(pointers, options.capacity, &capacity); !s) {
    std::cerr << s.message() << "\n";
    return kExitConfig;
  }
  for (size_t c = 0; c < configs.size(); ++c) {
    std::cout << options.positional[c] << ": OK (" << configs[c].modules.size() << " modules)\n";
    PrintCapacity(capacity[c]);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cout << kUsage;
    return kExitUsage;
  }
  if (std::strcmp(argv[1], "run") == 0) {
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
  CommandLine command_line(&options);
  if (int code = command_line.Parse(argc, argv); code >= 0) return code;
  const std::string& command = command_line.command();
  if (!ReadOptionValues(command, &options)) return kExitUsage;
  if (int code = LoadPlugins(options); code != kExitOk) return code;
  if (command == "run") return Run(options);
  if (command == "check") return Check(options);
  if (command == "inspect") return Inspect(options);
  vstream::GraphConfig config;
  if (int code = LoadConfig("graph", options, &config); code != kExitOk) return code;
  std::cout << config.ToDot();
  return kExitOk;
}
