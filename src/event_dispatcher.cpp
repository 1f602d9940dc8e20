#include "event_dispatcher.hpp"

#include "vstream/log.hpp"

namespace vstream {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kStreamEos: return "stream_eos";
    case EventType::kStreamError: return "stream_error";
    case EventType::kFrameError: return "frame_error";
    case EventType::kModuleError: return "module_error";
    case EventType::kFramesDropped: return "frames_dropped";
    case EventType::kEventsMissed: return "events_missed";
  }
  return "unknown";
}

namespace detail {

EventDispatcher::~EventDispatcher() { Stop(); }

void EventDispatcher::SetCallback(EventCallback callback, size_t max_queued) {
  std::lock_guard<std::mutex> lock(mutex_);
  callback_ = std::move(callback);
  max_queued_ = max_queued > 0 ? max_queued : 1;
}

void EventDispatcher::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void EventDispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!thread_.joinable()) return;
    QueueMissedLocked();
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void EventDispatcher::Post(Event event) {
  event.time = std::chrono::system_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (event.type == EventType::kFramesDropped && !queue_.empty()) {
      Event& last = queue_.back();
      if (last.type == EventType::kFramesDropped && last.module == event.module &&
          last.stream_id == event.stream_id) {
        last.count += event.count;
        return;
      }
    }
    // A stream's EOS and errors are queued past the bound (up to twice it): an observer waiting for
    // a stream to end must learn that it did, and there are few of them next to frame errors.
    const bool stream_event = event.type == EventType::kStreamEos || event.type == EventType::kStreamError;
    if (queue_.size() >= (stream_event ? 2 * max_queued_ : max_queued_)) {
      ++missed_[event.type];
      return;
    }
    QueueMissedLocked();  // (one over the bound at most: the report of what was not queued)
    queue_.push_back(std::move(event));
  }
  wake_.notify_one();
}

void EventDispatcher::QueueMissedLocked() {
  if (missed_.empty()) return;
  Event missed;
  missed.type = EventType::kEventsMissed;
  missed.time = std::chrono::system_clock::now();
  missed.count = 0;
  std::string kinds;
  for (const auto& [type, count] : missed_) {
    missed.count += count;
    kinds += (kinds.empty() ? "" : ", ") + std::to_string(count) + " " + std::string(EventTypeName(type));
  }
  missed.message = std::to_string(missed.count) + " event(s) not delivered because the observer fell behind (" +
                   kinds + ")";
  missed_.clear();
  queue_.push_back(std::move(missed));
}

void EventDispatcher::Log(const Event& event) {
  const std::string where = event.module.empty() ? "" : "[" + event.module + "] ";
  const std::string stream = event.stream_id.empty() ? "" : "stream '" + event.stream_id + "': ";
  switch (event.type) {
    case EventType::kStreamEos:
      VSTREAM_LOG_DEBUG("{}{}end of stream", where, stream);
      break;
    case EventType::kStreamError:
    case EventType::kModuleError:
      VSTREAM_LOG_WARN("{}{}{}", where, stream, event.message);
      break;
    case EventType::kFrameError: {
      uint64_t seen = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = ++frame_errors_logged_[event.module];
      }
      // The first few per module at warn level, the rest at debug: a module failing every frame
      // must not drown the log.
      if (seen <= 5) {
        VSTREAM_LOG_WARN("{}{}frame {}: {}{}", where, stream, event.frame_index, event.message,
                    seen == 5 ? " (further frame errors of this module are logged at debug level)" : "");
      } else {
        VSTREAM_LOG_DEBUG("{}{}frame {}: {}", where, stream, event.frame_index, event.message);
      }
      break;
    }
    case EventType::kFramesDropped:
      VSTREAM_LOG_DEBUG("{}{}{} frame(s) dropped by the queue policy", where, stream, event.count);
      break;
    case EventType::kEventsMissed:
      VSTREAM_LOG_WARN("{}", event.message);
      break;
  }
}

void EventDispatcher::Run() {
  thread_id_ = std::this_thread::get_id();
  while (true) {
    Event event;
    EventCallback callback;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and everything delivered
      event = std::move(queue_.front());
      queue_.pop_front();
      // Caught up with nothing newer queued: report what was missed now rather than with the next
      // event, which may be long in coming.
      if (queue_.empty()) QueueMissedLocked();
      callback = callback_;
    }
    Log(event);
    if (!callback) continue;
    try {
      callback(event);
    } catch (const std::exception& e) {
      VSTREAM_LOG_ERROR("the pipeline observer threw while handling a {} event: {}", EventTypeName(event.type), e.what());
    } catch (...) {
      VSTREAM_LOG_ERROR("the pipeline observer threw a non-standard exception while handling a {} event",
                   EventTypeName(event.type));
    }
  }
}

}  // namespace detail
}  // namespace vstream
