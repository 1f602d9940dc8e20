// Tracker: one id for an object moving across frames; different objects keep different ids; a lost
// object that comes back late gets a new id.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include "test_modules.hpp"
#include "vstream/opencv.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// A stand-in detector: one object per bright blob (pixels above 200), labelled "blob".
class BlobDetector : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    cv::Mat bgr = ToMat(frame->image);
    cv::Mat gray;
    cv::Mat mask;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::threshold(gray, mask, 200, 255, cv::THRESH_BINARY);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& contour : contours) {
      const cv::Rect r = cv::boundingRect(contour);
      DetectedObject o;
      o.label = "blob";
      o.label_id = 0;
      o.score = 1;
      o.box = {static_cast<float>(r.x) / bgr.cols, static_cast<float>(r.y) / bgr.rows,
               static_cast<float>(r.width) / bgr.cols, static_cast<float>(r.height) / bgr.rows};
      frame->objects.push_back(o);
    }
    std::sort(frame->objects.begin(), frame->objects.end(), [](const auto& a, const auto& b) { return a.box.x < b.box.x; });
    return {};
  }
};
VSTREAM_REGISTER_MODULE(BlobDetector);

TEST(Tracker, OneIdForAnObjectMovingAcrossFrames) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["detect"],
              "custom_params": {"streams": 2, "frames": 60, "width": 320, "height": 240, "pattern": "moving_box"}},
      "detect": {"class_name": "BlobDetector", "next_modules": ["track"]},
      "track": {"class_name": "Tracker", "parallelism": 2, "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  for (const char* stream : {"stream_0", "stream_1"}) {
    const auto frames = pipeline.GetModule<test::Recorder>("sink")->kept(stream);
    ASSERT_EQ(frames.size(), 60u);
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->objects.size(), 1u) << "frame " << frame->frame_index;
      EXPECT_EQ(frame->objects[0].track_id, 1) << stream << " frame " << frame->frame_index;
    }
    // The box really moved: from the left edge towards the right.
    EXPECT_GT(frames.back()->objects[0].box.x, frames.front()->objects[0].box.x + 0.3f);
  }
}

// A frame with one "blob" object per x position (fractions of the width), y and size fixed, as a
// detector would have left it.
FramePtr Detections(const std::string& id, int64_t index, const std::vector<float>& xs) {
  FramePtr frame = Frame::Create(id, index);
  for (float x : xs) {
    DetectedObject o;
    o.label = "blob";
    o.label_id = 0;
    o.score = 1;
    o.box = {x, 0.3f, 0.1f, 0.25f};
    frame->objects.push_back(o);
  }
  return frame;
}

// The Tracker alone, through the public single-module runner: detections in, track ids out.
TEST(Tracker, SeparateObjectsKeepSeparateIdsAndLostTracksEnd) {
  ModuleRunner runner("Tracker", {{"max_age", "3"}});
  ASSERT_TRUE(runner.Open());
  int64_t i = 0;
  for (; i < 20; ++i) {
    const float step = 0.01f * static_cast<float>(i);
    ASSERT_TRUE(runner.Push(Detections("cam", i, {0.03f + step, 0.78f - step})));
  }
  for (int gap = 0; gap < 5; ++gap, ++i) ASSERT_TRUE(runner.Push(Detections("cam", i, {})));  // both lost > max_age
  for (int k = 0; k < 5; ++k, ++i) ASSERT_TRUE(runner.Push(Detections("cam", i, {0.3f})));   // a new object
  ASSERT_TRUE(runner.PushEos("cam"));
  const auto frames = runner.Output("cam");
  ASSERT_EQ(frames.size(), 31u);  // 30 frames and the EOS, in order
  EXPECT_TRUE(frames.back()->IsEos());
  for (int64_t f = 0; f < 20; ++f) {
    ASSERT_EQ(frames[f]->frame_index, f);
    ASSERT_EQ(frames[f]->objects.size(), 2u) << f;
    EXPECT_EQ(frames[f]->objects[0].track_id, 1) << f;  // the one moving right
    EXPECT_EQ(frames[f]->objects[1].track_id, 2) << f;  // the one moving left
  }
  for (int64_t f = 25; f < 30; ++f) {
    ASSERT_EQ(frames[f]->objects.size(), 1u);
    EXPECT_EQ(frames[f]->objects[0].track_id, 3) << "ids are never reused";
  }
  EXPECT_TRUE(runner.Events().empty());
}

TEST(Tracker, StreamsAreTrackedApartOnEveryWorker) {
  ModuleRunnerOptions options;
  options.parallelism = 3;  // per-stream state lives with the worker each stream is routed to
  ModuleRunner runner("Tracker", {}, options);
  ASSERT_TRUE(runner.Open());
  for (int64_t i = 0; i < 10; ++i) {
    for (const char* stream : {"a", "b", "c", "d"}) ASSERT_TRUE(runner.Push(Detections(stream, i, {0.1f, 0.6f})));
  }
  for (const char* stream : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(runner.PushEos(stream));
    const auto frames = runner.Output(stream);
    ASSERT_EQ(frames.size(), 11u) << stream;
    for (int64_t f = 0; f < 10; ++f) {
      EXPECT_EQ(frames[f]->objects[0].track_id, 1) << stream;  // each stream numbers its own tracks
      EXPECT_EQ(frames[f]->objects[1].track_id, 2) << stream;
    }
  }
}

TEST(Tracker, ParametersAreCheckedAsInAConfig) {
  ModuleRunner runner("cnstream::Tracker", {{"max_age", "-1"}});
  Status s = runner.Open();
  EXPECT_EQ(s.code(), StatusCode::kInvalidConfig);
  EXPECT_NE(s.message().find("max_age"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
