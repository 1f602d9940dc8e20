// ShmSegment: the shared memory holding ModuleIPC's frame slots (private).
//
// The client creates its segment as an anonymous memory file (memfd): it has no name in /dev/shm,
// so nobody can pre-create, open or delete it by name, and the kernel frees it when the last
// process holding it (by fd or mapping) is gone — a crash leaks nothing. Its memory is reserved
// when it is created (posix_fallocate), so writing a slot can never die of SIGBUS for want of
// memory, and it is sealed against shrinking and growing before it is shared. The client passes
// the fd to the server over the Unix socket (SCM_RIGHTS); the server maps a segment only when it
// is a memfd sealed against shrinking and at least as large as announced, so a client can never
// make the server read past the end of its memory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "vstream/status.hpp"

namespace vstream::detail::ipc {

class ShmSegment {
 public:
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  /// A new segment of `bytes`, its memory reserved and its size sealed. kUnavailable when the
  /// memory cannot be reserved (the message says why and how much).
  static Status Create(size_t bytes, std::unique_ptr<ShmSegment>* out);
  /// Maps the segment a peer passed as `fd` (taken over: closed on failure too). Fails unless it
  /// is a memfd sealed against shrinking with at least `bytes`; maps exactly `bytes`.
  static Status Adopt(int fd, size_t bytes, std::unique_ptr<ShmSegment>* out);
  /// How many bytes one segment may have in this process: RLIMIT_FSIZE, which memory files obey
  /// (exceeding it would raise SIGXFSZ); SIZE_MAX when unlimited.
  static size_t SizeLimit();

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  /// The memory file, to pass to the server.
  int fd() const { return fd_; }

 private:
  ShmSegment() = default;
  int fd_ = -1;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace vstream::detail::ipc
