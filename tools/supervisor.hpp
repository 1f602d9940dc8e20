// Supervisor: runs several pipeline configs as separate processes (spawned, never forked from a
// process that runs pipeline threads) and looks after them: forwards Ctrl-C, SIGTERM and SIGHUP,
// kills a stage that does not stop within the grace period, restarts a stage that dies when
// allowed (with a growing delay), stops every stage when one dies for good, and exits when every
// stage has ended. The stages stop on their own when the supervisor dies (WatchSupervisor).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace vstream::tool {

struct Stage {
  std::string config;
  std::vector<std::string> args;  // everything after "vstream run CONFIG"
};

struct SupervisorOptions {
  /// How often each stage is restarted after it died (a signal, or a non-zero exit other than 2).
  int restarts = 0;
  /// How long a stage may take to stop after it was asked to (SIGINT/SIGTERM) before it is killed
  /// (SIGKILL). Longer than a pipeline's default drain_timeout (30 s), so a graceful stop that
  /// times out still ends in the stage's own abort.
  std::chrono::milliseconds grace_period{std::chrono::seconds(40)};
  /// The delay before the first restart of a stage; it doubles with each restart, up to
  /// max_restart_delay, and starts over when the stage had run at least max_restart_delay.
  std::chrono::milliseconds first_restart_delay{std::chrono::milliseconds(500)};
  std::chrono::milliseconds max_restart_delay{std::chrono::seconds(30)};
};

/// Runs the stages until all have ended. Returns the exit code: 0 when every stage's last run
/// ended well, else the failing stage's code (1 for a death by signal).
int Supervise(const std::string& vstream, const std::vector<Stage>& stages, const SupervisorOptions& options);

/// The environment variable through which a supervisor tells its stages its pid.
inline constexpr const char* kSupervisorPidVariable = "VSTREAM_SUPERVISOR_PID";

/// In a stage (`vstream run CONFIG` started by Supervise): makes the death of the supervisor send
/// this process SIGTERM (a graceful stop; PR_SET_PDEATHSIG), and sends it at once when the
/// supervisor died before this call. Call it with SIGTERM blocked (taken with sigwait later). Does
/// nothing in a process a supervisor did not start.
void WatchSupervisor();

}  // namespace vstream::tool
