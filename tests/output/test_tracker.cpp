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
  int Process(FramePtr frame) override {
    if (frame->IsEos()) return 0;
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
    return 0;
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
  pipeline.Stop();
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

// Frames with white squares at given x positions (pixels), y fixed.
FramePtr Squares(const std::string& id, int64_t index, const std::vector<int>& xs) {
  FramePtr frame = test::SolidFrame(id, index, 0, 0, 0, 320, 120);
  cv::Mat canvas = ToMat(frame->image);
  for (int x : xs) cv::rectangle(canvas, cv::Rect(x, 40, 30, 30), cv::Scalar(255, 255, 255), cv::FILLED);
  return frame;
}

TEST(Tracker, SeparateObjectsKeepSeparateIdsAndLostTracksEnd) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["detect"]},
      "detect": {"class_name": "BlobDetector", "next_modules": ["track"]},
      "track": {"class_name": "Tracker", "next_modules": ["sink"], "custom_params": {"max_age": 3}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  int64_t i = 0;
  for (; i < 20; ++i) ASSERT_TRUE(source->Push(Squares("cam", i, {10 + 3 * static_cast<int>(i), 250 - 3 * static_cast<int>(i)})));
  for (int gap = 0; gap < 5; ++gap, ++i) ASSERT_TRUE(source->Push(Squares("cam", i, {})));  // both lost > max_age
  for (int k = 0; k < 5; ++k, ++i) ASSERT_TRUE(source->Push(Squares("cam", i, {100})));      // a new object
  source->End("cam", i);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  pipeline.Stop();
  const auto frames = pipeline.GetModule<test::Recorder>("sink")->kept("cam");
  ASSERT_EQ(frames.size(), 30u);
  for (int64_t f = 0; f < 20; ++f) {
    ASSERT_EQ(frames[f]->objects.size(), 2u) << f;
    EXPECT_EQ(frames[f]->objects[0].track_id, 1) << f;  // the one moving right
    EXPECT_EQ(frames[f]->objects[1].track_id, 2) << f;  // the one moving left
  }
  for (int64_t f = 25; f < 30; ++f) {
    ASSERT_EQ(frames[f]->objects.size(), 1u);
    EXPECT_EQ(frames[f]->objects[0].track_id, 3) << "ids are never reused";
  }
}

}  // namespace
}  // namespace vstream
