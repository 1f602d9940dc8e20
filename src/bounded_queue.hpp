// BoundedQueue: a fixed-capacity FIFO shared by producer threads and one consumer thread.
//
// Push blocks on a condition variable while the queue is full (never sleep-polls); the drop
// variants make room instead. Close() wakes everyone: pushes then fail and Pop drains what is
// left (or nothing, after CloseAndClear). Notifications are sent only when someone waits.
//
//   BoundedQueue<FramePtr> queue(20);
//   queue.Push(frame);                 // producer
//   FramePtr f; while (queue.Pop(&f)) handle(f);   // consumer, ends after Close()
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace vstream::detail {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : slots_(capacity == 0 ? 1 : capacity) {}

  /// Waits for room, then appends. False when the queue was closed (the item is not kept).
  bool Push(T item) { return PushImpl<false>(std::move(item), [](const T&) { return false; }, nullptr); }

  /// Appends, or when full evicts the oldest item for which `droppable(item)` holds into
  /// `*evicted`. When nothing is droppable it waits for room like Push. False when closed.
  template <typename Droppable>
  bool PushEvictOldest(T item, Droppable droppable, T* evicted) {
    return PushImpl<true>(std::move(item), droppable, evicted);
  }

  enum class TryResult { kPushed, kFull, kClosed };
  /// Appends only when there is room right now.
  TryResult TryPush(T& item) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (closed_) return TryResult::kClosed;
    if (count_ == slots_.size()) return TryResult::kFull;
    Append(std::move(item));
    WakeConsumer(lock);
    return TryResult::kPushed;
  }

  /// Waits for an item. False when the queue is closed and empty.
  bool Pop(T* out) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (count_ == 0 && !closed_) {
      ++waiting_consumers_;
      not_empty_.wait(lock);
      --waiting_consumers_;
    }
    if (count_ == 0) return false;
    *out = std::move(slots_[head_]);
    slots_[head_] = T();
    head_ = (head_ + 1) % slots_.size();
    --count_;
    if (waiting_producers_ > 0) {
      lock.unlock();
      not_full_.notify_one();
    }
    return true;
  }

  /// Pushes fail from now on; Pop returns what is queued, then false.
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  /// Close, and release every queued item at once. Returns how many were discarded.
  size_t CloseAndClear() {
    std::vector<T> discarded;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
      discarded.reserve(count_);
      while (count_ > 0) {
        discarded.push_back(std::move(slots_[head_]));
        slots_[head_] = T();
        head_ = (head_ + 1) % slots_.size();
        --count_;
      }
    }
    not_full_.notify_all();
    not_empty_.notify_all();
    return discarded.size();  // items are released here, outside the lock
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  size_t capacity() const { return slots_.size(); }

 private:
  template <bool kEvict, typename Droppable>
  bool PushImpl(T item, Droppable droppable, T* evicted) {
    std::unique_lock<std::mutex> lock(mutex_);
    while (count_ == slots_.size() && !closed_) {
      if constexpr (kEvict) {
        if (EvictOldest(droppable, evicted)) break;
      }
      ++waiting_producers_;
      not_full_.wait(lock);
      --waiting_producers_;
    }
    if (closed_) return false;
    Append(std::move(item));
    WakeConsumer(lock);
    return true;
  }

  void Append(T&& item) {
    slots_[(head_ + count_) % slots_.size()] = std::move(item);
    ++count_;
  }

  void WakeConsumer(std::unique_lock<std::mutex>& lock) {
    if (waiting_consumers_ > 0) {
      lock.unlock();
      not_empty_.notify_one();
    }
  }

  template <typename Droppable>
  bool EvictOldest(Droppable& droppable, T* evicted) {
    for (size_t i = 0; i < count_; ++i) {
      const size_t at = (head_ + i) % slots_.size();
      if (!droppable(slots_[at])) continue;
      *evicted = std::move(slots_[at]);
      // Close the gap: shift the items before it one step towards the tail.
      for (size_t j = i; j > 0; --j) {
        const size_t to = (head_ + j) % slots_.size();
        const size_t from = (head_ + j - 1) % slots_.size();
        slots_[to] = std::move(slots_[from]);
      }
      slots_[head_] = T();
      head_ = (head_ + 1) % slots_.size();
      --count_;
      return true;
    }
    return false;
  }

  mutable std::mutex mutex_;
  std::condition_variable not_full_;   // producers wait here
  std::condition_variable not_empty_;  // the consumer waits here
  // All below guarded by mutex_.
  std::vector<T> slots_;  // ring buffer
  size_t head_ = 0;
  size_t count_ = 0;
  int waiting_producers_ = 0;
  int waiting_consumers_ = 0;
  bool closed_ = false;
};

}  // namespace vstream::detail
