#include "vstream/modules/synthetic_source.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "vstream/registry.hpp"

namespace vstream {

struct SyntheticSource::Stream {
  std::string id;
  int64_t total = 0;  // 0: endless
  int64_t next_index = 0;
  std::atomic<bool> remove_requested{false};
  std::chrono::steady_clock::time_point next_due;
};

struct SyntheticSource::Producer {
  std::vector<std::shared_ptr<Stream>> streams;  // guarded by SyntheticSource::mutex_
  uint64_t generation = 0;  // bumped when `streams` changes; guarded by SyntheticSource::mutex_
  std::condition_variable wake;
  std::thread thread;
};

SyntheticSource::~SyntheticSource() { Close(); }

ModuleDescription SyntheticSource::Describe() {
  return {"Generates frames (no media needed): for demos, tests and benchmarks.",
          {ParamSpec::Int("streams", 0, "streams started at Open, named <stream_prefix>0, <stream_prefix>1, ...").Range(0, 100000),
           ParamSpec::String("stream_prefix", "stream_", "how the streams started at Open are named"),
           ParamSpec::Int("frames", 100, "frames per stream; 0 = until the stream is removed").Min(0),
           ParamSpec::Int("width", 640, "image width in pixels; 0 = frames without an image").Range(0, 16384),
           ParamSpec::Int("height", 360, "image height in pixels; 0 = frames without an image").Range(0, 16384),
           ParamSpec::Enum("pixel_format", "bgr24", {"bgr24", "rgb24", "nv12", "gray8"}, "pixel format of the images"),
           ParamSpec::Enum("pattern", "index", {"index", "moving_box"},
                           "index: every byte of frame i is i % 256; moving_box: a bright square crossing a dark frame"),
           ParamSpec::Double("frame_rate", 0, "frames per second per stream; 0 = as fast as the pipeline takes them")
               .Min(0),
           ParamSpec::Int("threads", 1, "producer threads shared by all streams").Range(1, 256)}};
}

HeldFrames SyntheticSource::FramesHeld(const ModuleParams& params) {
  HeldFrames held;
  held.per_module = params.GetInt("threads");  // each producer thread's frame, waiting for room
  held.width = static_cast<int>(params.GetInt("width"));
  held.height = static_cast<int>(params.GetInt("height"));
  held.without_image = held.width == 0 || held.height == 0;
  held.format = ParsePixelFormat(params.GetString("pixel_format"));
  held.detail = std::to_string(held.per_module) + " producer thread(s), a frame in hand each";
  return held;
}

Status SyntheticSource::Open(const ModuleParams& params) {
  width_ = static_cast<int>(params.GetInt("width"));
  height_ = static_cast<int>(params.GetInt("height"));
  if ((width_ == 0) != (height_ == 0)) {
    return Fail("width and height must both be 0 (no image) or both positive, got " + std::to_string(width_) + "x" +
                std::to_string(height_));
  }
  format_ = ParsePixelFormat(params.GetString("pixel_format"));
  frames_ = params.GetInt("frames");
  frame_rate_ = params.GetDouble("frame_rate");
  moving_box_ = params.GetString("pattern") == "moving_box";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    next_producer_ = 0;
  }
  const int threads = static_cast<int>(params.GetInt("threads"));
  for (int i = 0; i < threads; ++i) {
    producers_.push_back(std::make_unique<Producer>());
    Producer* producer = producers_.back().get();
    producer->thread = std::thread([this, producer] { Produce(producer); });
  }
  const int64_t streams = params.GetInt("streams");
  for (int64_t i = 0; i < streams; ++i) {
    if (Status s = AddSource(params.GetString("stream_prefix") + std::to_string(i), "synthetic"); !s) return Fail(s.message());
  }
  return {};
}

void SyntheticSource::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  for (auto& producer : producers_) producer->wake.notify_all();
  for (auto& producer : producers_) {
    if (producer->thread.joinable()) producer->thread.join();
  }
  producers_.clear();
}

Status SyntheticSource::OnAddSource(const std::string& stream_id, const std::string& /*uri*/,
                                    const StreamOptions& options) {
  auto stream = std::make_shared<Stream>();
  stream->id = stream_id;
  stream->total = frames_;
  if (auto it = options.find("frames"); it != options.end()) {
    char* end = nullptr;
    const long long frames = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || frames < 0) {
      return {StatusCode::kInvalidArgument, "option frames='" + it->second + "' must be a whole number >= 0"};
    }
    stream->total = frames;
  }
  stream->next_due = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (producers_.empty() || stopping_) {
    return {StatusCode::kFailedState, "module '" + name() + "' is not open"};
  }
  Producer* producer = producers_[next_producer_++ % producers_.size()].get();
  producer->streams.push_back(std::move(stream));
  ++producer->generation;
  producer->wake.notify_one();
  return Status::Ok();
}

void SyntheticSource::OnRemoveSource(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& producer : producers_) {
    for (auto& stream : producer->streams) {
      if (stream->id == stream_id) {
        stream->remove_requested = true;
        ++producer->generation;  // wakes a paced producer's wait below
        producer->wake.notify_one();
      }
    }
  }
}

FramePtr SyntheticSource::MakeFrame(Stream& stream) {
  FramePtr frame = Frame::Create(stream.id, stream.next_index);
  const double period_us = frame_rate_ > 0 ? 1e6 / frame_rate_ : 40000.0;  // 25 fps timestamps by default
  frame->pts = static_cast<int64_t>(static_cast<double>(stream.next_index) * period_us);
  if (width_ > 0) {
    frame->image = VideoFrame::Allocate(width_, height_, format_);
    VideoFrame& image = frame->image;
    if (!moving_box_) {
      const auto value = static_cast<uint8_t>(stream.next_index % 256);
      std::memset(image.plane(0), value, image.buffer()->size());
    } else {
      std::memset(image.plane(0), 16, image.buffer()->size());
      if (image.plane_count() > 1) {
        std::memset(image.plane(1), 128, image.buffer()->size() - image.offset(1));  // neutral chroma
      }
      const int side = std::max(8, std::min(width_, height_) / 6);
      const int travel = std::max(1, width_ - side);
      const int x0 = static_cast<int>((stream.next_index * 4) % travel);
      const int y0 = (height_ - side) / 2;
      const int bytes_per_pixel = image.plane_row_bytes(0) / width_;
      for (int y = y0; y < y0 + side; ++y) {
        std::memset(image.plane(0) + static_cast<size_t>(y) * image.stride(0) + static_cast<size_t>(x0) * bytes_per_pixel,
                    235, static_cast<size_t>(side) * bytes_per_pixel);
      }
    }
  }
  ++stream.next_index;
  return frame;
}

void SyntheticSource::Produce(Producer* producer) {
  using Clock = std::chrono::steady_clock;
  const auto period = frame_rate_ > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / frame_rate_))
                                      : Clock::duration::zero();
  std::vector<std::shared_ptr<Stream>> streams;  // this thread's copy of producer->streams
  uint64_t copied_generation = ~uint64_t{0};
  auto forget = [&](const std::shared_ptr<Stream>& stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& list = producer->streams;
    list.erase(std::remove(list.begin(), list.end(), stream), list.end());
    ++producer->generation;
  };
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Wait for streams to serve; with pacing, until the earliest stream is due.
      while (!stopping_) {
        if (producer->streams.empty()) {
          producer->wake.wait(lock);
          continue;
        }
        if (period == Clock::duration::zero()) break;
        Clock::time_point due = Clock::time_point::max();
        bool removal = false;
        for (const auto& s : producer->streams) {
          due = std::min(due, s->next_due);
          removal |= s->remove_requested.load();
        }
        if (removal || due <= Clock::now()) break;
        producer->wake.wait_until(lock, due);
      }
      if (stopping_) return;
      if (copied_generation != producer->generation) {
        streams = producer->streams;
        copied_generation = producer->generation;
      }
    }
    for (auto& stream : streams) {
      if (stream == nullptr) continue;
      const bool done = stream->remove_requested.load(std::memory_order_relaxed) ||
                        (stream->total > 0 && stream->next_index >= stream->total);
      if (done) {
        forget(stream);
        EndStream(stream->id, stream->next_index);
        stream = nullptr;  // until the next copy
        continue;
      }
      if (period != Clock::duration::zero()) {
        if (stream->next_due > Clock::now()) continue;
        stream->next_due += period;
      }
      if (!Transmit(MakeFrame(*stream))) {
        forget(stream);  // the pipeline is stopping: nobody takes frames any more
        stream = nullptr;
      }
    }
  }
}

VSTREAM_REGISTER_MODULE(SyntheticSource);

}  // namespace vstream
