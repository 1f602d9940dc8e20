// Bad configuration is caught at Open with a message that says what to fix, and nothing starts;
// custom postprocessors registered from C++ work; CNStream's config shape runs.
#include <fstream>

#include "inference_harness.hpp"
#include "vstream/inference/processing.hpp"

namespace vstream {
namespace {

// Starts ManualSource -> Inferencer(params) -> Recorder; returns Start's message ("" on success).
std::string StartWith(const std::string& params) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["infer"]},
      "infer": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" + params + R"(}},
      "sink": {"class_name": "Recorder"}})");
  if (!s) return s.message();
  s = pipeline.Start();
  const bool running = pipeline.running();
  EXPECT_TRUE(pipeline.Stop());
  EXPECT_EQ(running, s.ok());
  return s ? "" : s.message();
}

void ExpectOpenFails(const std::string& params, const std::string& expected) {
  const std::string message = StartWith(params);
  EXPECT_NE(message.find("module 'infer' (Inferencer) failed to open"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << "got: " << message << "\nwanted: " << expected;
}

TEST(InferencerErrors, EachBadInputIsNamedAtOpen) {
  test::ScratchDir dir("inference_errors");
  std::ofstream(dir / "corrupt.onnx") << "this is not a model";
  const auto& models = test::GeneratedModels();
  const std::string classifier = (models / "colour_classifier.onnx").string();
  ExpectOpenFails(R"("model_path": "/no/such/model.onnx", "postproc_name": "classification")",
                  "model_path: no model file at '/no/such/model.onnx'");
  ExpectOpenFails(R"("model_path": ")" + dir / "corrupt.onnx" + R"(", "postproc_name": "classification")",
                  "OpenCV cannot read '" + dir / "corrupt.onnx" + "' as a model");
  ExpectOpenFails(test::BlazeFaceParams(R"("input_layout": "nchw")"),
                  "input_layout says nchw but the model's input is nhwc (shape 1x128x128x3)");
  ExpectOpenFails(test::BlazeFaceParams(R"("input_width": 224, "input_height": 224)"),
                  "input_width/input_height say 224x224 but the model's input is 128x128");
  ExpectOpenFails(R"("model_path": ")" + classifier + R"(", "postproc_name": "nope")",
                  "postproc_name: postprocessor 'nope' is not registered; known: blazeface, classification");
  ExpectOpenFails(R"("model_path": ")" + classifier + R"(", "postproc_name": "classification", "labels_path": "/no/labels.txt")",
                  "labels_path: cannot read '/no/labels.txt'");
  ExpectOpenFails(test::ClassifierParams(R"("devices": "0,1")"), "devices: device 0 does not exist");
  // The classifier takes 16x16 images: a declared 8x8 input does not fit its declared shape.
  ExpectOpenFails(R"("model_path": ")" + classifier + R"(", "postproc_name": "classification", "input_width": 8, "input_height": 8)",
                  "say 8x8 but the model's input is 16x16");
}

TEST(InferencerErrors, MissingRequiredParamsAreConfigErrors) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(R"({"src": {"class_name": "ManualSource", "next_modules": ["infer"]},
      "infer": {"class_name": "cnstream::Inferencer"}})", "/", &config));
  const std::string problems = config.Validate().message();
  EXPECT_NE(problems.find("parameter 'model_path' is required"), std::string::npos) << problems;
  EXPECT_NE(problems.find("parameter 'postproc_name' is required"), std::string::npos) << problems;
}

TEST(InferencerErrors, CustomPostprocessorFromCpp) {
  // Counts the output's classes above 0.5 as objects: registered by name, used from JSON.
  ASSERT_TRUE(RegisterPostprocessor("test_bright_channels", [](const std::vector<Tensor>& outputs, int64_t item,
                                                               const PostprocessContext&, std::vector<DetectedObject>* objects) {
    const float* scores = outputs[0].item(item);
    for (int64_t c = 0; c < outputs[0].item_size(); ++c) {
      if (scores[c] > 5.0f) {  // mean channel value * 10 > 5: a channel brighter than half
        DetectedObject o;
        o.box = {0.25f, 0.25f, 0.5f, 0.5f};
        o.label_id = static_cast<int>(c);
        objects->push_back(o);
      }
    }
    return Status::Ok();
  }));
  EXPECT_FALSE(RegisterPostprocessor("test_bright_channels", nullptr));
  const auto& models = test::GeneratedModels();
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({"src": {"class_name": "ManualSource", "next_modules": ["infer"]},
      "infer": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {"model_path": ")" +
                                       (models / "colour_classifier.onnx").string() + R"(", "postproc_name": "test_bright_channels",
                 "scale": 0.0039215686, "input_width": 16, "input_height": 16}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  ASSERT_TRUE(source->Push(test::SolidFrame("cam", 0, 250, 250, 10)));  // blue and green bright
  source->End("cam", 1);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const auto frames = pipeline.GetModule<test::Recorder>("sink")->kept("cam");
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0]->objects.size(), 2u);
  EXPECT_EQ(frames[0]->objects[0].label_id, 1);  // green (RGB order)
  EXPECT_EQ(frames[0]->objects[1].label_id, 2);  // blue
}

TEST(InferencerErrors, AnUnavailableTargetFallsBackToTheCpu) {
  // Debian's OpenCV has no CUDA: the instance says so in the log and runs on the CPU.
  EXPECT_EQ(StartWith(test::ClassifierParams(R"("target": "cuda", "backend": "cuda")")), "");
  EXPECT_EQ(StartWith(test::ClassifierParams(R"("target": "vulkan")")), "");
}

TEST(InferencerErrors, CnstreamInferencerBlockRunsWithAMissingMluCard) {
  // config_process2.json's Inferencer: func_name, batching_timeout, device_id 1 (an MLU card this
  // machine does not have): it runs on the CPU with a warning.
  const auto& models = test::GeneratedModels();
  const std::string message = StartWith(R"("model_path": ")" + (models / "colour_classifier.onnx").string() +
                                        R"(", "func_name": "subnet0", "postproc_name": "PostprocClassification",
                                        "batching_timeout": 60, "device_id": 1, "input_width": 16, "input_height": 16)");
  EXPECT_EQ(message, "");
}

}  // namespace
}  // namespace vstream
