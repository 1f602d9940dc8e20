#include "shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vstream::detail::ipc {

namespace {
std::string Megabytes(size_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }
}  // namespace

ShmSegment::~ShmSegment() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

size_t ShmSegment::SizeLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  return static_cast<size_t>(limit.rlim_cur);
}

Status ShmSegment::Create(size_t bytes, std::unique_ptr<ShmSegment>* out) {
  if (bytes == 0) return {StatusCode::kInvalidArgument, "a shared-memory segment needs at least one byte"};
  if (const size_t limit = SizeLimit(); bytes > limit) {
    return {StatusCode::kUnavailable, "cannot reserve " + Megabytes(bytes) + " of shared memory: the file-size limit of this "
                                          "process (ulimit -f, RLIMIT_FSIZE) is " + std::to_string(limit) + " bytes"};
  }
  std::unique_ptr<ShmSegment> segment(new ShmSegment());
  segment->fd_ = ::memfd_create("vstream-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (segment->fd_ < 0) {
    return {StatusCode::kUnavailable, std::string("cannot create shared memory (memfd_create): ") + std::strerror(errno)};
  }
  // Reserve every page now: a tmpfs page that cannot be allocated later would be a SIGBUS in the
  // middle of a memcpy. posix_fallocate returns the error instead of setting errno.
  if (const int error = ::posix_fallocate(segment->fd_, 0, static_cast<off_t>(bytes)); error != 0) {
    return {StatusCode::kUnavailable, "cannot reserve " + Megabytes(bytes) + " of shared memory: " + std::strerror(error) +
                                          " (the memory limit of this machine or container)"};
  }
  if (::fcntl(segment->fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return {StatusCode::kUnavailable, std::string("cannot seal shared memory: ") + std::strerror(errno)};
  }
  void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, segment->fd_, 0);
  if (address == MAP_FAILED) {
    return {StatusCode::kUnavailable, "cannot map " + Megabytes(bytes) + " of shared memory: " + std::strerror(errno)};
  }
  segment->data_ = static_cast<uint8_t*>(address);
  segment->size_ = bytes;
  *out = std::move(segment);
  return Status::Ok();
}

Status ShmSegment::Adopt(int fd, size_t bytes, std::unique_ptr<ShmSegment>* out) {
  std::unique_ptr<ShmSegment> segment(new ShmSegment());
  segment->fd_ = fd;  // closed by the segment from here on, also on failure
  if (fd < 0) return {StatusCode::kInvalidArgument, "no shared memory came with the hello that announced slots"};
  if (bytes == 0) return {StatusCode::kInvalidArgument, "a segment of 0 bytes was announced"};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return {StatusCode::kInvalidArgument, "the file passed as shared memory is not a memory file"};
  }
  // Without F_SEAL_SHRINK the client could truncate the file under our mappings, and reading a
  // slot would raise SIGBUS in this process. Only memfds can carry seals.
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return {StatusCode::kInvalidArgument, "the file passed as shared memory is not a memfd (it cannot be sealed)"};
  if ((seals & F_SEAL_SHRINK) == 0) {
    return {StatusCode::kInvalidArgument, "the shared memory passed is not sealed against shrinking (F_SEAL_SHRINK)"};
  }
  if (static_cast<uint64_t>(info.st_size) < bytes) {
    return {StatusCode::kInvalidArgument, "the shared memory passed has " + std::to_string(info.st_size) + " bytes, fewer than the " +
                                              std::to_string(bytes) + " announced"};
  }
  void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) {
    return {StatusCode::kInvalidArgument, "cannot map the shared memory passed (" + std::to_string(bytes) +
                                              " bytes): " + std::strerror(errno)};
  }
  segment->data_ = static_cast<uint8_t*>(address);
  segment->size_ = bytes;
  *out = std::move(segment);
  return Status::Ok();
}

}  // namespace vstream::detail::ipc
