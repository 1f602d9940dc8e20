// A DataSource -> Recorder pipeline for the DataSource tests, with its events.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "media.hpp"
#include "test_modules.hpp"
#include "vstream/modules/data_source.hpp"
#include "vstream/vstream.hpp"

namespace vstream::test {

class Harness {
 public:
  /// `params`: the DataSource's custom_params as JSON object members (without braces).
  explicit Harness(const std::string& params = "", bool keep_frames = true, const std::string& base_dir = ".") {
    const std::string config = R"({"src": {"class_name": "DataSource", "next_modules": ["sink"],
        "custom_params": {)" + params + R"(}},
        "sink": {"class_name": "Recorder", "parallelism": 2,
                 "custom_params": {"keep": )" + std::string(keep_frames ? "true" : "false") + "}}}";
    Status s = pipeline.BuildFromString(config, base_dir);
    EXPECT_TRUE(s) << s.message();
    pipeline.SetObserver(events.Callback());
    s = pipeline.Start();
    EXPECT_TRUE(s) << s.message();
    sink = pipeline.GetModule<Recorder>("sink");
    source = pipeline.GetModule<DataSource>("src");
  }
  ~Harness() { EXPECT_TRUE(pipeline.Stop(StopMode::kAbort)); }

  /// Waits for every stream to end, then stops (delivering every event).
  bool Finish(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const bool done = pipeline.WaitForStreams(timeout);
    EXPECT_TRUE(pipeline.Stop());
    return done;
  }

  std::vector<std::string> ErrorsOf(const std::string& stream_id) const {
    std::vector<std::string> out;
    for (const auto& e : events.Of(EventType::kStreamError)) {
      if (e.stream_id == stream_id) out.push_back(e.message);
    }
    return out;
  }

  Pipeline pipeline;
  EventLog events;
  Recorder* sink = nullptr;
  DataSource* source = nullptr;
};

/// Mean of one plane's bytes over the central quarter of the image.
inline double CenterMean(const VideoFrame& image, int plane = 0) {
  const int rows = image.plane_rows(plane);
  const int bytes = image.plane_row_bytes(plane);
  double sum = 0;
  int64_t count = 0;
  for (int y = rows / 4; y < rows * 3 / 4; ++y) {
    const uint8_t* row = image.plane(plane) + static_cast<size_t>(y) * image.stride(plane);
    for (int x = bytes / 4; x < bytes * 3 / 4; ++x) {
      sum += row[x];
      ++count;
    }
  }
  return count == 0 ? 0 : sum / static_cast<double>(count);
}

/// Every kept frame shows the brightness its file frame number encodes (see media.hpp).
/// `file_frames`: frames in the file (looping restarts the pattern), 0 when not looping.
inline void ExpectFramesShowTheirNumber(const std::vector<FramePtr>& frames, int64_t file_frames = 0) {
  for (const auto& frame : frames) {
    const int64_t n = file_frames > 0 ? frame->frame_index % file_frames : frame->frame_index;
    ASSERT_NEAR(CenterMean(frame->image), BgrOfFrame(n), 4.0) << "frame " << frame->frame_index;
  }
}

}  // namespace vstream::test
