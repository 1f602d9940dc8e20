// The inter-process frame-transfer baselines of ipc_baselines.hpp: memcpy into rotating buffers, a
// socketpair to a forked reader, and Python's multiprocessing.Queue run through /usr/bin/python3.
// Every timing is steady_clock around the transfer only: set-up, page faults and process start
// stay outside it, so what is left is the cost per frame of the transport itself.
#include "ipc_baselines.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

extern char** environ;

// CMake defines this as the bench source directory; built by hand, this file's own directory.
#ifndef VSTREAM_BENCH_DIR
#define VSTREAM_BENCH_DIR ""
#endif

namespace vstream::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWarmupFrames = 5;             // untimed frames sent before the clock starts
// Asked for per socket buffer; Linux doubles it, so 8 MiB in effect. Measured here: 2.3x the
// frames/s of the default 208 KiB, and no gain from 64 MiB.
constexpr int kSocketBufferBytes = 4 << 20;

IpcThroughput Throughput(std::size_t frame_bytes, int frames, double seconds) {
  if (seconds <= 0) return {};
  const double fps = frames / seconds;
  return {fps, fps * static_cast<double>(frame_bytes) / 1e9};
}

// A frame-sized block, every page written so that no first-touch fault lands inside a timing.
std::unique_ptr<std::uint8_t[]> TouchedFrame(std::size_t bytes, std::uint8_t fill) {
  auto frame = std::make_unique_for_overwrite<std::uint8_t[]>(bytes);
  std::memset(frame.get(), fill, bytes);
  return frame;
}

// read() until `bytes` have arrived; false on EOF or error. Async-signal-safe (used after fork).
bool ReadFully(int fd, std::uint8_t* into, std::size_t bytes) {
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::read(fd, into + got, bytes - got);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

// send() all of `bytes`; false when the peer is gone (MSG_NOSIGNAL: EPIPE instead of SIGPIPE).
bool SendFully(int fd, const std::uint8_t* from, std::size_t bytes) {
  std::size_t sent = 0;
  while (sent < bytes) {
    const ssize_t n = ::send(fd, from + sent, bytes - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool ReadAck(int fd) {
  char ack = 0;
  return ReadFully(fd, reinterpret_cast<std::uint8_t*>(&ack), 1);
}

// The *FORCE options go past net.core.[wr]mem_max (with CAP_NET_ADMIN); without it the plain ones
// are capped there, which a stock kernel sets to 208 KiB.
void SetSocketBuffers(int fd) {
  const int bytes = kSocketBufferBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
  }
}

// The forked reader: warm-up frames, ack, timed frames, ack, exit. Only async-signal-safe calls
// and memory allocated before the fork, so it is sound whatever the parent was doing.
[[noreturn]] void RunSocketReader(int fd, std::uint8_t* frame, std::size_t frame_bytes, int frames) {
  const char ack = 1;
  for (int i = 0; i < kWarmupFrames; ++i) {
    if (!ReadFully(fd, frame, frame_bytes)) ::_exit(1);
  }
  if (::write(fd, &ack, 1) != 1) ::_exit(1);
  for (int i = 0; i < frames; ++i) {
    if (!ReadFully(fd, frame, frame_bytes)) ::_exit(1);
  }
  if (::write(fd, &ack, 1) != 1) ::_exit(1);
  ::_exit(0);
}

std::filesystem::path ResolveScript(const std::string& script) {
  std::filesystem::path path(script);
  if (path.is_absolute()) return path;
  std::filesystem::path dir(VSTREAM_BENCH_DIR);
  if (dir.empty()) dir = std::filesystem::path(__FILE__).parent_path();
  return dir / path;
}

}  // namespace

IpcThroughput MemcpyRotating(std::size_t frame_bytes, int frames, int buffers) {
  if (frame_bytes == 0 || frames <= 0 || buffers <= 0) return {};
  const auto source = TouchedFrame(frame_bytes, 0x5a);
  std::vector<std::unique_ptr<std::uint8_t[]>> destinations;
  for (int i = 0; i < buffers; ++i) destinations.push_back(TouchedFrame(frame_bytes, 0));

  volatile std::uint8_t sink = 0;  // reads a byte of each copy so none can be optimized away
  const auto begin = Clock::now();
  for (int i = 0; i < frames; ++i) {
    std::uint8_t* destination = destinations[static_cast<std::size_t>(i % buffers)].get();
    std::memcpy(destination, source.get(), frame_bytes);
    sink = static_cast<std::uint8_t>(sink + destination[frame_bytes - 1]);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  return Throughput(frame_bytes, frames, seconds);
}

IpcThroughput UnixSocketCopy(std::size_t frame_bytes, int frames) {
  if (frame_bytes == 0 || frames <= 0) return {};
  const auto source = TouchedFrame(frame_bytes, 0x5a);
  // The reader's buffer, allocated (not touched) before the fork: the child faults it in during
  // the warm-up frames, so the fork itself copies nothing and the child never calls malloc.
  const auto destination = std::make_unique_for_overwrite<std::uint8_t[]>(frame_bytes);

  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    std::fprintf(stderr, "UnixSocketCopy: socketpair: %s\n", std::strerror(errno));
    return {};
  }
  SetSocketBuffers(fds[0]);
  SetSocketBuffers(fds[1]);

  // fork, not posix_spawn: meant to be called from main before any thread exists (see header),
  // and the child below restricts itself to async-signal-safe calls in any case.
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::fprintf(stderr, "UnixSocketCopy: fork: %s\n", std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return {};
  }
  if (pid == 0) {
    ::close(fds[0]);
    RunSocketReader(fds[1], destination.get(), frame_bytes, frames);
  }
  ::close(fds[1]);
  const int fd = fds[0];

  bool ok = true;
  for (int i = 0; ok && i < kWarmupFrames; ++i) ok = SendFully(fd, source.get(), frame_bytes);
  ok = ok && ReadAck(fd);
  const auto begin = Clock::now();
  for (int i = 0; ok && i < frames; ++i) ok = SendFully(fd, source.get(), frame_bytes);
  ok = ok && ReadAck(fd);
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();

  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "UnixSocketCopy: the reader process failed\n");
    return {};
  }
  return Throughput(frame_bytes, frames, seconds);
}

IpcThroughput PythonQueue(int width, int height, int frames, const std::string& script) {
  if (width <= 0 || height <= 0 || frames <= 0) return {};
  const char* python = "/usr/bin/python3";
  if (::access(python, X_OK) != 0) {
    std::fprintf(stderr, "PythonQueue: %s not found, skipped\n", python);
    return {};
  }
  const std::filesystem::path script_path = ResolveScript(script);
  if (!std::filesystem::exists(script_path)) {
    std::fprintf(stderr, "PythonQueue: %s not found, skipped\n", script_path.c_str());
    return {};
  }

  std::vector<std::string> args = {python, script_path.string(), std::to_string(width),
                                   std::to_string(height), std::to_string(frames)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);  // stderr passes through
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, python, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    std::fprintf(stderr, "PythonQueue: cannot start %s: %s\n", python, std::strerror(spawned));
    return {};
  }
  std::string out;
  char buffer[512];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_code == 3) {  // the script's "numpy missing" exit (2 is python's own usage error)
    std::fprintf(stderr, "PythonQueue: numpy is not installed for %s, skipped\n", python);
    return {};
  }
  const char* line = std::strstr(out.c_str(), "frames_per_second ");
  const double fps = line != nullptr ? std::strtod(line + std::strlen("frames_per_second "), nullptr) : 0;
  if (exit_code != 0 || fps <= 0) {
    std::fprintf(stderr, "PythonQueue: %s failed (exit %d), output: %s\n", script_path.c_str(), exit_code,
                 out.c_str());
    return {};
  }
  const std::size_t frame_bytes = static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3;
  return {fps, fps * static_cast<double>(frame_bytes) / 1e9};
}

}  // namespace vstream::bench
