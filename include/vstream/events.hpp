// Events: what a running pipeline tells its observer (Pipeline::SetObserver).
//
// Events are delivered in the order they happened, on one dedicated thread, so a slow or throwing
// observer never stalls frames and an error never stops later events from arriving. The queue in
// front of the observer is bounded: an observer too slow to keep up misses events, and a
// kEventsMissed event says how many of which type.
//
//   pipeline.SetObserver([](const vstream::Event& e) {
//     if (e.type == vstream::EventType::kStreamError) std::cerr << e.stream_id << ": " << e.message;
//   });
#pragma once

#include "vstream/export.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace vstream {

enum class EventType {
  kStreamEos,      // a stream's EOS passed every module: the stream is done
  kStreamError,    // a stream failed (missing file, corrupt data, lost connection); EOS follows
  kFrameError,     // a module's Process failed on one frame; the frame went no further
  kModuleError,    // a module reported a problem not tied to one frame
  kFramesDropped,  // a queue policy dropped frames (`count` of them) of a stream at a module
  kEventsMissed,   // the observer fell behind: `count` events were not delivered (the message
                   // counts them by type); it stands where they would have been
};

/// Events waiting for the observer, at most, unless Pipeline::SetObserver says otherwise. Past
/// that, new events are counted instead of queued, and one kEventsMissed event reports them;
/// kStreamEos and kStreamError events are still queued up to twice the bound, so an observer that
/// waits for streams to end learns that they did.
inline constexpr size_t kDefaultMaxQueuedEvents = 10000;

VSTREAM_EXPORT std::string_view EventTypeName(EventType type);

struct VSTREAM_EXPORT Event {
  EventType type = EventType::kModuleError;
  std::string module;        // module name, empty for stream-level events from the pipeline
  std::string stream_id;     // empty for module-level events
  int64_t frame_index = -1;  // kFrameError: the frame's index
  uint64_t count = 1;        // kFramesDropped: frames dropped (consecutive drops are merged);
                             // kEventsMissed: events not delivered
  std::string message;
  std::chrono::system_clock::time_point time;
};

using EventCallback = std::function<void(const Event&)>;

}  // namespace vstream
