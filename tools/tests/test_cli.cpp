// The vstream tool end to end, as a user runs it: real processes, real files, exit codes.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "media.hpp"
#include "vstream/version.hpp"

extern char** environ;

namespace vstream {
namespace {

struct Result {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `vstream ARGS` through the shell; `environment`: NAME=VALUE assignments put before it.
// `output` gets stdout and stderr, or stdout alone when `with_stderr` is false.
Result Vstream(const std::string& args, const std::string& environment = "", bool with_stderr = true) {
  Result result;
  const std::string command = environment + (environment.empty() ? "" : " ") + VSTREAM_CLI + " " + args +
                              (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// vstream started in the background with its stdout and stderr on a pipe the test reads lines from.
class Background {
 public:
  explicit Background(const std::vector<std::string>& args) {
    std::vector<std::string> all = {VSTREAM_CLI};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) std::fclose(out_);
  }
  /// Reads lines until one contains `text` (returned), or the output ends ("").
  std::string WaitForLine(const std::string& text) {
    char line[4096];
    while (std::fgets(line, sizeof(line), out_) != nullptr) {
      seen_ += line;
      if (std::strstr(line, text.c_str()) != nullptr) return line;
    }
    return {};
  }
  void Signal(int signal) {
    if (pid_ > 0) ::kill(pid_, signal);
  }
  /// Reads what is left of the output, then waits for the exit code.
  int Wait() {
    WaitForLine("\x01never printed");
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& seen() const { return seen_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::string seen_;
};

pid_t PidIn(const std::string& line) {
  const size_t at = line.find("(pid ");
  return at == std::string::npos ? -1 : static_cast<pid_t>(std::atol(line.c_str() + at + 5));
}

std::string Write(const test::ScratchDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

TEST(Cli, RunWritesAnMp4AndOneJsonLinePerFrame) {
  test::ScratchDir dir("cli_run");
  ASSERT_TRUE(test::MakeVideo(dir / "input.mp4", "libx264", 320, 240, 48));
  const std::string config = Write(dir, "pipeline.json", R"({
    // decode -> track -> draw -> encode, and the detections as JSON Lines
    "src": {"class_name": "DataSource", "next_modules": ["track"]},
    "track": {"class_name": "Tracker", "next_modules": ["osd", "results"]},
    "osd": {"class_name": "Osd", "next_modules": ["encode"]},
    "encode": {"class_name": "Encoder", "custom_params": {"path": "out/{stream}.mp4"}},
    "results": {"class_name": "ResultSink", "custom_params": {"path": "out/results.jsonl"}}
  })");
  const Result run = Vstream("run " + config + " --input clip=" + dir / "input.mp4" + " --stats-json " + dir / "stats.json");
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_NE(run.output.find("summary:"), std::string::npos) << run.output;
  EXPECT_EQ(test::ProbeFrameCount(dir / "out/clip.mp4"), 48);
  std::ifstream in(dir / "out/results.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line); ++lines) {
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["stream_id"], "clip");
    EXPECT_EQ(json["frame_index"], lines);
  }
  EXPECT_EQ(lines, 48);
  const auto stats = nlohmann::json::parse(std::ifstream(dir / "stats.json"));
  EXPECT_EQ(stats["streams"][0]["frames"], 48);
}

TEST(Cli, SetOverridesAndRuntimeErrorsHaveTheirExitCode) {
  test::ScratchDir dir("cli_errors");
  const std::string config = Write(dir, "p.json", R"({"src": {"class_name": "DataSource", "next_modules": ["sink"]},
                                                      "sink": {"class_name": "ResultSink", "custom_params": {"path": "r.jsonl"}}})");
  const Result missing = Vstream("run " + config + " --input " + dir / "nope.mp4");
  EXPECT_EQ(missing.code, 1) << missing.output;  // a stream error is a runtime error
  EXPECT_NE(missing.output.find("no such file"), std::string::npos) << missing.output;
  const Result bad_set = Vstream("run " + config + " --set sink.nope=1");
  EXPECT_EQ(bad_set.code, 2) << bad_set.output;
  EXPECT_NE(bad_set.output.find("unknown parameter 'nope'"), std::string::npos) << bad_set.output;
  EXPECT_EQ(Vstream("run").code, 64);
  EXPECT_EQ(Vstream("frobnicate x").code, 64);
}

TEST(Cli, CheckRejectsEachInvalidConfigWithItsMessage) {
  test::ScratchDir dir("cli_check");
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {"{ \"a\": {\"class_name\": \"DataSource\",, } }", "malformed JSON"},
      {R"({"a": {"class_name": "DataSourse"}})", "unknown class_name 'DataSourse' (did you mean 'DataSource'?)"},
      {R"({"a": {"class_name": "DataSource", "next_modules": ["b"]}})", "next_modules names 'b', which is not a module"},
      {R"({"s": {"class_name": "DataSource", "next_modules": ["a"]}, "a": {"class_name": "Tracker", "next_modules": ["b"]},
          "b": {"class_name": "Osd", "next_modules": ["a"]}})", "the graph has a cycle: a -> b -> a"},
      {R"({"s": {"class_name": "DataSource", "next_modules": ["i"]}, "i": {"class_name": "Inferencer"}})",
       "parameter 'model_path' is required"},
      {R"({"s": {"class_name": "DataSource", "custom_params": {"interval": 0}}})", "parameter 'interval' must be between 1"},
      {R"({"s": {"class_name": "DataSource", "next_modules": ["t"]}, "t": {"class_name": "Tracker", "parallelism": 0}})",
       "'parallelism' must be between 1 and 1024"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string path = Write(dir, "case" + std::to_string(n++) + ".json", c.json);
    const Result check = Vstream("check " + path);
    EXPECT_EQ(check.code, 2) << c.json;
    EXPECT_NE(check.output.find(c.message), std::string::npos) << "got: " << check.output << "\nwanted: " << c.message;
  }
  const std::string good = Write(dir, "good.json", R"({"s": {"class_name": "DataSource", "next_modules": ["t"]},
                                                       "t": {"class_name": "Tracker"}})");
  const Result ok = Vstream("check " + good);
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("OK (2 modules)"), std::string::npos);
  const Result graph = Vstream("graph " + good);
  EXPECT_NE(graph.output.find("\"s\" -> \"t\";"), std::string::npos) << graph.output;
}

TEST(Cli, CheckAnswersPathologicalConfigsWithTheLimitTheyBreak) {
  test::ScratchDir dir("cli_limits");
  const std::string deep = Write(dir, "deep.json",
                                 R"({"s": {"class_name": "DataSource", "parallelism": )" + std::string(100000, '[') +
                                     std::string(100000, ']') + "}}");
  Result check = Vstream("check " + deep);
  EXPECT_EQ(check.code, 2) << check.output.substr(0, 500);
  EXPECT_NE(check.output.find(deep + ":1:"), std::string::npos) << check.output.substr(0, 500);
  EXPECT_NE(check.output.find("nest deeper than 64 levels"), std::string::npos) << check.output.substr(0, 500);
  const std::string wide = Write(dir, "wide.json", R"({"s": {"class_name": "DataSource", "next_modules": ["t"]},
      "t": {"class_name": "Tracker", "parallelism": 4294967297}})");
  check = Vstream("check " + wide);
  EXPECT_EQ(check.code, 2) << check.output;
  EXPECT_NE(check.output.find("'parallelism' must be a whole number between -2147483648 and 2147483647, got 4294967297"),
            std::string::npos)
      << check.output;
}

TEST(Cli, CtrlCStopsGracefullyAndCompletesTheOutput) {
  test::ScratchDir dir("cli_sigint");
  const std::string config = Write(dir, "live.json", R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["encode", "results"],
            "custom_params": {"streams": 1, "frames": 0, "width": 160, "height": 96, "frame_rate": 200,
                              "pattern": "moving_box"}},
    "encode": {"class_name": "Encoder", "custom_params": {"path": "live.mp4"}},
    "results": {"class_name": "ResultSink", "custom_params": {"path": "live.jsonl"}}})");
  Background run({"run", config, "--stats-interval", "0.2"});
  ASSERT_NE(run.WaitForLine("uptime"), "") << run.seen();  // running: the first stats table
  run.Signal(SIGINT);
  EXPECT_EQ(run.Wait(), 0) << run.seen();
  EXPECT_NE(run.seen().find("stopping gracefully"), std::string::npos) << run.seen();
  // The stream ended with its EOS: the MP4 is complete and holds every frame the JSONL lists.
  std::ifstream in(dir / "live.jsonl");
  int64_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_GT(lines, 0);
  EXPECT_EQ(test::ProbeFrameCount(dir / "live.mp4"), lines);
}

TEST(Cli, SeveralConfigsRunAsSupervisedProcesses) {
  test::ScratchDir dir("cli_stages");
  const std::string stage = R"({"src": {"class_name": "SyntheticSource", "next_modules": ["out"],
      "custom_params": {"streams": 1, "frames": 0, "width": 32, "height": 16, "frame_rate": 100}},
      "out": {"class_name": "ResultSink", "custom_params": {"path": "NAME.jsonl"}}})";
  const std::string a = Write(dir, "a.json", std::string(stage).replace(stage.find("NAME"), 4, "a"));
  const std::string b = Write(dir, "b.json", std::string(stage).replace(stage.find("NAME"), 4, "b"));
  Background run({"run", a, b, "--restart", "1"});
  const pid_t first_a = PidIn(run.WaitForLine("started stage " + a));
  ASSERT_GT(first_a, 0) << run.seen();
  ASSERT_GT(PidIn(run.WaitForLine("started stage " + b)), 0) << run.seen();
  ::kill(first_a, SIGKILL);  // a stage dies
  EXPECT_NE(run.WaitForLine("was killed by signal 9 (SIGKILL, Killed); restarting it (1 of 1)"), "") << run.seen();
  const pid_t second_a = PidIn(run.WaitForLine("started stage " + a));
  EXPECT_GT(second_a, 0);
  EXPECT_NE(second_a, first_a);
  run.Signal(SIGINT);  // stops every stage gracefully
  EXPECT_EQ(run.Wait(), 0) << run.seen();
  EXPECT_TRUE(std::filesystem::exists(dir / "a.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(dir / "b.jsonl"));
}

TEST(Cli, SeveralConfigsAreAllValidatedBeforeAnyStarts) {
  test::ScratchDir dir("cli_stages_invalid");
  const std::string good = Write(dir, "good.json", R"({"s": {"class_name": "SyntheticSource", "next_modules": ["t"]},
                                                       "t": {"class_name": "PassThrough"}})");
  const std::string bad = Write(dir, "bad.json", R"({"s": {"class_name": "SyntheticSource", "custom_params": {"frames": -1}}})");
  const Result run = Vstream("run " + good + " " + bad);
  EXPECT_EQ(run.code, 2) << run.output;
  EXPECT_EQ(run.output.find("started stage"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("parameter 'frames' must be at least 0"), std::string::npos) << run.output;
}

TEST(Cli, InspectDescribesModules) {
  const Result list = Vstream("inspect");
  EXPECT_EQ(list.code, 0);
  for (const char* name : {"DataSource (source)", "Inferencer", "Tracker", "Osd", "Encoder", "ResultSink"}) {
    EXPECT_NE(list.output.find(name), std::string::npos) << name;
  }
  const Result one = Vstream("inspect Inferencer");
  EXPECT_NE(one.output.find("batching_timeout : number = 50"), std::string::npos) << one.output;
  EXPECT_EQ(Vstream("inspect Nope").code, 2);
}

TEST(Cli, VersionPrintsTheLibraryVersion) {
  for (const char* command : {"--version", "version"}) {
    const Result version = Vstream(command);
    EXPECT_EQ(version.code, 0) << version.output;
    EXPECT_EQ(version.output, "vstream " VSTREAM_VERSION_STRING "\n");
  }
  EXPECT_EQ(Vstream("--version extra").code, 64);
}

// TestPluginStamp (tests/plugin/) adds an object labelled with its `label` to every frame.
std::string PluginStage(const std::string& output, int frames) {
  return R"({"src": {"class_name": "SyntheticSource", "next_modules": ["stamp"],
              "custom_params": {"streams": 2, "frames": )" + std::to_string(frames) + R"(, "width": 32, "height": 16}},
             "stamp": {"class_name": "TestPluginStamp", "next_modules": ["out"], "custom_params": {"label": "from-plugin"}},
             "out": {"class_name": "ResultSink", "custom_params": {"path": ")" + output + R"("}}})";
}

int StampedLines(const std::string& path) {
  std::ifstream in(path);
  int stamped = 0;
  for (std::string line; std::getline(in, line);) {
    const auto json = nlohmann::json::parse(line);
    if (json["objects"].size() == 1 && json["objects"][0]["label"] == "from-plugin") ++stamped;
  }
  return stamped;
}

TEST(Cli, PluginClassesAreListedCheckedAndRun) {
  test::ScratchDir dir("cli_plugin");
  const std::string plugin = std::string(" --plugin ") + VSTREAM_TEST_PLUGIN;
  const std::string canonical = std::filesystem::canonical(VSTREAM_TEST_PLUGIN).string();
  const Result list = Vstream("inspect" + plugin);
  EXPECT_EQ(list.code, 0) << list.output;
  EXPECT_NE(list.output.find("TestPluginStamp: Adds an object labelled `label` to every frame (a module of the test "
                             "plugins). [plugin " + canonical + "]"),
            std::string::npos)
      << list.output;
  EXPECT_NE(list.output.find("\nResultSink: "), std::string::npos) << list.output;
  EXPECT_EQ(list.output.find("[plugin "), list.output.rfind("[plugin ")) << list.output;  // built-in ones: unmarked
  const Result one = Vstream("inspect TestPluginStamp" + plugin);
  EXPECT_EQ(one.code, 0) << one.output;
  EXPECT_NE(one.output.find("From plugin " + canonical), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("label : string = plugin"), std::string::npos) << one.output;

  const std::string config = Write(dir, "p.json", PluginStage("out.jsonl", 5));
  EXPECT_EQ(Vstream("check " + config).code, 2);  // no plugin, no such class
  EXPECT_EQ(Vstream("check " + config + plugin).code, 0);
  EXPECT_NE(Vstream("graph " + config + plugin).output.find("\"stamp\" -> \"out\";"), std::string::npos);
  const Result run = Vstream("run " + config + plugin);
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(StampedLines(dir / "out.jsonl"), 10);

  // The same from VSTREAM_PLUGIN_PATH, as a folder: every *.so in it.
  std::filesystem::create_directories(dir / "plugins");
  std::filesystem::create_symlink(VSTREAM_TEST_PLUGIN, dir / "plugins/stamp.so");
  const std::string env_config = Write(dir, "env.json", PluginStage("env.jsonl", 4));
  const Result env_run = Vstream("run " + env_config, "VSTREAM_PLUGIN_PATH=" + dir / "plugins");
  ASSERT_EQ(env_run.code, 0) << env_run.output;
  EXPECT_EQ(StampedLines(dir / "env.jsonl"), 8);
  // Both at once: the same library twice is loaded once.
  EXPECT_EQ(Vstream("check " + env_config + plugin, "VSTREAM_PLUGIN_PATH=" + dir / "plugins").code, 0);
}

TEST(Cli, PluginsReachEveryStageOfSeveralConfigs) {
  test::ScratchDir dir("cli_plugin_stages");
  const std::string a = Write(dir, "a.json", PluginStage("a.jsonl", 6));
  const std::string b = Write(dir, "b.json", PluginStage("b.jsonl", 3));
  const Result run = Vstream("run " + a + " " + b + " --plugin " + VSTREAM_TEST_PLUGIN);
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(StampedLines(dir / "a.jsonl"), 12);
  EXPECT_EQ(StampedLines(dir / "b.jsonl"), 6);
}

TEST(Cli, PluginThatFailsToLoadIsExitCode2WithTheReason) {
  test::ScratchDir dir("cli_plugin_bad");
  const Result missing = Vstream("inspect --plugin " + dir / "nope.so");
  EXPECT_EQ(missing.code, 2) << missing.output;
  EXPECT_NE(missing.output.find("--plugin: plugin '" + dir / "nope.so" + "': no such file"), std::string::npos)
      << missing.output;
  const Result dropped = Vstream(std::string("inspect --plugin ") + VSTREAM_TEST_PLUGIN_DROPPED);
  EXPECT_EQ(dropped.code, 2) << dropped.output;
  EXPECT_NE(dropped.output.find("registered no module class"), std::string::npos) << dropped.output;
  const Result env = Vstream("inspect", "VSTREAM_PLUGIN_PATH=" + dir / "nope");
  EXPECT_EQ(env.code, 2) << env.output;
  EXPECT_NE(env.output.find("VSTREAM_PLUGIN_PATH: '" + dir / "nope" + "': no such file or folder"), std::string::npos)
      << env.output;
  EXPECT_EQ(Vstream("run --plugin").code, 64);  // the option without its value
}

TEST(Cli, EachCommandHasItsOwnHelpOnStdout) {
  for (const char* form : {"run --help", "help run", "run -h"}) {
    const Result help = Vstream(form, "", /*with_stderr=*/false);
    EXPECT_EQ(help.code, 0) << form;
    EXPECT_EQ(help.output.rfind("usage: vstream run CONFIG [OPTIONS]", 0), 0u) << form << "\n" << help.output;
    for (const char* option : {"--set MODULE.KEY=VALUE", "-i,--input [ID=]URI", "--stats-interval SECONDS",
                               "--stats-json FILE", "--restart N", "--grace-period SECONDS", "--plugin LIB.so",
                               "--log-level LEVEL"}) {
      EXPECT_NE(help.output.find(option), std::string::npos) << form << ": " << option << "\n" << help.output;
    }
    EXPECT_EQ(help.output.find("--frame-size"), std::string::npos) << help.output;  // check's, not run's
  }
  const Result check = Vstream("check --help", "", false);
  EXPECT_EQ(check.code, 0);
  EXPECT_NE(check.output.find("--frame-size WxH"), std::string::npos) << check.output;
  EXPECT_EQ(check.output.find("--restart"), std::string::npos) << check.output;
  EXPECT_EQ(Vstream("--help", "", false).code, 0);
  EXPECT_EQ(Vstream("help nope").code, 64);
}

// Every option a command's --help lists is in docs/cli.md's option table, marked for that command.
TEST(Cli, HelpAndTheCliDocsListTheSameOptions) {
  std::ifstream in(std::string(VSTREAM_DOCS_DIR) + "/cli.md");
  std::stringstream docs;
  docs << in.rdbuf();
  ASSERT_FALSE(docs.str().empty());
  const std::regex option_line(R"(^  (?:-\w,)?(--[\w-]+))");
  for (const std::string command : {"run", "check", "inspect", "graph"}) {
    const Result help = Vstream(command + " --help", "", false);
    std::istringstream lines(help.output);
    int options = 0;
    for (std::string line; std::getline(lines, line);) {
      std::smatch match;
      if (!std::regex_search(line, match, option_line)) continue;
      ++options;
      const std::string name = match[1];
      const size_t row = docs.str().find("\n| `" + name);
      ASSERT_NE(row, std::string::npos) << name << " (" << command << ") is not in docs/cli.md's option table";
      const std::string text = docs.str().substr(row + 1, docs.str().find('\n', row + 1) - row - 1);
      const std::string commands = text.substr(text.find(" | ") + 3);
      EXPECT_TRUE(commands.rfind("all", 0) == 0 || commands.substr(0, commands.find(" | ")).find(command) != std::string::npos)
          << name << " is an option of " << command << " but docs/cli.md says: " << text;
    }
    EXPECT_GE(options, 3) << help.output;
  }
}

TEST(Cli, OptionsTakeTheirValueAfterASpaceOrAnEqualsSign) {
  test::ScratchDir dir("cli_spellings");
  const std::string config = Write(dir, "p.json", R"({"s": {"class_name": "DataSource", "next_modules": ["t"]},
                                                      "t": {"class_name": "Tracker"}})");
  const Result spaced = Vstream("graph " + config + " --set t.parallelism=3");
  const Result joined = Vstream("graph " + config + " --set=t.parallelism=3");
  EXPECT_EQ(joined.code, 0) << joined.output;
  EXPECT_NE(joined.output.find("x3, queue 20"), std::string::npos) << joined.output;
  EXPECT_EQ(joined.output, spaced.output);
  const Result bad = Vstream("check " + config + " --set=t.parallelism=0");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("'parallelism' must be between 1 and 1024"), std::string::npos) << bad.output;
  EXPECT_EQ(Vstream("check " + config + " --frame-size=640x480").code, 0);
}

TEST(Cli, UnknownOptionsAndOptionsOfOtherCommandsAreNamed) {
  test::ScratchDir dir("cli_strict");
  const std::string config = Write(dir, "p.json", R"({"s": {"class_name": "DataSource", "next_modules": ["t"]},
                                                      "t": {"class_name": "Tracker"}})");
  struct Case {
    std::string args;
    std::string message;
  };
  const Case cases[] = {
      {"check " + config + " --restart 2", "vstream check: option '--restart' does not apply to check (it is an option of run)"},
      {"inspect --input x", "vstream inspect: option '--input' does not apply to inspect (it is an option of run)"},
      {"graph " + config + " --frame-size 10x10", "option '--frame-size' does not apply to graph (it is an option of check)"},
      {"run " + config + " --markdown", "option '--markdown' does not apply to run (it is an option of inspect)"},
      {"check " + config + " --frobnicate=1", "vstream check: unknown option '--frobnicate'"},
      {"check " + config + " --frame-siz 10x10", "unknown option '--frame-siz' (did you mean --frame-size?)"},
      {"run " + config + " --restart 2", "--restart and --grace-period go with several CONFIGs"},
      {"--frobnicate", "vstream: unknown option '--frobnicate'"},
      {"version extra", "unexpected argument 'extra'"},
      {"check " + config + " --frame-size 10", "--frame-size takes WIDTHxHEIGHT"},
      {"run --plugin", "option '--plugin' needs a value"},
      {"run " + config + " --stats-interval 0.0001", "--stats-interval takes seconds: 0 (no table) or from 0.1 to 86400"},
      {"run " + config + " --stats-interval=", "option '--stats-interval' needs a value"},
  };
  for (const Case& c : cases) {
    const Result result = Vstream(c.args);
    EXPECT_EQ(result.code, 64) << c.args << "\n" << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.args << "\ngot: " << result.output;
  }
}

TEST(Cli, CheckPrintsTheWorstCaseInFramesAndBytes) {
  test::ScratchDir dir("cli_capacity");
  // A fan-out: the source's frames go to an Inferencer (2 workers, batches of 3) that sends them to
  // another process, and to a Tracker.
  const std::string config = Write(dir, "fan_out.json", R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["infer", "track"],
            "custom_params": {"width": 640, "height": 360, "threads": 2}},
    "infer": {"class_name": "Inferencer", "parallelism": 2, "max_input_queue_size": 5, "next_modules": ["ipc"],
              "custom_params": {"model_path": "not-loaded.onnx", "postproc_name": "ssd", "batch_size": 3}},
    "track": {"class_name": "Tracker", "max_input_queue_size": 10},
    "ipc": {"class_name": "ModuleIPC", "max_input_queue_size": 3,
            "custom_params": {"ipc_type": "client", "socket_address": "cli_capacity", "max_cachedframe_size": 6}}})");
  const Result check = Vstream("check " + config);
  ASSERT_EQ(check.code, 0) << check.output;
  // src: 2 producer threads, a frame in hand each.
  // infer: 2 workers x (5 queued + 1 in hand + batch queue max(4, 2 x 3) + running batch 3) = 30.
  // track: 10 + 1 = 11. ipc: 3 + 1 = 4. In all 2 + 30 + 11 + 4 = 47, whatever the streams.
  EXPECT_NE(check.output.find("frames in flight, worst case: 47 + 0 per stream"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("2 x (5 queued + 1 in hand + 9 held: batch queue 6 + running batch 3) = 30"),
            std::string::npos)
      << check.output;
  // Frames of 640 x 360 x 3 = 691200 bytes: 47 frames, and the client's 6 shared-memory slots.
  EXPECT_NE(check.output.find("frame size: 640x360 bgr24, 691200 bytes\n"), std::string::npos) << check.output;
  EXPECT_NE(check.output.find("memory, worst case: " + std::to_string((47 + 6) * 691200) + " bytes (34.9 MiB) + 0 bytes per stream; of them " +
                              std::to_string(6 * 691200) + " bytes (4.0 MiB) shared memory"),
            std::string::npos)
      << check.output;
  EXPECT_EQ(check.output.find("warning"), std::string::npos) << check.output;

  // A DataSource at an assumed 320x240: a Tracker's 21 frames, and per stream the frame in hand, a
  // pool of the 22 frames one stream can have in flight and 16 + 2 decoder pictures (4:2:0).
  const std::string decode = Write(dir, "decode.json", R"({"s": {"class_name": "DataSource", "next_modules": ["t"],
                                                                 "custom_params": {"decoder_threads": 2}},
                                                           "t": {"class_name": "Tracker"}})");
  const Result sized = Vstream("check " + decode + " --frame-size 320x240");
  ASSERT_EQ(sized.code, 0) << sized.output;
  EXPECT_NE(sized.output.find("frames in flight, worst case: 21 + 1 per stream"), std::string::npos) << sized.output;
  EXPECT_NE(sized.output.find("memory, worst case: 0 bytes + " + std::to_string(22 * 230400 + 18 * 115200) +
                              " bytes (6.8 MiB) per stream"),
            std::string::npos)
      << sized.output;
  EXPECT_NE(sized.output.find("frame size: 320x240 bgr24, 230400 bytes (assumed"), std::string::npos) << sized.output;
}

TEST(Cli, CheckWarnsOfABatchThatCanNeverFill) {
  test::ScratchDir dir("cli_starve");
  // At most 4 frames are ever in process b: the Inferencer waits 50 ms for every batch of 8.
  const std::string a = Write(dir, "a.json", R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["ipc"], "custom_params": {"width": 64, "height": 64}},
    "ipc": {"class_name": "ModuleIPC", "custom_params": {"ipc_type": "client", "socket_address": "cli_starve",
                                                           "max_cachedframe_size": 4}}})");
  const std::string b = Write(dir, "b.json", R"({
    "ipc": {"class_name": "ModuleIPC", "next_modules": ["detect"],
            "custom_params": {"ipc_type": "server", "socket_address": "cli_starve"}},
    "detect": {"class_name": "Inferencer",
               "custom_params": {"model_path": "m.onnx", "postproc_name": "ssd", "batch_size": 8, "batching_timeout": 50}}})");
  const Result starved = Vstream("check " + a + " " + b);
  EXPECT_EQ(starved.code, 0) << starved.output;  // a warning, not an invalid config
  EXPECT_NE(starved.output.find("warning: module 'detect' (Inferencer) waits for 8 frames (its batch_size) before it "
                                "works on them, but at most 4 can be in this process at once"),
            std::string::npos)
      << starved.output;
  EXPECT_NE(starved.output.find("'ipc' in " + a + " (max_cachedframe_size 4)"), std::string::npos) << starved.output;
  EXPECT_NE(starved.output.find("waits its whole timeout (50 ms)"), std::string::npos) << starved.output;
  EXPECT_NE(starved.output.find("at most 4, the slots of the ModuleIPC clients"), std::string::npos) << starved.output;
  // Enough slots, or a batch that fits: no warning.
  EXPECT_EQ(Vstream("check " + a + " " + b + " --set ipc.max_cachedframe_size=8").output.find("warning"),
            std::string::npos);
  EXPECT_EQ(Vstream("check " + a + " " + b + " --set detect.batch_size=4").output.find("warning"), std::string::npos);

  // The ordinary shapes, fan-out and fan-in with any queue policy, never wait on themselves.
  const std::string shapes = Write(dir, "shapes.json", R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["left", "right"]},
    "left": {"class_name": "PassThrough", "next_modules": ["join"], "queue_policy": "drop_oldest", "max_input_queue_size": 1},
    "right": {"class_name": "Inferencer", "next_modules": ["join"],
              "custom_params": {"model_path": "m.onnx", "postproc_name": "ssd", "batch_size": 16}},
    "join": {"class_name": "PassThrough", "max_input_queue_size": 1}})");
  const Result ordinary = Vstream("check " + shapes);
  EXPECT_EQ(ordinary.code, 0) << ordinary.output;
  EXPECT_EQ(ordinary.output.find("warning"), std::string::npos) << ordinary.output;
}

TEST(Cli, ValuesInMessagesAreClippedToOneShortLine) {
  test::ScratchDir dir("cli_clip");
  // A nested parameter value of 100 KB.
  std::string nested = "[";
  for (int i = 0; i < 2000; ++i) nested += (i == 0 ? "[\"" : ",[\"") + std::string(46, 'v') + "\"]";
  nested += "]";
  const std::string config = Write(dir, "nested.json", R"({"s": {"class_name": "DataSource", "custom_params": {"inputs": )" +
                                                           nested + "}}}");
  const Result check = Vstream("check " + config);
  EXPECT_EQ(check.code, 2);
  EXPECT_LT(check.output.size(), 300u + config.size()) << check.output.substr(0, 500);
  EXPECT_NE(check.output.find("(" + std::to_string(nested.size()) + " bytes in all)"), std::string::npos)
      << check.output.substr(0, 500);

  // Overrides and arguments of 100 KB (an argument may be up to 128 KB).
  const std::string good = Write(dir, "good.json", R"({"s": {"class_name": "DataSource"}})");
  const std::string huge(100000, 'k');
  for (const std::string& args : {"check " + good + " --set nomodule." + huge + "=1", "check " + good + " --" + huge,
                                  "inspect " + huge, "run " + good + " --stats-interval " + huge,
                                  "check " + good + " --set s.interval=" + huge}) {
    const Result result = Vstream(args);
    EXPECT_NE(result.code, 0);
    EXPECT_LT(result.output.size(), 600u + good.size()) << args.substr(0, 40) << ": " << result.output.substr(0, 700);
    EXPECT_NE(result.output.find("bytes in all)"), std::string::npos) << args.substr(0, 40) << ": " << result.output.substr(0, 700);
  }
}

}  // namespace
}  // namespace vstream
