// Pre- and postprocessing on known tensors: layouts, letterbox mapping, softmax/top-k, SSD and
// YOLO decoding with NMS.
#include <cmath>

#include "inference_harness.hpp"
#include "vstream/inference/processing.hpp"

namespace vstream {
namespace {

const std::vector<std::string> kNoLabels;

TEST(Preprocess, LayoutsChannelOrderAndNormalization) {
  cv::Mat image(2, 2, CV_8UC3, cv::Scalar(10, 20, 30));  // B=10 G=20 R=30
  PreprocessSpec spec;
  spec.width = 2;
  spec.height = 2;
  spec.rgb = true;
  spec.scale = 0.5f;
  spec.mean = {1, 2, 3};
  spec.std = {2, 2, 2};
  std::vector<float> out(12);
  RegionTransform transform;
  spec.layout = TensorLayout::kNCHW;
  ASSERT_TRUE(PreprocessImage(image, spec, out.data(), &transform));
  EXPECT_FLOAT_EQ(out[0], (30 * 0.5f - 1) / 2);  // plane 0 is R
  EXPECT_FLOAT_EQ(out[4], (20 * 0.5f - 2) / 2);  // plane 1 is G
  EXPECT_FLOAT_EQ(out[8], (10 * 0.5f - 3) / 2);  // plane 2 is B
  spec.layout = TensorLayout::kNHWC;
  ASSERT_TRUE(PreprocessImage(image, spec, out.data(), &transform));
  EXPECT_FLOAT_EQ(out[0], (30 * 0.5f - 1) / 2);
  EXPECT_FLOAT_EQ(out[1], (20 * 0.5f - 2) / 2);
  EXPECT_FLOAT_EQ(out[2], (10 * 0.5f - 3) / 2);
}

TEST(Preprocess, LetterboxMapsBackToTheRegion) {
  cv::Mat image(100, 200, CV_8UC3, cv::Scalar(255, 255, 255));
  PreprocessSpec spec;
  spec.width = 64;
  spec.height = 64;
  spec.resize = ResizeMode::kLetterbox;
  std::vector<float> out(64 * 64 * 3);
  RegionTransform t;
  ASSERT_TRUE(PreprocessImage(image, spec, out.data(), &t));
  EXPECT_FLOAT_EQ(t.scale_x, 0.32f);
  EXPECT_FLOAT_EQ(t.pad_y, 16.0f);  // 64 - 32 rows of image, split top and bottom
  EXPECT_EQ(out[0], 0.0f);          // padding (top-left corner)
  EXPECT_EQ(out[32 * 64 + 32], 255.0f);
  const BoundingBox whole = t.ToRegion(0, 16, 64, 48);  // the image's corners in model pixels
  EXPECT_NEAR(whole.x, 0, 1e-6);
  EXPECT_NEAR(whole.y, 0, 1e-6);
  EXPECT_NEAR(whole.w, 1, 1e-6);
  EXPECT_NEAR(whole.h, 1, 1e-6);
}

TEST(Postprocess, ClassificationSoftmaxTopK) {
  Tensor out({2, 4});
  const float logits[8] = {1, 3, 2, 0, /* item 1 */ 0.1f, 0.2f, 0.6f, 0.1f};  // item 1 is a distribution
  std::copy_n(logits, 8, out.data.data());
  const std::vector<std::string> labels = {"a", "b", "c", "d"};
  PreprocessSpec spec;
  RegionTransform t;
  std::vector<DetectedObject> objects;
  PostprocessContext context{spec, t, std::nanf(""), 0.45f, 2, labels};
  ASSERT_TRUE(FindPostprocessor("classification")({out}, 0, context, &objects));
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].label, "b");
  EXPECT_EQ(objects[1].label, "c");
  const float denominator = std::exp(1.0f) + std::exp(3.0f) + std::exp(2.0f) + std::exp(0.0f);
  EXPECT_NEAR(objects[0].score, std::exp(3.0f) / denominator, 1e-5);
  objects.clear();
  ASSERT_TRUE(FindPostprocessor("PostprocClassification")({out}, 1, context, &objects));
  EXPECT_EQ(objects[0].label, "c");
  EXPECT_NEAR(objects[0].score, 0.6f, 1e-6);  // already a distribution: no softmax
}

TEST(Postprocess, SsdRowsPerImageWithThreshold) {
  // OpenCV's DetectionOutput layout: [1, 1, K, 7] with the image id in column 0.
  Tensor out({1, 1, 3, 7});
  const float rows[21] = {0, 1, 0.9f, 0.1f, 0.1f, 0.5f, 0.5f,   // image 0, kept
                          0, 2, 0.2f, 0.5f, 0.5f, 0.9f, 0.9f,   // image 0, below the threshold
                          1, 1, 0.8f, 0.0f, 0.0f, 1.0f, 1.0f};  // image 1
  std::copy_n(rows, 21, out.data.data());
  PreprocessSpec spec;
  spec.width = 100;
  spec.height = 100;
  RegionTransform t{1, 1, 0, 0, 100, 100};
  std::vector<DetectedObject> objects;
  const std::vector<std::string> labels = {"bg", "person", "car"};
  PostprocessContext context{spec, t, std::nanf(""), 0.45f, 1, labels};
  ASSERT_TRUE(FindPostprocessor("ssd")({out}, 0, context, &objects));
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0].label, "person");
  EXPECT_NEAR(objects[0].box.x, 0.1f, 1e-5);
  EXPECT_NEAR(objects[0].box.w, 0.4f, 1e-5);
  objects.clear();
  ASSERT_TRUE(FindPostprocessor("ssd")({out}, 1, context, &objects));
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_NEAR(objects[0].box.w, 1.0f, 1e-5);
}

TEST(Postprocess, YoloDecodesAndSuppressesOverlaps) {
  // Two overlapping boxes of class 0 and one of class 1 at the same place, in 100x100 input pixels.
  Tensor out({1, 3, 7});
  const float rows[21] = {50, 50, 40, 40, 0.9f, 0.9f, 0.1f,   //
                          52, 50, 40, 40, 0.8f, 0.9f, 0.1f,   // same object, lower score: suppressed
                          50, 50, 40, 40, 0.9f, 0.1f, 0.95f};  // another class: kept
  std::copy_n(rows, 21, out.data.data());
  PreprocessSpec spec;
  spec.width = 100;
  spec.height = 100;
  RegionTransform t{0.5f, 0.5f, 0, 0, 200, 200};  // the region was 200x200, scaled to 100x100
  std::vector<DetectedObject> objects;
  PostprocessContext context{spec, t, std::nanf(""), 0.45f, 1, kNoLabels};
  ASSERT_TRUE(FindPostprocessor("yolo")({out}, 0, context, &objects));
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].label_id, 1);  // highest score first: 0.9 * 0.95
  EXPECT_NEAR(objects[1].box.x, 0.3f, 1e-5);
  EXPECT_NEAR(objects[1].box.w, 0.4f, 1e-5);
}

TEST(Postprocess, BlazeFaceRejectsOtherHeads) {
  Tensor out({1, 10});
  PreprocessSpec spec;
  RegionTransform t;
  std::vector<DetectedObject> objects;
  PostprocessContext context{spec, t, std::nanf(""), 0.3f, 1, kNoLabels};
  Status s = FindPostprocessor("blazeface")({out}, 0, context, &objects);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("512x1, 384x1, 512x16 and 384x16"), std::string::npos) << s.message();
}

TEST(Nms, IouAndSuppression) {
  EXPECT_NEAR(IntersectionOverUnion({0, 0, 2, 2}, {1, 1, 2, 2}), 1.0f / 7.0f, 1e-6);
  std::vector<DetectedObject> objects(3);
  objects[0].box = {0, 0, 1, 1};
  objects[0].score = 0.5f;
  objects[1].box = {0, 0, 1, 1};
  objects[1].score = 0.9f;
  objects[2].box = {5, 5, 1, 1};
  objects[2].score = 0.1f;
  NonMaximumSuppression(&objects, 0.5f, false);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_FLOAT_EQ(objects[0].score, 0.9f);
}

}  // namespace
}  // namespace vstream
