#include "supervisor.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

extern char** environ;

namespace vstream::tool {
namespace {

struct Running {
  const Stage* stage;
  pid_t pid = -1;
  int restarts_left = 0;
  int exit_code = 0;
  bool done = false;
};

pid_t Spawn(const std::string& vstream, const Stage& stage, const sigset_t& mask) {
  std::vector<std::string> args = {vstream, "run", stage.config};
  args.insert(args.end(), stage.args.begin(), stage.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a terminal's Ctrl-C reaches only the supervisor (which forwards it
  // once).
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &mask);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, vstream.c_str(), nullptr, &attributes, argv.data(), environ);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    std::cerr << "vstream: cannot start a process for " << stage.config << ": " << std::strerror(rc) << "\n";
    return -1;
  }
  std::cerr << "vstream: started stage " << stage.config << " (pid " << pid << ")\n";
  return pid;
}

}  // namespace

int Supervise(const std::string& vstream, const std::vector<Stage>& stages, int restarts) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  // Stages start with SIGINT and SIGTERM blocked (vstream run takes them with sigwait), so a
  // Ctrl-C forwarded while a stage is still starting is handled, not fatal.
  sigset_t stage_mask;
  sigemptyset(&stage_mask);
  sigaddset(&stage_mask, SIGINT);
  sigaddset(&stage_mask, SIGTERM);

  std::vector<Running> running;
  for (const Stage& stage : stages) running.push_back({&stage, -1, restarts});
  for (auto& r : running) {
    r.pid = Spawn(vstream, *r.stage, stage_mask);
    if (r.pid < 0) {
      r.done = true;
      r.exit_code = 1;
    }
  }
  int interrupts = 0;
  auto live = [&] {
    int n = 0;
    for (const auto& r : running) n += r.done ? 0 : 1;
    return n;
  };
  while (live() > 0) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGINT || signal == SIGTERM) {
      ++interrupts;
      std::cerr << "\nvstream: " << (interrupts == 1 ? "stopping every stage gracefully (Ctrl-C again to abort)"
                                                      : "aborting every stage")
                << "\n";
      for (const auto& r : running) {
        if (!r.done) ::kill(r.pid, SIGINT);  // a stage aborts on its second SIGINT
      }
      continue;
    }
    // SIGCHLD: collect every stage that ended.
    int status = 0;
    pid_t pid = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      for (auto& r : running) {
        if (r.pid != pid || r.done) continue;
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        const std::string how = WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                                    : "exited with code " + std::to_string(WEXITSTATUS(status));
        if (clean || interrupts > 0) {
          r.done = true;
          r.exit_code = clean ? 0 : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
          if (!clean) std::cerr << "vstream: stage " << r.stage->config << " (pid " << pid << ") " << how << "\n";
          break;
        }
        // Exit code 2 is an invalid config: restarting cannot help.
        if (r.restarts_left > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 2)) {
          --r.restarts_left;
          std::cerr << "vstream: stage " << r.stage->config << " (pid " << pid << ") " << how << "; restarting it ("
                    << restarts - r.restarts_left << " of " << restarts << ")\n";
          r.pid = Spawn(vstream, *r.stage, stage_mask);
          if (r.pid < 0) {
            r.done = true;
            r.exit_code = 1;
          }
        } else {
          std::cerr << "vstream: stage " << r.stage->config << " (pid " << pid << ") " << how
                    << (restarts > 0 ? "; no restarts left" : "; --restart N would restart it") << "\n";
          r.done = true;
          r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        }
        break;
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  for (const auto& r : running) {
    if (r.exit_code != 0) return r.exit_code;
  }
  return 0;
}

}  // namespace vstream::tool
