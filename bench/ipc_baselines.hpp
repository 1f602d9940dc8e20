// Baselines for moving video frames from one process to another, to set ModuleIPC's numbers
// against: a rotating memcpy (the upper bound: one copy, out of cache), a plain copy through a
// Unix stream socket to a second process, and Python's multiprocessing.Queue with numpy frames.
// Each returns frames/s and GB/s (10^9 bytes) for frames of frame_bytes, 0/0 when it cannot run.
//
//   auto bound = vstream::bench::MemcpyRotating(1920 * 1080 * 3, 300);
//   auto socket = vstream::bench::UnixSocketCopy(1920 * 1080 * 3, 300);   // forks: call it early
//   auto python = vstream::bench::PythonQueue(1920, 1080, 100);           // ipc_python_queue.py
#pragma once

#include <cstddef>
#include <string>

namespace vstream::bench {

struct IpcThroughput {
  double frames_per_second = 0;
  double gigabytes_per_second = 0;  // frames_per_second * frame_bytes / 1e9
};

// memcpy of one source frame into `buffers` destination frames in turn (40 x 6 MB is well past
// any L3), every page touched before the clock starts. No process boundary: the ceiling.
IpcThroughput MemcpyRotating(std::size_t frame_bytes, int frames, int buffers = 40);

// The same frames written whole through a SOCK_STREAM socketpair to a forked child that reads each
// into one buffer and touches nothing else; timed from the first byte sent to the child's one-byte
// acknowledgement of the last frame (a few warm-up frames go first, untimed). Forks: call it from
// main before any thread exists (the child only uses read/write/_exit, so it stays correct even
// if one does, but a fork of a busy multi-threaded process is not what this measures).
IpcThroughput UnixSocketCopy(std::size_t frame_bytes, int frames);

// Runs `/usr/bin/python3 script width height frames` (a relative script is taken from the bench
// source directory, VSTREAM_BENCH_DIR) and reads back its "frames_per_second <x>" line. Returns
// 0/0, with the reason on stderr, when python3 or numpy is missing or the script fails.
IpcThroughput PythonQueue(int width, int height, int frames,
                          const std::string& script = "ipc_python_queue.py");

}  // namespace vstream::bench
