// Test support for ModuleIPC: a peer process (this test binary run again with --ipc-peer CONFIG),
// the modules the peers use to decorate and log frames, and helpers to read their logs.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/media.hpp"

namespace vstream::test {

/// Runs the pipeline in `config` until its streams end or SIGTERM comes (the body of a peer
/// process). Events go to stderr as "event <type> <module> <stream> <message>".
int RunPeer(const std::string& config);

/// This test binary started again as a peer process, its stdout and stderr read by a thread.
class Peer {
 public:
  /// `run_as` non-empty: run it under that user (setpriv), for the other-uid test.
  explicit Peer(const std::string& config, const std::string& run_as = "");
  ~Peer();  // kills the process if it still runs
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  pid_t pid() const { return pid_; }
  /// Waits until `count` lines of the output contain `text`; false after a minute without them
  /// (or when the output ended first).
  bool WaitFor(const std::string& text, int count = 1);
  /// SIGTERM: the peer stops its pipeline gracefully.
  void Terminate();
  /// kill -9, then reaps the process (so nothing of it is left, not even a zombie).
  void Kill();
  /// Waits for the exit code (-1 when killed by a signal); false after two minutes.
  int Wait();
  std::string Output();

 private:
  void Read(int fd);
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;  // guarded by mutex_
  bool ended_ = false;  // guarded by mutex_
};

/// A socket in a scratch folder and the configs of the peers that meet on it.
struct IpcScenario {
  explicit IpcScenario(const std::string& tag) : dir(tag), socket(dir / "ipc.sock") {}
  std::string Write(const std::string& name, const std::string& json) const;
  /// SyntheticSource(source_params) -> Decorate -> ModuleIPC client -> FrameLog "<name>.log" (what was sent).
  std::string Client(const std::string& name, const std::string& source_params, int slots) const;
  /// ModuleIPC server -> FrameLog "<name>.log" (what arrived), echoing "framelog STREAM INDEX" to stderr.
  /// `extra_params`: more custom_params, each with a leading comma (`, "max_clients": 1`).
  std::string Server(const std::string& name, bool keep_serving, const std::string& extra_params = "") const;
  std::string Log(const std::string& name) const { return dir / (name + ".log"); }
  ScratchDir dir;
  std::string socket;
};

/// One line per frame as FrameLog wrote it, by stream.
std::map<std::string, std::vector<std::string>> ReadFrameLog(const std::string& path);
/// The frame index a FrameLog line starts with (after the stream id).
long IndexOf(const std::string& line);
/// Shared-memory segments in /dev/shm that belong to process `pid`.
std::vector<std::string> SegmentsOf(pid_t pid);

}  // namespace vstream::test
