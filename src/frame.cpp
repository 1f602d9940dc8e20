#include "vstream/frame.hpp"

#include <functional>

#include "frame_access.hpp"

namespace vstream {

Frame::Frame(std::string stream_id_in, int64_t frame_index_in)
    : Frame(std::move(stream_id_in), frame_index_in, std::chrono::steady_clock::now()) {}

Frame::Frame(std::string stream_id_in, int64_t frame_index_in, std::chrono::steady_clock::time_point created_in)
    : stream_id(std::move(stream_id_in)),
      frame_index(frame_index_in),
      created(created_in),
      route_hash_(std::hash<std::string>{}(stream_id)) {}

Frame::~Frame() {
  for (auto& hook : destroy_hooks_) hook();
}

FramePtr Frame::Create(std::string stream_id, int64_t frame_index) {
  return std::make_shared<Frame>(std::move(stream_id), frame_index);
}

FramePtr Frame::CreateEos(std::string stream_id, int64_t frame_index) {
  FramePtr frame = std::make_shared<Frame>(std::move(stream_id), frame_index);
  frame->flags |= kFrameEos;
  return frame;
}

}  // namespace vstream
