// BlazeFace on real video: faces found where an independent detector (OpenCV's Haar cascade) finds
// them, nothing on blank frames, and the same faces whatever the batch size.
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include <iostream>

#include "inference_harness.hpp"
#include "vstream/opencv.hpp"

namespace vstream {
namespace {

const char* kMegamind = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";
const char* kHaar = "/usr/share/doc/opencv-doc/opencv4/html/haarcascade_frontalface_default.xml.gz";

// DataSource(Megamind.avi, every 9th frame) -> Inferencer(BlazeFace) -> Recorder.
std::vector<FramePtr> DetectMegamind(const std::string& extra) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "src": {"class_name": "DataSource", "next_modules": ["faces"], "custom_params": {"interval": 9}},
      "faces": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" +
                                      test::BlazeFaceParams(extra) + R"(}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
  EXPECT_TRUE(s) << s.message();
  s = pipeline.Start();
  EXPECT_TRUE(s) << s.message();
  EXPECT_TRUE(pipeline.AddSource("megamind", kMegamind));
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  return pipeline.GetModule<test::Recorder>("sink")->kept("megamind");
}

cv::Rect ToPixels(const BoundingBox& box, const VideoFrame& image) {
  return {static_cast<int>(box.x * image.width()), static_cast<int>(box.y * image.height()),
          static_cast<int>(box.w * image.width()), static_cast<int>(box.h * image.height())};
}

TEST(BlazeFace, FindsTheFacesAHaarCascadeFinds) {
  ASSERT_TRUE(std::filesystem::exists(kMegamind)) << "scripts/deps.sh installs opencv-doc";
  cv::CascadeClassifier haar;
  ASSERT_TRUE(haar.load(kHaar)) << kHaar;
  const auto frames = DetectMegamind("");
  ASSERT_EQ(frames.size(), 30u);
  int checked = 0;
  int agreed = 0;
  int with_faces = 0;
  for (const auto& frame : frames) {
    cv::Mat bgr = ToMat(frame->image);
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    std::vector<cv::Rect> reference;
    haar.detectMultiScale(gray, reference, 1.1, 6, 0, cv::Size(40, 40));
    with_faces += frame->objects.empty() ? 0 : 1;
    for (const auto& face : frame->objects) {
      EXPECT_EQ(face.label, "face");
      EXPECT_GE(face.score, 0.75f);
      EXPECT_GT(face.box.w, 0.03f);  // a face, not a speck
      EXPECT_LE(face.box.x + face.box.w, 1.0001f);
      EXPECT_EQ(face.features.at("keypoints").size(), 12u);
    }
    if (reference.size() != 1) continue;  // judge only frames where the reference is sure
    ++checked;
    const cv::Rect truth = reference[0];
    double best = 0;
    for (const auto& face : frame->objects) {
      const cv::Rect box = ToPixels(face.box, frame->image);
      const double inter = (box & truth).area();
      best = std::max(best, inter / static_cast<double>(box.area() + truth.area() - inter));
    }
    agreed += best > 0.3 ? 1 : 0;
  }
  std::cout << "BlazeFace: faces in " << with_faces << " of " << frames.size() << " frames; agrees with the Haar "
            << "cascade on " << agreed << " of the " << checked << " frames where it finds exactly one face\n";
  EXPECT_GE(checked, 5) << "too few frames with one Haar face to judge";
  EXPECT_GE(agreed, checked * 8 / 10) << agreed << " of " << checked << " frames agree";
  EXPECT_GE(with_faces, 15) << "faces in " << with_faces << " of 30 frames";
}

TEST(BlazeFace, NothingOnBlankFrames) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["faces"]},
      "faces": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" +
                                       test::BlazeFaceParams() + R"(}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  ASSERT_TRUE(pipeline.AddSource("blank", ""));
  for (int i = 0; i < 6; ++i) {
    const uint8_t level = static_cast<uint8_t>(i * 50);  // black to light grey
    ASSERT_TRUE(source->Push(test::SolidFrame("blank", i, level, level, level, 640, 480)));
  }
  source->End("blank", 6);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  const auto frames = pipeline.GetModule<test::Recorder>("sink")->kept("blank");
  ASSERT_EQ(frames.size(), 6u);
  for (const auto& frame : frames) EXPECT_TRUE(frame->objects.empty()) << "frame " << frame->frame_index;
}

TEST(BlazeFace, BatchSizesOneAndEightFindTheSameFaces) {
  const auto one = DetectMegamind(R"("batch_size": 1)");
  const auto eight = DetectMegamind(R"("batch_size": 8, "batching_timeout": 5)");
  ASSERT_EQ(one.size(), eight.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i]->objects.size(), eight[i]->objects.size()) << "frame " << one[i]->frame_index;
    for (size_t k = 0; k < one[i]->objects.size(); ++k) {
      EXPECT_NEAR(one[i]->objects[k].box.x, eight[i]->objects[k].box.x, 1e-4);
      EXPECT_NEAR(one[i]->objects[k].box.w, eight[i]->objects[k].box.w, 1e-4);
      EXPECT_NEAR(one[i]->objects[k].score, eight[i]->objects[k].score, 1e-4);
    }
  }
}

}  // namespace
}  // namespace vstream
