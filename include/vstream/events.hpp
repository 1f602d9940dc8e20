// Events: what a running pipeline tells its observer (Pipeline::SetObserver).
//
// Events are delivered in the order they happened, on one dedicated thread, so a slow or throwing
// observer never stalls frames and an error never stops later events from arriving.
//
//   pipeline.SetObserver([](const vstream::Event& e) {
//     if (e.type == vstream::EventType::kStreamError) std::cerr << e.stream_id << ": " << e.message;
//   });
#pragma once

#include "vstream/export.hpp"

#include <chrono>
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
};

VSTREAM_EXPORT std::string_view EventTypeName(EventType type);

struct VSTREAM_EXPORT Event {
  EventType type = EventType::kModuleError;
  std::string module;        // module name, empty for stream-level events from the pipeline
  std::string stream_id;     // empty for module-level events
  int64_t frame_index = -1;  // kFrameError: the frame's index
  uint64_t count = 1;        // kFramesDropped: frames dropped (consecutive drops are merged)
  std::string message;
  std::chrono::system_clock::time_point time;
};

using EventCallback = std::function<void(const Event&)>;

}  // namespace vstream
