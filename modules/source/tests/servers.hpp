// Servers the network tests start on 127.0.0.1 and stop again, also when a test fails: any
// program (the RTSP server script on /usr/bin/python3, the ffmpeg CLI), its output kept in a log
// file that a failure message quotes.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "media.hpp"

namespace vstream::test {

/// The folder of this file (set by CMake): the helper scripts live here.
inline std::string SourceTestsDir() { return VSTREAM_SOURCE_TESTS_DIR; }

/// A child process started with posix_spawn (never fork in a threaded test), stdout and stderr
/// to `log_path`, killed (SIGKILL) and reaped on Kill() or destruction.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& argv, std::string log_path) : log_path_(std::move(log_path)) {
    std::vector<std::string> storage = argv;
    std::vector<char*> args;
    for (auto& a : storage) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    if (const int error = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ); error != 0) {
      pid_ = -1;
      spawn_error_ = "cannot start " + storage[0] + ": " + std::strerror(error);
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServerProcess() { Kill(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// kill -9, then reap.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  /// True while the process runs (false when it could not start or has exited).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  /// Waits until the process listens on TCP `port`; false when it exits first or after `timeout`.
  /// The first start of GStreamer on a machine builds its plugin registry: seconds.
  bool WaitListening(int port, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Running()) return false;
      if (test::WaitListening(port, 1)) return true;
    }
    return false;
  }
  /// What the process wrote so far, and how it ended.
  std::string Describe() {
    if (!spawn_error_.empty()) return spawn_error_;
    const bool running = Running();
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return (running ? std::string("still running") : "exited with status " + std::to_string(exit_status_)) +
           "; its output: " + (text.str().empty() ? "(none)" : text.str());
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::string spawn_error_;
};

}  // namespace vstream::test
