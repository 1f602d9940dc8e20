// BoundedQueue: FIFO order, blocking at capacity, drop-oldest eviction, and close semantics.
#include "bounded_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace vstream::detail {
namespace {

TEST(BoundedQueue, KeepsFifoOrder) {
  BoundedQueue<int> queue(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue.Push(i));
  EXPECT_EQ(queue.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    int v = -1;
    ASSERT_TRUE(queue.Pop(&v));
    EXPECT_EQ(v, i);
  }
}

TEST(BoundedQueue, ProducerBlocksWhileFullAndResumesAfterPop) {
  BoundedQueue<int> queue(2);
  ASSERT_TRUE(queue.Push(1));
  ASSERT_TRUE(queue.Push(2));
  int v = 0;
  ASSERT_EQ(queue.TryPush(v), BoundedQueue<int>::TryResult::kFull);

  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    queue.Push(3);  // blocks: the queue is full
    pushed = true;
  });
  // The consumer frees one slot; the producer must then complete, and the order must hold.
  ASSERT_TRUE(queue.Pop(&v));
  EXPECT_EQ(v, 1);
  producer.join();
  EXPECT_TRUE(pushed);
  ASSERT_TRUE(queue.Pop(&v));
  EXPECT_EQ(v, 2);
  ASSERT_TRUE(queue.Pop(&v));
  EXPECT_EQ(v, 3);
}

TEST(BoundedQueue, CloseWakesBlockedProducerAndConsumer) {
  BoundedQueue<int> full(1);
  ASSERT_TRUE(full.Push(1));
  std::thread producer([&] { EXPECT_FALSE(full.Push(2)); });
  BoundedQueue<int> empty(1);
  std::thread consumer([&] {
    int v = 0;
    EXPECT_FALSE(empty.Pop(&v));
  });
  full.Close();
  empty.Close();
  producer.join();
  consumer.join();
  // A closed queue still hands out what it holds.
  int v = 0;
  EXPECT_TRUE(full.Pop(&v));
  EXPECT_EQ(v, 1);
  EXPECT_FALSE(full.Pop(&v));
}

TEST(BoundedQueue, CloseAndClearDiscardsEverything) {
  BoundedQueue<std::shared_ptr<int>> queue(3);
  auto item = std::make_shared<int>(7);
  queue.Push(item);
  queue.Push(item);
  EXPECT_EQ(item.use_count(), 3);
  EXPECT_EQ(queue.CloseAndClear(), 2u);
  EXPECT_EQ(item.use_count(), 1);  // the queue released its references
  std::shared_ptr<int> out;
  EXPECT_FALSE(queue.Pop(&out));
}

TEST(BoundedQueue, EvictOldestSkipsItemsThatMustNotBeDropped) {
  BoundedQueue<int> queue(3);
  queue.Push(-1);  // negative: not droppable (like an end-of-stream marker)
  queue.Push(10);
  queue.Push(11);
  int evicted = 0;
  ASSERT_TRUE(queue.PushEvictOldest(12, [](int v) { return v >= 0; }, &evicted));
  EXPECT_EQ(evicted, 10);
  std::vector<int> rest;
  int v = 0;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(queue.Pop(&v));
    rest.push_back(v);
  }
  EXPECT_EQ(rest, (std::vector<int>{-1, 11, 12}));
}

TEST(BoundedQueue, ManyProducersOneConsumerLoseNothing) {
  BoundedQueue<int> queue(8);
  constexpr int kProducers = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) queue.Push(p * kEach + i);
    });
  }
  std::vector<int> last(kProducers, -1);
  int received = 0;
  for (int n = 0; n < kProducers * kEach; ++n) {
    int v = 0;
    ASSERT_TRUE(queue.Pop(&v));
    const int p = v / kEach;
    EXPECT_GT(v, last[p]);  // each producer's items arrive in its order
    last[p] = v;
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(received, kProducers * kEach);
}

}  // namespace
}  // namespace vstream::detail
