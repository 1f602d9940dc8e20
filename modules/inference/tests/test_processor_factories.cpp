// Processors with parameters and state of their own: factories registered from C++ make one
// processor per Inferencer module from its preproc_params / postproc_params, plain processors read
// the same params, and bad params or a factory's failure stop Open with what to fix.
#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "inference_harness.hpp"
#include "vstream/inference/processing.hpp"

namespace vstream {
namespace {

// What the factories below were asked for, in the order modules opened.
struct Made {
  std::string kind;  // "pre" or "post"
  std::string module;
  std::string name;
  ProcessorParams params;
};
std::mutex made_mutex;
std::vector<Made> made;  // guarded by made_mutex

void Remember(const std::string& kind, const ProcessorSetup& setup) {
  std::lock_guard<std::mutex> lock(made_mutex);
  made.push_back({kind, setup.module, setup.name, setup.params});
}

std::vector<Made> MadeSoFar() {
  std::lock_guard<std::mutex> lock(made_mutex);
  return made;
}

// "test_tagger": adds one object per image, labelled with its `label` param and numbered by a call
// counter of its own module. Without `label` the factory fails.
Status MakeTagger(const ProcessorSetup& setup, Postprocessor* out) {
  const auto label = setup.params.find("label");
  if (label == setup.params.end()) {
    return {StatusCode::kInvalidConfig, "label=... is missing (the label of the objects it adds)"};
  }
  Remember("post", setup);
  auto calls = std::make_shared<std::atomic<int>>(0);
  *out = [calls, text = label->second](const std::vector<Tensor>&, int64_t, const PostprocessContext&,
                                       std::vector<DetectedObject>* objects) {
    DetectedObject object;
    object.label = text;
    object.box = {0.25f, 0.25f, 0.5f, 0.5f};
    object.score = 1;
    object.attributes["call"] = std::to_string(++*calls);
    objects->push_back(std::move(object));
    return Status::Ok();
  };
  return Status::Ok();
}

// "test_image_factory": the built-in image preprocessing, made by a factory that records its params.
Status MakeImageFactory(const ProcessorSetup& setup, Preprocessor* out) {
  Remember("pre", setup);
  *out = PreprocessImage;
  return Status::Ok();
}

// "test_echo_params" (plain): one object whose label is postproc_params' `label` and whose
// attributes are every preproc_params and postproc_params item.
Status EchoParams(const std::vector<Tensor>&, int64_t, const PostprocessContext& context,
                  std::vector<DetectedObject>* objects) {
  DetectedObject object;
  object.box = {0, 0, 0.5f, 0.5f};
  object.label = context.params.count("label") ? context.params.at("label") : "(none)";
  for (const auto& [key, value] : context.params) object.attributes["post." + key] = value;
  for (const auto& [key, value] : context.spec.params) object.attributes["pre." + key] = value;
  objects->push_back(std::move(object));
  return Status::Ok();
}

bool RegisterTestProcessors() {
  static const bool registered =
      RegisterPostprocessorFactory("test_tagger", MakeTagger, {"TestTagger"}) &&
      RegisterPreprocessorFactory("test_image_factory", MakeImageFactory) &&
      RegisterPostprocessor("test_echo_params", EchoParams);
  return registered;
}

// "custom_params" of an Inferencer on BlazeFace with the given processor settings.
std::string InferencerParams(const std::string& processors) {
  return R"("model_path": ")" + test::BlazeFaceModel() + R"(", "input_width": 128, "input_height": 128, )" + processors;
}

struct RunResult {
  Status started;
  std::vector<FramePtr> frames;
};

// ManualSource -> `modules` (Inferencers chained by the caller, the first named `first`, the last
// leading to "sink") -> Recorder; `count` solid frames of stream "cam".
RunResult RunChain(const std::string& first, const std::string& modules, int count) {
  RunResult result;
  Pipeline pipeline;
  result.started = pipeline.BuildFromString(R"({"src": {"class_name": "ManualSource", "next_modules": [")" + first +
                                            R"("]}, )" + modules + R"(,
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
  if (result.started) result.started = pipeline.Start();
  if (!result.started) return result;
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  EXPECT_TRUE(pipeline.AddSource("cam", ""));
  for (int i = 0; i < count; ++i) EXPECT_TRUE(source->Push(test::SolidFrame("cam", i, 40, 80, 120, 96, 64)));
  source->End("cam", count);
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  result.frames = pipeline.GetModule<test::Recorder>("sink")->kept("cam");
  return result;
}

std::string OneInferencer(const std::string& processors) {
  return R"("infer": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" +
         InferencerParams(processors) + "}}";
}

TEST(ProcessorFactories, ParamsReachTheProcessorsAFactoryMakes) {
  ASSERT_TRUE(RegisterTestProcessors());
  const size_t before = MadeSoFar().size();
  const RunResult run = RunChain("infer", OneInferencer(R"("postproc_name": "test_tagger",
      "postproc_params": ["label=plate", "min_size = 0.05", "expr=a=b"],
      "preproc_name": "test_image_factory", "preproc_params": "gain=2")"), 3);
  ASSERT_TRUE(run.started) << run.started.message();
  const std::vector<Made> calls = MadeSoFar();
  ASSERT_EQ(calls.size(), before + 2);
  // Processors are made postprocessor first, each with its own params; spaces around key and value
  // are dropped, and a value keeps any further '='.
  EXPECT_EQ(calls[before].kind, "post");
  EXPECT_EQ(calls[before].module, "infer");
  EXPECT_EQ(calls[before].name, "test_tagger");
  EXPECT_EQ(calls[before].params, (ProcessorParams{{"label", "plate"}, {"min_size", "0.05"}, {"expr", "a=b"}}));
  EXPECT_EQ(calls[before + 1].kind, "pre");
  EXPECT_EQ(calls[before + 1].params, (ProcessorParams{{"gain", "2"}}));
  ASSERT_EQ(run.frames.size(), 3u);
  for (size_t i = 0; i < run.frames.size(); ++i) {
    ASSERT_EQ(run.frames[i]->objects.size(), 1u);
    EXPECT_EQ(run.frames[i]->objects[0].label, "plate");
    EXPECT_EQ(run.frames[i]->objects[0].attributes.at("call"), std::to_string(i + 1));
  }
}

TEST(ProcessorFactories, EachInferencerModuleGetsItsOwnInstance) {
  ASSERT_TRUE(RegisterTestProcessors());
  const size_t before = MadeSoFar().size();
  // The alias, with CNStream's prefix, names the same factory.
  const std::string first = InferencerParams(R"("postproc_name": "test_tagger", "postproc_params": ["label=a"])");
  const std::string second =
      InferencerParams(R"("postproc_name": "cnstream::TestTagger", "postproc_params": ["label=b"])");
  const RunResult run = RunChain("first",
                            R"("first": {"class_name": "Inferencer", "next_modules": ["second"], "custom_params": {)" +
                                first + R"(}},
                               "second": {"class_name": "Inferencer", "next_modules": ["sink"], "custom_params": {)" +
                                second + "}}",
                            4);
  ASSERT_TRUE(run.started) << run.started.message();
  const std::vector<Made> calls = MadeSoFar();
  ASSERT_EQ(calls.size(), before + 2);
  std::vector<std::string> modules = {calls[before].module, calls[before + 1].module};
  std::sort(modules.begin(), modules.end());
  EXPECT_EQ(modules, (std::vector<std::string>{"first", "second"}));
  ASSERT_EQ(run.frames.size(), 4u);
  for (size_t i = 0; i < run.frames.size(); ++i) {
    // Each module's counter counts its own calls: both reach 4, not 8 between them.
    ASSERT_EQ(run.frames[i]->objects.size(), 2u);
    EXPECT_EQ(run.frames[i]->objects[0].label, "a");
    EXPECT_EQ(run.frames[i]->objects[1].label, "b");
    EXPECT_EQ(run.frames[i]->objects[0].attributes.at("call"), std::to_string(i + 1));
    EXPECT_EQ(run.frames[i]->objects[1].attributes.at("call"), std::to_string(i + 1));
  }
}

TEST(ProcessorFactories, PlainProcessorsReadTheParamsToo) {
  ASSERT_TRUE(RegisterTestProcessors());
  const RunResult run = RunChain("infer", OneInferencer(R"("postproc_name": "test_echo_params",
      "postproc_params": ["label=echo", "k=v"], "preproc_params": ["size=small"])"), 1);
  ASSERT_TRUE(run.started) << run.started.message();
  ASSERT_EQ(run.frames.size(), 1u);
  ASSERT_EQ(run.frames[0]->objects.size(), 1u);
  const DetectedObject& object = run.frames[0]->objects[0];
  EXPECT_EQ(object.label, "echo");
  EXPECT_EQ(object.attributes, (std::map<std::string, std::string>{
                                   {"post.label", "echo"}, {"post.k", "v"}, {"pre.size", "small"}}));
}

void ExpectStartFails(const std::string& processors, const std::string& expected) {
  const RunResult run = RunChain("infer", OneInferencer(processors), 0);
  EXPECT_FALSE(run.started);
  EXPECT_NE(run.started.message().find("module 'infer' (Inferencer) failed to open: " + expected), std::string::npos)
      << "got: " << run.started.message() << "\nwanted: " << expected;
}

TEST(ProcessorFactories, AFactoryFailureOrBadParamsFailOpenWithTheReason) {
  ASSERT_TRUE(RegisterTestProcessors());
  ExpectStartFails(R"("postproc_name": "test_tagger", "postproc_params": ["colour=red"])",
                   "postproc_name: postprocessor 'test_tagger': label=... is missing (the label of the objects it "
                   "adds)");
  ExpectStartFails(R"("postproc_name": "test_tagger", "postproc_params": ["label"])",
                   "postproc_params: item 'label' is not of the form key=value");
  ExpectStartFails(R"("postproc_name": "test_tagger", "postproc_params": ["=x"])",
                   "postproc_params: item '=x' is not of the form key=value");
  ExpectStartFails(R"("postproc_name": "test_tagger", "postproc_params": ["label=a", "label=b"])",
                   "postproc_params: key 'label' is given twice");
  ExpectStartFails(R"("postproc_name": "blazeface", "preproc_params": ["size"])",
                   "preproc_params: item 'size' is not of the form key=value");
}

TEST(ProcessorFactories, FunctionsAndFactoriesShareOneNamespacePerKind) {
  ASSERT_TRUE(RegisterTestProcessors());
  // Listed together (aliases not), and no name is taken twice, whichever way it was registered.
  const std::vector<std::string> post = PostprocessorNames();
  for (const char* name : {"blazeface", "test_tagger", "test_echo_params"}) {
    EXPECT_NE(std::find(post.begin(), post.end(), name), post.end()) << name;
  }
  EXPECT_EQ(std::find(post.begin(), post.end(), "TestTagger"), post.end());
  const std::vector<std::string> pre = PreprocessorNames();
  EXPECT_NE(std::find(pre.begin(), pre.end(), "test_image_factory"), pre.end());
  EXPECT_FALSE(RegisterPostprocessor("test_tagger", EchoParams));
  EXPECT_FALSE(RegisterPostprocessor("TestTagger", EchoParams));
  EXPECT_FALSE(RegisterPostprocessorFactory("blazeface", MakeTagger));
  EXPECT_FALSE(RegisterPostprocessorFactory("test_other", MakeTagger, {"PostprocSsd"}));
  EXPECT_FALSE(RegisterPostprocessorFactory("test_null", nullptr));
  EXPECT_FALSE(RegisterPreprocessorFactory("image", MakeImageFactory));
  // A factory has no shared function to find; MakePostprocessor makes one from params.
  EXPECT_FALSE(FindPostprocessor("test_tagger"));
  Postprocessor made_one;
  const std::string module = "m";
  const std::string name = "cnstream::TestTagger";
  const ProcessorParams params{{"label", "x"}};
  EXPECT_TRUE(MakePostprocessor(name, {module, name, params}, &made_one));
  EXPECT_TRUE(made_one);
  const Status unknown = MakePostprocessor("test_taggr", {module, name, params}, &made_one);
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
  // Unknown names list both kinds.
  ExpectStartFails(R"("postproc_name": "test_taggr")",
                   "postproc_name: postprocessor 'test_taggr' is not registered (did you mean 'test_tagger'?); known: "
                   "blazeface, classification");
  const RunResult run = RunChain("infer", OneInferencer(R"("postproc_name": "nope")"), 0);
  EXPECT_NE(run.started.message().find("test_echo_params, test_tagger, yolo"), std::string::npos)
      << run.started.message();
}

}  // namespace
}  // namespace vstream
