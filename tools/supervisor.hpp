// Supervisor: runs several pipeline configs as separate processes (spawned, never forked from a
// process that runs pipeline threads) and looks after them: forwards Ctrl-C, reports a stage that
// dies, restarts it when allowed, and exits when every stage has ended.
#pragma once

#include <string>
#include <vector>

namespace vstream::tool {

struct Stage {
  std::string config;
  std::vector<std::string> args;  // everything after "vstream run CONFIG"
};

/// Runs the stages until all have ended. `restarts`: how often each stage is restarted after it
/// died (a signal or a non-zero exit). Returns the exit code: 0 when every stage's last run ended
/// well, else the first failing stage's code (1 for a death by signal).
int Supervise(const std::string& vstream, const std::vector<Stage>& stages, int restarts);

}  // namespace vstream::tool
