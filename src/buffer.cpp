#include "vstream/buffer.hpp"

#include <cstdlib>
#include <new>

namespace vstream {
namespace {
constexpr size_t kAlignment = 64;

uint8_t* AlignedAlloc(size_t size) {
  const size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}
}  // namespace

BufferPtr Buffer::Allocate(size_t size) {
  uint8_t* data = AlignedAlloc(size);
  return BufferPtr(new Buffer(data, size, MemoryKind::kHeap, [data] { std::free(data); }));
}

BufferPtr Buffer::Wrap(void* data, size_t size, std::function<void()> release, MemoryKind kind) {
  return BufferPtr(new Buffer(static_cast<uint8_t*>(data), size, kind, std::move(release)));
}

BufferPtr Buffer::WrapReadOnly(const void* data, size_t size, std::function<void()> release, MemoryKind kind) {
  // The pointer loses its const only to share data()'s type; writable() tells writers to copy.
  BufferPtr buffer(new Buffer(static_cast<uint8_t*>(const_cast<void*>(data)), size, kind, std::move(release)));
  buffer->writable_ = false;
  return buffer;
}

Buffer::~Buffer() {
  if (release_) release_();
}

std::shared_ptr<BufferPool> BufferPool::Create(size_t buffer_size, size_t max_buffers) {
  return std::shared_ptr<BufferPool>(new BufferPool(buffer_size, max_buffers == 0 ? 1 : max_buffers));
}

BufferPool::BufferPool(size_t buffer_size, size_t max_buffers)
    : buffer_size_(buffer_size), max_buffers_(max_buffers) {}

BufferPool::~BufferPool() {
  for (uint8_t* block : free_) std::free(block);
}

BufferPtr BufferPool::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  returned_.wait(lock, [this] { return !free_.empty() || allocated_ < max_buffers_; });
  uint8_t* block = nullptr;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else {
    ++allocated_;
    lock.unlock();
    block = AlignedAlloc(buffer_size_);
  }
  return Hand(block);
}

BufferPtr BufferPool::TryAcquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  uint8_t* block = nullptr;
  if (!free_.empty()) {
    block = free_.back();
    free_.pop_back();
  } else if (allocated_ < max_buffers_) {
    ++allocated_;
    lock.unlock();
    block = AlignedAlloc(buffer_size_);
  } else {
    return nullptr;
  }
  return Hand(block);
}

size_t BufferPool::available() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return free_.size() + (max_buffers_ - allocated_);
}

BufferPtr BufferPool::Hand(uint8_t* block) {
  std::weak_ptr<BufferPool> pool = weak_from_this();
  return BufferPtr(new Buffer(block, buffer_size_, MemoryKind::kPool, [pool, block] {
    if (auto alive = pool.lock()) {
      alive->Return(block);
    } else {
      std::free(block);
    }
  }));
}

void BufferPool::Return(uint8_t* block) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(block);
  }
  returned_.notify_one();
}

}  // namespace vstream
