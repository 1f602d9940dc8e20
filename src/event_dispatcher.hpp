// EventDispatcher: delivers pipeline events to the observer on one thread, in order.
//
// Post() never blocks on the observer, and the queue is bounded: consecutive drop events of one
// module and stream are merged (their counts add up), and while `max_queued` events wait, new ones
// are only counted (stream EOS and stream errors only past twice that); a kEventsMissed event with
// those counts takes their place in the order (queued with the next event that fits, or when the
// queue has drained). Every delivered event is also
// logged. An observer that throws is logged and keeps receiving later events.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "vstream/events.hpp"

namespace vstream::detail {

class EventDispatcher {
 public:
  ~EventDispatcher();
  void SetCallback(EventCallback callback, size_t max_queued = kDefaultMaxQueuedEvents);
  void Start();
  /// Delivers what is queued, then joins the thread.
  void Stop();
  void Post(Event event);
  /// True on the thread that runs the observer.
  bool OnDispatcherThread() const { return std::this_thread::get_id() == thread_id_.load(); }

 private:
  void Run();
  void Log(const Event& event);
  /// Queues the kEventsMissed event for what was counted since the last one. Holds mutex_.
  void QueueMissedLocked();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Event> queue_;       // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  EventCallback callback_;        // guarded by mutex_ (set before Start)
  size_t max_queued_ = kDefaultMaxQueuedEvents;  // guarded by mutex_
  std::map<EventType, uint64_t> missed_;         // not queued since the last kEventsMissed; guarded by mutex_
  std::map<std::string, uint64_t> frame_errors_logged_;  // per module; guarded by mutex_
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};
};

}  // namespace vstream::detail
