// Secondary inference: the model runs on crops of the frame's objects (filtered by label), in
// mini-batches, and its results become attributes of those objects.
#include "inference_harness.hpp"

namespace vstream {
namespace {

// Paints five vertical bands (red, blue, red, green, red) and adds one object per band, labelled
// "car" for the red ones and "person" for the others: a stand-in for a detector.
class BandPainter : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    static const uint8_t kBgr[5][3] = {{20, 20, 220}, {220, 20, 20}, {20, 20, 220}, {20, 220, 20}, {20, 20, 220}};
    VideoFrame& image = frame->image;
    const int band = image.width() / 5;
    for (int y = 0; y < image.height(); ++y) {
      uint8_t* row = image.plane(0) + static_cast<size_t>(y) * image.stride(0);
      for (int x = 0; x < image.width(); ++x) std::copy_n(kBgr[std::min(4, x / band)], 3, row + 3 * x);
    }
    for (int b = 0; b < 5; ++b) {
      DetectedObject object;
      object.box = {static_cast<float>(b) / 5, 0.1f, 0.2f, 0.8f};
      object.label = kBgr[b][2] == 220 ? "car" : "person";
      frame->objects.push_back(object);
    }
    return {};
  }
};
VSTREAM_REGISTER_MODULE(BandPainter);

std::vector<FramePtr> RunBands(const std::string& extra) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["paint"]},
      "paint": {"class_name": "BandPainter", "next_modules": ["colour"]},
      "colour": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" +
                                      test::ClassifierParams(R"("object_infer": true, "batch_size": 2)" + extra) + R"(}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
  EXPECT_TRUE(s) << s.message();
  EXPECT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  EXPECT_TRUE(pipeline.AddSource("cam", ""));
  for (int64_t i = 0; i < 4; ++i) EXPECT_TRUE(source->Push(test::SolidFrame("cam", i, 0, 0, 0, 200, 80)));
  source->End("cam", 4);
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  return pipeline.GetModule<test::Recorder>("sink")->kept("cam");
}

TEST(SecondaryInference, FilteredObjectsGetAttributes) {
  const auto frames = RunBands(R"(, "object_filter": ["car"])");
  ASSERT_EQ(frames.size(), 4u);
  for (const auto& frame : frames) {
    ASSERT_EQ(frame->objects.size(), 5u);  // no objects added: classifications become attributes
    for (const auto& object : frame->objects) {
      if (object.label == "car") {
        ASSERT_EQ(object.attributes.count("colour"), 1u);
        EXPECT_EQ(object.attributes.at("colour"), "red");
        EXPECT_EQ(object.attributes.at("colour.label_id"), "0");
        EXPECT_GT(std::stod(object.attributes.at("colour.score")), 0.5);
      } else {
        EXPECT_TRUE(object.attributes.empty()) << "person objects are filtered out";
      }
    }
  }
}

TEST(SecondaryInference, EveryObjectWithoutAFilterInMiniBatches) {
  // Five crops per frame with batch_size 2: mini-batches of 2, 2 and 1.
  const auto frames = RunBands("");
  ASSERT_EQ(frames.size(), 4u);
  const char* expected[5] = {"red", "blue", "red", "green", "red"};
  for (const auto& frame : frames) {
    ASSERT_EQ(frame->objects.size(), 5u);
    for (size_t b = 0; b < 5; ++b) EXPECT_EQ(frame->objects[b].attributes.at("colour"), expected[b]) << "band " << b;
  }
}

}  // namespace
}  // namespace vstream
