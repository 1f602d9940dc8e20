// Test media made at test time with the ffmpeg CLI, and helpers around it: temporary folders,
// ffprobe frame counts, and an ffmpeg process serving a stream on 127.0.0.1 (started and killed
// by the test).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <string>
#include <vector>

extern char** environ;

namespace vstream::test {

/// A folder removed with everything in it when the test ends.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("vstream_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs a shell command; returns its exit status.
inline int Shell(const std::string& command) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/// Output of a shell command (stdout), trimmed.
inline std::string ShellOutput(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

/// Luma of frame n in the generated videos: 16 + 7n (n < 32), so the colour encodes the frame.
inline int LumaOfFrame(int64_t n) { return 16 + static_cast<int>(7 * (n % 32)); }
/// The BGR value that luma becomes after limited-range YUV -> RGB conversion.
inline int BgrOfFrame(int64_t n) { return static_cast<int>((LumaOfFrame(n) - 16) * 255.0 / 219.0 + 0.5); }

/// Encodes `frames` grey frames of width x height whose brightness encodes the frame number.
/// `codec`: an ffmpeg encoder ("libx264", "mpeg4", "png", ...); `extra`: more ffmpeg options.
inline bool MakeVideo(const std::string& path, const std::string& codec, int width, int height, int frames,
                      int rate = 25, const std::string& extra = "") {
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  const std::string command = "ffmpeg -nostdin -v error -y -f lavfi -i color=c=black:s=" + size + ":r=" +
                              std::to_string(rate) + " -frames:v " + std::to_string(frames) +
                              " -vf \"geq=lum='16+7*mod(N,32)':cb=128:cr=128\" -c:v " + codec +
                              (codec == "libx264" ? " -pix_fmt yuv420p -qp 4 -g 12" : "") +
                              (codec == "mpeg4" ? " -q:v 2 -g 12" : "") + " " + extra + " \"" + path + "\"";
  return Shell(command) == 0;
}

/// Frames ffprobe decodes from the first video stream (-count_frames).
inline int64_t ProbeFrameCount(const std::string& path) {
  const std::string out = ShellOutput("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                                      "stream=nb_read_frames -of csv=p=0 \"" + path + "\"");
  return out.empty() ? -1 : std::atoll(out.c_str());
}

/// A free TCP port on 127.0.0.1 (bound then released).
int FreePort();

/// Waits until a socket listens on 127.0.0.1:`port` (read from /proc/net/tcp, so no connection is
/// taken from the server); false after `timeout_s`. For servers the test starts itself.
bool WaitListening(int port, int timeout_s = 30);

/// A child process started with posix_spawn (never fork in a threaded test), stdin from
/// /dev/null, stdout and stderr to `log_path`, killed (SIGKILL) and reaped on Kill() or
/// destruction. Servers the network tests start on 127.0.0.1 are these.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string log_path = "/dev/null") : log_path_(std::move(log_path)) {
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
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// SIGSTOP: the process keeps its sockets open but does nothing.
  void Pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
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
  /// (The first start of GStreamer on a machine builds its plugin registry: seconds.)
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

/// The ffmpeg CLI as a ChildProcess (quiet: errors only, no stdin).
class FfmpegProcess : public ChildProcess {
 public:
  explicit FfmpegProcess(const std::vector<std::string>& args, std::string log_path = "/dev/null")
      : ChildProcess(Command(args), std::move(log_path)) {}

 private:
  static std::vector<std::string> Command(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-v", "error"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

}  // namespace vstream::test
