// Buffer: a reference-counted block of memory that holds pixels (or any bytes).
//
// Where the memory lives is the buffer's own business: the heap (Buffer::Allocate), a BufferPool
// that recycles equal-sized blocks (BufferPool::Acquire), or memory owned by someone else
// (Buffer::Wrap: a decoder's frame, a shared-memory slot) that is handed back through a release
// function when the last reference goes. Consumers only see data() and size().
//
// Memory that must not be written (a decoder's reference frame, a read-only mapping) is wrapped with
// Buffer::WrapReadOnly; writable() then says false, and a module that writes pixels gets a copy
// first (Module::MakeWritable). Nothing else checks it: data() still hands out the pointer.
//
//   vstream::BufferPtr heap = vstream::Buffer::Allocate(1920 * 1080 * 3);
//   auto pool = vstream::BufferPool::Create(1920 * 1080 * 3, /*max_buffers=*/8);
//   vstream::BufferPtr recycled = pool->Acquire();   // blocks while all 8 are in use
#pragma once

#include "vstream/export.hpp"

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace vstream {

enum class MemoryKind { kHeap, kPool, kExternal };

class Buffer;
using BufferPtr = std::shared_ptr<Buffer>;

class VSTREAM_EXPORT Buffer {
 public:
  /// Allocates `size` bytes on the heap, aligned to 64 bytes (suitable for SIMD rows).
  static BufferPtr Allocate(size_t size);
  /// Wraps memory owned elsewhere. `release` runs once, when the last reference goes
  /// (it may be empty when the memory outlives every frame).
  static BufferPtr Wrap(void* data, size_t size, std::function<void()> release,
                        MemoryKind kind = MemoryKind::kExternal);
  /// As Wrap, for memory that must only be read: writable() is false.
  static BufferPtr WrapReadOnly(const void* data, size_t size, std::function<void()> release,
                                MemoryKind kind = MemoryKind::kExternal);

  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  MemoryKind kind() const { return kind_; }
  /// False for memory wrapped with WrapReadOnly: read the pixels, never write them.
  bool writable() const { return writable_; }

 private:
  friend class BufferPool;
  Buffer(uint8_t* data, size_t size, MemoryKind kind, std::function<void()> release)
      : data_(data), size_(size), kind_(kind), release_(std::move(release)) {}

  uint8_t* data_;
  size_t size_;
  MemoryKind kind_;
  bool writable_ = true;
  std::function<void()> release_;
};

/// A fixed set of equal-sized heap blocks handed out as Buffers and taken back when released.
/// Bounds memory (at most `max_buffers` blocks exist) and avoids allocation per frame.
/// The pool may be destroyed while buffers are out: they free their memory on release.
class VSTREAM_EXPORT BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  static std::shared_ptr<BufferPool> Create(size_t buffer_size, size_t max_buffers);
  ~BufferPool();

  /// Returns a buffer, waiting while all `max_buffers` are in use.
  BufferPtr Acquire();
  /// Returns a buffer, or nullptr at once when all are in use.
  BufferPtr TryAcquire();

  size_t buffer_size() const { return buffer_size_; }
  size_t max_buffers() const { return max_buffers_; }
  /// Blocks not handed out right now (allocated or not yet allocated).
  size_t available() const;

 private:
  BufferPool(size_t buffer_size, size_t max_buffers);
  BufferPtr Hand(uint8_t* block);
  void Return(uint8_t* block);

  const size_t buffer_size_;
  const size_t max_buffers_;
  mutable std::mutex mutex_;
  std::condition_variable returned_;  // signalled when a block comes back; guarded by mutex_
  std::vector<uint8_t*> free_;        // guarded by mutex_
  size_t allocated_ = 0;              // blocks that exist; guarded by mutex_
};

}  // namespace vstream
