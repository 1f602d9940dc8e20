// `vstream run a.json b.json`: the supervisor and its stages as real processes, killed and
// signalled the way a machine does it (kill -9, a hangup, a stage that does not stop). Everything
// is observed by polling with a generous deadline; nothing waits a fixed time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "media.hpp"

extern char** environ;

namespace vstream {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kDeadline = std::chrono::seconds(60);

// A process started from the test with its stdout and stderr on a pipe read with a deadline. The
// test process is a child subreaper, so stages orphaned by a killed supervisor become its
// children: it can wait for them and kills whatever is left at the end.
class Process {
 public:
  explicit Process(const std::vector<std::string>& args, const std::vector<std::string>& environment = {}) {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::vector<std::string> all = {VSTREAM_CLI};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings(environment);
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Process() {
    for (pid_t pid : others_) {  // only real pids (never 0 or -1: kill(-1) signals every process)
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  /// Reads output until a line contains `text` (returned), or the output ends or the deadline
  /// passes ("").
  std::string WaitForLine(const std::string& text) {
    const auto deadline = Clock::now() + kDeadline;
    while (true) {
      for (size_t end; (end = pending_.find('\n')) != std::string::npos;) {
        std::string line = pending_.substr(0, end + 1);
        pending_.erase(0, end + 1);
        seen_ += line;
        if (line.find(text) != std::string::npos) return line;
      }
      if (!Read(deadline)) return {};
    }
  }
  /// The exit status of the process (as waitpid gives it), or nothing when it still runs at the
  /// deadline.
  std::optional<int> WaitExit() { return WaitExitOf(pid_, &pid_); }
  /// The same for another process that became the test's child (an orphaned stage).
  std::optional<int> WaitExitOfOrphan(pid_t pid) { return WaitExitOf(pid, nullptr); }
  /// Kills `pid` when the test ends, should it still run.
  void CleanUp(pid_t pid) {
    if (pid > 0) others_.push_back(pid);
  }
  void Signal(int signal) const {
    if (pid_ > 0) ::kill(pid_, signal);
  }
  pid_t pid() const { return pid_; }
  /// Everything read so far, and what more comes within a short while (all of it once every
  /// writer has exited), for assertions and failure messages.
  const std::string& seen() {
    Drain(Clock::now() + std::chrono::milliseconds(200));
    return seen_;
  }

 private:
  bool Read(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buffer[4096];
    const ssize_t n = ::read(out_, buffer, sizeof(buffer));
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }
  void Drain(Clock::time_point deadline) {
    while (Read(deadline)) {
    }
    seen_ += pending_;
    pending_.clear();
  }
  std::optional<int> WaitExitOf(pid_t pid, pid_t* reset) {
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        if (reset != nullptr) *reset = -1;
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, with the deadline above
    }
    return std::nullopt;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::string seen_;
  std::vector<pid_t> others_;
};

pid_t PidIn(const std::string& line) {
  const size_t at = line.find("(pid ");
  return at == std::string::npos ? -1 : static_cast<pid_t>(std::atol(line.c_str() + at + 5));
}

// Two endless stages, each writing its frames to NAME.jsonl.
struct Stages {
  explicit Stages(const test::ScratchDir& dir) {
    const std::string stage = R"({"src": {"class_name": "SyntheticSource", "next_modules": ["out"],
        "custom_params": {"streams": 1, "frames": 0, "width": 32, "height": 16, "frame_rate": 50}},
        "out": {"class_name": "ResultSink", "custom_params": {"path": "NAME.jsonl"}}})";
    a = dir / "a.json";
    b = dir / "b.json";
    std::ofstream(a) << std::string(stage).replace(stage.find("NAME"), 4, "a");
    std::ofstream(b) << std::string(stage).replace(stage.find("NAME"), 4, "b");
  }
  std::string a, b;
};

// Starts the supervisor on both stages and reads their pids.
struct Started {
  Started(const Stages& stages, const std::vector<std::string>& options) : run(Args(stages, options)) {
    a = PidIn(run.WaitForLine("started stage " + stages.a));
    b = PidIn(run.WaitForLine("started stage " + stages.b));
    run.CleanUp(a);
    run.CleanUp(b);
  }
  static std::vector<std::string> Args(const Stages& stages, const std::vector<std::string>& options) {
    std::vector<std::string> args = {"run", stages.a, stages.b};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  }
  Process run;
  pid_t a = -1;
  pid_t b = -1;
};

bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// kill(2) for a pid read from the output; a pid that was not found (-1) must never reach kill,
// where -1 means every process.
void KillStage(pid_t pid, int signal) {
  ASSERT_GT(pid, 0);
  ::kill(pid, signal);
}

TEST(Supervisor, AStageThatDiesForGoodStopsTheOthersAndTheExitNamesIt) {
  test::ScratchDir dir("supervisor_stage_died");
  Stages stages(dir);
  Started s(stages, {});
  ASSERT_GT(s.a, 0) << s.run.seen();
  ASSERT_GT(s.b, 0) << s.run.seen();
  KillStage(s.a, SIGKILL);  // a stage dies, no restart allowed
  const std::optional<int> status = s.run.WaitExit();
  ASSERT_TRUE(status.has_value()) << "the supervisor still runs:\n" << s.run.seen();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  const std::string& out = s.run.seen();
  EXPECT_NE(out.find("stopping the other stages because stage " + stages.a + " (pid " + std::to_string(s.a) +
                     ") was killed by signal 9 (SIGKILL"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("exiting with code 1: stage " + stages.a), std::string::npos) << out;
  EXPECT_FALSE(Alive(s.b));  // stopped and reaped by the supervisor
  EXPECT_TRUE(std::filesystem::exists(dir / "b.jsonl"));
}

TEST(Supervisor, StagesStopWhenTheSupervisorIsKilled) {
  test::ScratchDir dir("supervisor_killed");
  Stages stages(dir);
  Started s(stages, {});
  ASSERT_GT(s.a, 0) << s.run.seen();
  ASSERT_GT(s.b, 0) << s.run.seen();
  s.run.Signal(SIGKILL);
  ASSERT_TRUE(s.run.WaitExit().has_value());
  // The orphaned stages come to this process (a subreaper); each must stop on its own.
  for (pid_t stage : {s.a, s.b}) {
    const std::optional<int> status = s.run.WaitExitOfOrphan(stage);
    ASSERT_TRUE(status.has_value()) << "stage " << stage << " still runs without its supervisor\n" << s.run.seen();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;  // a graceful stop
  }
}

TEST(Supervisor, AStageWhoseSupervisorDiedBeforeItStartedStopsAtOnce) {
  test::ScratchDir dir("supervisor_gone");
  Stages stages(dir);
  // This stage's parent is the test, not the pid it is told: its supervisor is already gone.
  Process stage({"run", stages.a}, {"VSTREAM_SUPERVISOR_PID=1"});
  const std::optional<int> status = stage.WaitExit();
  ASSERT_TRUE(status.has_value()) << "the stage still runs:\n" << stage.seen();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status << "\n" << stage.seen();
  EXPECT_NE(stage.seen().find("stopping gracefully"), std::string::npos) << stage.seen();
}

TEST(Supervisor, HangupStopsEveryStageLikeSigterm) {
  test::ScratchDir dir("supervisor_hangup");
  Stages stages(dir);
  Started s(stages, {});
  ASSERT_GT(s.b, 0) << s.run.seen();
  s.run.Signal(SIGHUP);
  const std::optional<int> status = s.run.WaitExit();
  ASSERT_TRUE(status.has_value()) << s.run.seen();
  ASSERT_TRUE(WIFEXITED(*status)) << "the supervisor died of signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0) << s.run.seen();
  EXPECT_NE(s.run.seen().find("hangup: stopping every stage gracefully"), std::string::npos) << s.run.seen();
  EXPECT_FALSE(Alive(s.a));
  EXPECT_FALSE(Alive(s.b));
}

TEST(Supervisor, AStageThatDoesNotStopIsKilledAfterTheGracePeriod) {
  test::ScratchDir dir("supervisor_grace");
  Stages stages(dir);
  // Long enough for the stage that can stop to do so on a loaded machine.
  Started s(stages, {"--grace-period", "5"});
  ASSERT_GT(s.a, 0) << s.run.seen();
  ASSERT_GT(s.b, 0) << s.run.seen();
  KillStage(s.a, SIGSTOP);  // a stopped process takes no SIGINT/SIGTERM, only SIGKILL
  s.run.Signal(SIGTERM);
  const std::optional<int> status = s.run.WaitExit();
  ASSERT_TRUE(status.has_value()) << "the supervisor still waits for a stage that cannot stop\n" << s.run.seen();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);  // a stage had to be killed
  const std::string& out = s.run.seen();
  EXPECT_NE(out.find("stage " + stages.a + " (pid " + std::to_string(s.a) + ") did not stop within 5.0 s; killing it"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("stage " + stages.b + " (pid " + std::to_string(s.b) + ") did not stop"), std::string::npos) << out;
  EXPECT_FALSE(Alive(s.a));
}

TEST(Supervisor, RestartsWaitLongerEachTime) {
  test::ScratchDir dir("supervisor_backoff");
  Stages stages(dir);
  Started s(stages, {"--restart", "2"});
  ASSERT_GT(s.a, 0) << s.run.seen();
  KillStage(s.a, SIGKILL);
  ASSERT_NE(s.run.WaitForLine("was killed by signal 9 (SIGKILL, Killed); restarting it (1 of 2) in 0.5 s"), "")
      << s.run.seen();
  const pid_t second = PidIn(s.run.WaitForLine("started stage " + stages.a));
  ASSERT_GT(second, 0) << s.run.seen();
  s.run.CleanUp(second);
  KillStage(second, SIGKILL);
  ASSERT_NE(s.run.WaitForLine("restarting it (2 of 2) in 1.0 s"), "") << s.run.seen();
  const pid_t third = PidIn(s.run.WaitForLine("started stage " + stages.a));
  ASSERT_GT(third, 0) << s.run.seen();
  s.run.CleanUp(third);
  s.run.Signal(SIGINT);
  const std::optional<int> status = s.run.WaitExit();
  ASSERT_TRUE(status.has_value()) << s.run.seen();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << s.run.seen();
}

}  // namespace
}  // namespace vstream
