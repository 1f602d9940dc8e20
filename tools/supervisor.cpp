#include "supervisor.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

extern char** environ;

namespace vstream::tool {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  const Stage* stage;
  pid_t pid = -1;                // while it runs
  int restarts_left = 0;
  std::chrono::milliseconds next_delay{0};
  Clock::time_point started_at;
  std::optional<Clock::time_point> restart_at;  // waiting to be restarted
  int exit_code = 0;
  bool done = false;
};

std::string SignalName(int signal) {
  const char* abbreviation = sigabbrev_np(signal);
  const char* description = strsignal(signal);
  std::string name = "signal " + std::to_string(signal);
  if (abbreviation != nullptr) name += std::string(" (SIG") + abbreviation + (description ? std::string(", ") + description : "") + ")";
  return name;
}

std::string HowItEnded(int status) {
  return WIFSIGNALED(status) ? "was killed by " + SignalName(WTERMSIG(status))
                             : "exited with code " + std::to_string(WEXITSTATUS(status));
}

std::string Seconds(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

pid_t Spawn(const std::string& vstream, const Stage& stage, const sigset_t& mask) {
  std::vector<std::string> args = {vstream, "run", stage.config};
  args.insert(args.end(), stage.args.begin(), stage.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a terminal's Ctrl-C (or hangup) reaches only the supervisor (which
  // forwards it once).
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

void WatchSupervisor() {
  const char* value = std::getenv(kSupervisorPidVariable);
  if (value == nullptr) return;
  const pid_t supervisor = static_cast<pid_t>(std::atol(value));
  ::unsetenv(kSupervisorPidVariable);  // not for processes this one starts
  if (supervisor <= 0) return;
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The supervisor may have died before the line above: then nobody sends the signal.
  if (::getppid() != supervisor) ::kill(::getpid(), SIGTERM);
}

int Supervise(const std::string& vstream, const std::vector<Stage>& stages, const SupervisorOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGCHLD);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  // Stages start with SIGINT and SIGTERM blocked (vstream run takes them with sigwait), so a
  // Ctrl-C forwarded while a stage is still starting is handled, not fatal.
  sigset_t stage_mask;
  sigemptyset(&stage_mask);
  sigaddset(&stage_mask, SIGINT);
  sigaddset(&stage_mask, SIGTERM);
  // The stages learn who supervises them, to stop when it dies (WatchSupervisor).
  ::setenv(kSupervisorPidVariable, std::to_string(::getpid()).c_str(), 1);

  std::vector<Running> running;
  for (const Stage& stage : stages) running.push_back({&stage, -1, options.restarts, options.first_restart_delay});

  int interrupts = 0;
  bool stopping = false;
  std::optional<Clock::time_point> kill_at;  // when the stages still running get SIGKILL
  const Running* failed = nullptr;            // the stage whose death stopped the others
  std::string failure;                        // how it died

  // Asks every running stage to stop (and cancels pending restarts); SIGKILL follows after the
  // grace period.
  auto stop_all = [&](int signal) {
    if (!stopping) kill_at = Clock::now() + options.grace_period;
    stopping = true;
    for (auto& r : running) {
      if (r.done) continue;
      if (r.pid > 0) {
        ::kill(r.pid, signal);
      } else {
        r.done = true;  // was waiting for a restart
        r.restart_at.reset();
      }
    }
  };
  // A stage that died for good (or could not start) stops the others: a split pipeline without
  // one of its parts would wait forever.
  auto give_up = [&](Running& r, const std::string& how) {
    r.done = true;
    if (failed != nullptr || stopping) return;
    failed = &r;
    failure = how;
    bool others = false;
    for (const auto& other : running) others |= !other.done;
    if (others) {
      std::cerr << "vstream: stopping the other stages because stage " << r.stage->config << " " << how << "\n";
    }
    stop_all(SIGTERM);
  };
  auto start = [&](Running& r) {
    r.restart_at.reset();
    r.pid = Spawn(vstream, *r.stage, stage_mask);
    r.started_at = Clock::now();
    if (r.pid < 0) {
      r.exit_code = 1;
      give_up(r, "could not be started");
    }
  };
  for (auto& r : running) {
    if (!r.done) start(r);
  }

  auto live = [&] {
    int n = 0;
    for (const auto& r : running) n += r.done ? 0 : 1;
    return n;
  };
  while (live() > 0) {
    // Wait for a signal, or for the next thing due: a restart, or the end of the grace period.
    std::optional<Clock::time_point> due = kill_at;
    for (const auto& r : running) {
      if (r.restart_at && (!due || *r.restart_at < *due)) due = r.restart_at;
    }
    int signal = -1;
    if (due) {
      const auto wait = std::max(Clock::duration::zero(), *due - Clock::now());
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
      timespec timeout{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      signal = sigtimedwait(&signals, nullptr, &timeout);  // -1: the time is up (or EINTR)
    } else if (sigwait(&signals, &signal) != 0) {
      continue;
    }

    if (signal == SIGINT || signal == SIGTERM || signal == SIGHUP) {
      ++interrupts;
      const char* what = signal == SIGHUP ? "hangup" : signal == SIGTERM ? "SIGTERM" : "Ctrl-C";
      if (interrupts == 1) {
        std::cerr << "\nvstream: " << what << ": stopping every stage gracefully (Ctrl-C again to abort)\n";
      } else {
        std::cerr << "\nvstream: " << what << ": " << (interrupts == 2 ? "aborting" : "killing") << " every stage\n";
      }
      stop_all(SIGINT);  // a stage aborts on its second SIGINT
      if (interrupts >= 3) kill_at = Clock::now();  // the third one kills them
    } else if (signal == SIGCHLD) {
      // Collect every stage that ended.
      int status = 0;
      pid_t pid = 0;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        for (auto& r : running) {
          if (r.pid != pid || r.done) continue;
          r.pid = -1;
          const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
          r.exit_code = clean ? 0 : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
          const std::string how = "(pid " + std::to_string(pid) + ") " + HowItEnded(status);
          if (clean || stopping) {
            r.done = true;
            if (!clean) std::cerr << "vstream: stage " << r.stage->config << " " << how << "\n";
            break;
          }
          // Exit code 2 is an invalid config: restarting cannot help.
          if (r.restarts_left > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 2)) {
            --r.restarts_left;
            // A stage that ran a good while before it died starts over with the shortest delay.
            if (Clock::now() - r.started_at >= options.max_restart_delay) r.next_delay = options.first_restart_delay;
            std::cerr << "vstream: stage " << r.stage->config << " " << how << "; restarting it ("
                      << options.restarts - r.restarts_left << " of " << options.restarts << ") in "
                      << Seconds(r.next_delay) << "\n";
            r.restart_at = Clock::now() + r.next_delay;
            r.next_delay = std::min(r.next_delay * 2, options.max_restart_delay);
          } else {
            std::cerr << "vstream: stage " << r.stage->config << " " << how
                      << (options.restarts > 0 ? "; no restarts left" : "; --restart N would restart it") << "\n";
            give_up(r, how);
          }
          break;
        }
      }
    }

    const auto now = Clock::now();
    if (kill_at && now >= *kill_at) {
      kill_at.reset();
      for (const auto& r : running) {
        if (r.done || r.pid <= 0) continue;
        std::cerr << "vstream: stage " << r.stage->config << " (pid " << r.pid << ") did not stop within "
                  << Seconds(options.grace_period) << "; killing it (SIGKILL)\n";
        ::kill(r.pid, SIGKILL);
      }
    }
    for (auto& r : running) {
      if (!r.done && r.restart_at && now >= *r.restart_at) start(r);
    }
  }
  ::unsetenv(kSupervisorPidVariable);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (failed != nullptr) {
    std::cerr << "vstream: exiting with code " << failed->exit_code << ": stage " << failed->stage->config << " "
              << failure << "\n";
    return failed->exit_code;
  }
  for (const auto& r : running) {
    if (r.exit_code != 0) return r.exit_code;
  }
  return 0;
}

}  // namespace vstream::tool
