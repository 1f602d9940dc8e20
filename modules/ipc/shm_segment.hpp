// ShmSegment: a POSIX shared-memory segment (Boost.Interprocess) holding ModuleIPC's frame slots
// (private).
//
// The client creates its segment (mode 0600) under a name that carries its uid and pid,
// "vstream-<uid>-<pid>-<n>", and removes it when it closes. The server opens the client's segment
// by that name. If a process dies without cleaning up, RemoveStale() (run by every ModuleIPC
// endpoint as it starts) removes the segments whose owner pid no longer exists.
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

  /// A new segment of `bytes`, owner read/write only, with a fresh name for this process.
  static Status Create(size_t bytes, std::unique_ptr<ShmSegment>* out);
  /// Maps an existing segment; fails unless it has at least `bytes`.
  static Status Open(const std::string& name, size_t bytes, std::unique_ptr<ShmSegment>* out);
  /// Removes this user's segments whose owner process is gone. Returns how many it removed.
  static int RemoveStale();
  /// The pid a segment name says owns it; -1 when it is not a vstream segment of this user.
  static pid_t OwnerOf(const std::string& name);

  uint8_t* data() { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }
  /// Unlinks the name (the mapping stays valid). Done by the owner's destructor.
  void Remove();

 private:
  struct Mapping;
  ShmSegment() = default;
  std::unique_ptr<Mapping> mapping_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
  bool owner_ = false;
};

}  // namespace vstream::detail::ipc
