// Config parsing and validation: every invalid case yields its message and nothing starts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// A module with a required path parameter, to check required params and path resolution.
class NeedsModel : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"test module with a required model path",
            {ParamSpec::Path("model_path", "", "the model file").Required(),
             ParamSpec::Int("batch_size", 1, "batch").Range(1, 64)}};
  }
  Status Open(const ModuleParams& params) override {
    opened_path = params.GetPath("model_path");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr) override { return {}; }
  std::filesystem::path opened_path;
};
VSTREAM_REGISTER_MODULE(NeedsModel);

// A module that keeps the list it was given, to see how list parameters arrive.
class ListsInputs : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"test module with a list parameter", {ParamSpec::List("inputs", "", "inputs, each one item")}};
  }
  Status Open(const ModuleParams& params) override {
    inputs = params.GetList("inputs");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr) override { return {}; }
  std::vector<std::string> inputs;
};
VSTREAM_REGISTER_MODULE(ListsInputs);

// A module that takes keys it does not declare (as PyModule does), keeping what it was given.
class TakesOtherParams : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"test module that accepts undeclared params",
            {ParamSpec::Int("level", 1, "a declared parameter").Range(0, 9)},
            "",
            "kept for the test"};
  }
  Status Open(const ModuleParams& params) override {
    level = params.GetInt("level");
    others = params.others();
    return {};
  }
  void Close() override {}
  Status Process(FramePtr) override { return {}; }
  int64_t level = 0;
  ParamValues others;
};
VSTREAM_REGISTER_MODULE(TakesOtherParams);

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("vstream_config_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path Write(const std::string& name, const std::string& text) const {
    std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// Parses and validates; returns the error text ("" when valid).
std::string Problems(const std::string& json) {
  GraphConfig config;
  Status s = GraphConfig::FromString(json, "/cfg", &config);
  if (s) s = config.Validate();
  return s ? "" : s.message();
}

void ExpectProblem(const std::string& json, const std::string& expected) {
  const std::string problems = Problems(json);
  EXPECT_NE(problems.find(expected), std::string::npos) << "got:\n" << problems << "\nwanted: " << expected;
}

const char* kSource = R"("src": {"class_name": "SyntheticSource", "next_modules": ["a"]})";

TEST(Config, ValidConfigWithCommentsStringsAndCnstreamNames) {
  const std::string json = R"({
    // a comment
    "src": { "class_name": "cnstream::SyntheticSource", "parallelism": 0, "next_modules": ["a"],
             "custom_params": { "frames": "40", "width": 0, "height": "0" } },
    /* another comment */
    "a": { "class_name": "vstream::PassThrough", "parallelism": "2", "max_input_queue_size": "40",
           "queue_policy": "drop_oldest", "skip_if": "every_nth:3" }
  })";
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(json, "/cfg", &config));
  ASSERT_TRUE(config.Validate()) << config.Validate().message();
  ASSERT_EQ(config.modules.size(), 2u);
  EXPECT_EQ(config.modules[0].name, "src");  // file order is kept
  EXPECT_EQ(config.modules[1].parallelism, 2);
  EXPECT_EQ(config.modules[1].max_input_queue_size, 40);
  EXPECT_EQ(config.modules[1].queue_policy, QueuePolicy::kDropOldest);
  EXPECT_EQ(config.modules[0].params.at("frames"), "40");
}

TEST(Config, MalformedJsonGivesLineAndColumn) {
  const std::string problems = Problems("{\n  \"src\": {\n    \"class_name\": \"SyntheticSource\",,\n  }\n}");
  EXPECT_NE(problems.find("<string>:3:"), std::string::npos) << problems;
  EXPECT_NE(problems.find("malformed JSON"), std::string::npos) << problems;
}

TEST(Config, UnknownClassListsTheKnownOnes) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThru"}})",
                "module 'a': unknown class_name 'PassThru' (did you mean 'PassThrough'?); known classes:");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "Nope"}})", "PassThrough, Recorder");
}

TEST(Config, UnknownNextModule) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "next_modules": ["sink"]}})",
                "module 'a': next_modules names 'sink', which is not a module in this config");
}

TEST(Config, CycleIsPrinted) {
  ExpectProblem(std::string("{") + kSource + R"(,
      "a": {"class_name": "PassThrough", "next_modules": ["b"]},
      "b": {"class_name": "PassThrough", "next_modules": ["c"]},
      "c": {"class_name": "PassThrough", "next_modules": ["a"]}})",
                "the graph has a cycle: a -> b -> c -> a");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "next_modules": ["a"]}})",
                "cycle: a -> a");
}

TEST(Config, SourceWithParents) {
  ExpectProblem(std::string("{") + kSource + R"(,
      "a": {"class_name": "PassThrough", "next_modules": ["src"]}})",
                "module 'src' is a source (SyntheticSource) but 'a' lists it in next_modules");
}

TEST(Config, UnreachableModule) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"},
      "orphan": {"class_name": "PassThrough"}})",
                "module 'orphan' is not reachable from any source");
}

TEST(Config, DuplicateModuleNames) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"}, "a": {"class_name": "Recorder"}})",
                "key 'a' appears twice at the top level (module names must be unique)");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": 1, "parallelism": 2}})",
                "key 'parallelism' appears twice in 'a'");
}

TEST(Config, MissingRequiredParam) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "NeedsModel"}})",
                "module 'a': parameter 'model_path' is required (the model file)");
}

TEST(Config, WrongTypeAndOutOfRange) {
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": "many"}}})",
                "module 'src': parameter 'frames' must be a whole number, got 'many'");
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"width": 99999}}})",
                "module 'src': parameter 'width' must be between 0 and 16384, got '99999'");
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": {"x": 1}}}})",
                "custom_params.frames must be a string, number, boolean or array of those");
  ExpectProblem(R"({"src": {"class_name": 7}})", "module 'src': 'class_name' must be a string, got number");
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "next_modules": "a"}})",
                "'next_modules' must be an array of module names");
}

TEST(Config, ParallelismAndQueueSize) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": 0}})",
                "module 'a': 'parallelism' must be between 1 and 1024 worker threads, got 0");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": "two"}})",
                "module 'a': 'parallelism' must be a whole number (or a string holding one), got \"two\"");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "max_input_queue_size": 0}})",
                "module 'a': 'max_input_queue_size' must be between 1 and 1000000, got 0");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "queue_policy": "fifo"}})",
                "'queue_policy' must be \"block\", \"drop_oldest\" or \"drop_newest\"");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "skip_if": "every_nth:0"}})",
                "module 'a': skip_if 'every_nth:0': N must be a whole number >= 1");
}

TEST(Config, UnknownModuleKeyAndNoSource) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "paralelism": 2}})",
                "module 'a': unknown key 'paralelism' (did you mean 'parallelism'?)");
  ExpectProblem(R"({"a": {"class_name": "PassThrough"}})", "no source module");
  ExpectProblem("{}", "the config defines no modules");
  ExpectProblem("[1, 2]", "the top level must be a JSON object of modules");
}

TEST(Config, ReportsEveryProblemAtOnce) {
  const std::string problems = Problems(std::string("{") + kSource + R"(,
      "a": {"class_name": "PassThrough", "parallelism": 0, "next_modules": ["nowhere"]},
      "b": {"class_name": "Nope"}})");
  EXPECT_NE(problems.find("parallelism"), std::string::npos) << problems;
  EXPECT_NE(problems.find("nowhere"), std::string::npos) << problems;
  EXPECT_NE(problems.find("Nope"), std::string::npos) << problems;
}

TEST(Config, InvalidConfigStartsNothing) {
  const int threads_before = test::ThreadCount();
  Pipeline pipeline;
  Status built = pipeline.BuildFromString(std::string("{") + kSource + R"(, "a": {"class_name": "Nope"}})");
  EXPECT_FALSE(built);
  EXPECT_EQ(built.code(), StatusCode::kInvalidConfig);
  Status started = pipeline.Start();
  EXPECT_FALSE(started);
  EXPECT_NE(started.message().find("call Build first"), std::string::npos) << started.message();
  EXPECT_FALSE(pipeline.running());
  EXPECT_EQ(test::ThreadCount(), threads_before);
}

TEST(Config, RelativePathsResolveAgainstTheConfigFolder) {
  TempDir dir;
  const auto file = dir.Write("nested/pipeline.json", std::string("{") + kSource + R"(,
      "a": {"class_name": "NeedsModel", "custom_params": {"model_path": "models/face.onnx"}}})");
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromFile(file, &config));
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.Build(config));
  ASSERT_TRUE(pipeline.Start());
  EXPECT_EQ(pipeline.GetModule<NeedsModel>("a")->opened_path, dir.path() / "nested/models/face.onnx");
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Config, OnlyAClassThatAcceptsOtherParamsTakesUndeclaredKeys) {
  const std::string json = std::string("{") + kSource + R"(, "a": {"class_name": "TakesOtherParams",
      "custom_params": {"level": 3, "label": "face", "ratio": 0.5, "on": true, "sizes": [1, "b"],
                        "window": {"w": 3, "h": [1, 2]}, "rows": [[1], [2]]}}})";
  Pipeline pipeline;
  Status built = pipeline.BuildFromString(json);
  ASSERT_TRUE(built) << built.message();
  ASSERT_TRUE(pipeline.Start());
  const auto* module = pipeline.GetModule<TakesOtherParams>("a");
  EXPECT_EQ(module->level, 3);
  EXPECT_EQ(module->others.size(), 6u);
  EXPECT_EQ(module->others.at("label").text(), "face");
  EXPECT_EQ(module->others.at("ratio").text(), "0.5");
  EXPECT_EQ(module->others.at("on").text(), "true");
  EXPECT_EQ(module->others.at("sizes").items(), (std::vector<std::string>{"1", "b"}));
  EXPECT_EQ(module->others.at("sizes").json(), R"([1,"b"])");
  EXPECT_TRUE(module->others.at("window").is_json());
  EXPECT_EQ(module->others.at("window").json(), R"({"h":[1,2],"w":3})");
  EXPECT_EQ(module->others.at("rows").json(), "[[1],[2]]");
  EXPECT_TRUE(pipeline.Stop());

  // Its declared parameters keep their checks.
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "TakesOtherParams",
      "custom_params": {"level": 12, "label": "face"}}})",
                "module 'a': parameter 'level' must be between 0 and 9, got '12'");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "TakesOtherParams",
      "custom_params": {"level": {"x": 1}}}})",
                "module 'a': custom_params.level must be a string, number, boolean or array of those, got {\"x\":1}");
  // Any other class still reports a typo, and a JSON value it cannot take, naming the module.
  const std::string problems = Problems(std::string("{") + kSource + R"(, "a": {"class_name": "NeedsModel",
      "next_modules": ["b"], "custom_params": {"model_path": "m", "batch_sise": 2, "window": {"w": 3}}},
      "b": {"class_name": "TakesOtherParams", "custom_params": {"batch_sise": 2}}})");
  EXPECT_NE(problems.find("module 'a': unknown parameter 'batch_sise' (did you mean 'batch_size'?)"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("module 'a': custom_params.window must be a string, number, boolean or array of those"),
            std::string::npos)
      << problems;
  EXPECT_EQ(problems.find("module 'b'"), std::string::npos) << problems;
}

TEST(Config, MissingFileIsNamed) {
  GraphConfig config;
  Status s = GraphConfig::FromFile("/no/such/pipeline.json", &config);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/no/such/pipeline.json"), std::string::npos);
}

TEST(Config, SubgraphIsInlinedAndRuns) {
  TempDir dir;
  dir.Write("sub/process.json", R"({
      "a": {"class_name": "PassThrough", "next_modules": ["b"]},
      "b": {"class_name": "NeedsModel", "custom_params": {"model_path": "m.onnx"}}})");
  const auto main = dir.Write("main.json", R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["subgraph:proc"],
              "custom_params": {"streams": 2, "frames": 5, "width": 0, "height": 0}},
      "subgraph:proc": {"config_path": "sub/process.json", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"}})");
  GraphConfig config;
  Status s = GraphConfig::FromFile(main, &config);
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(config.Validate()) << config.Validate().message();
  const ModuleConfig* a = config.Find("proc/a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->next_modules, std::vector<std::string>{"proc/b"});
  EXPECT_EQ(config.Find("proc/b")->next_modules, std::vector<std::string>{"sink"});
  EXPECT_EQ(config.Find("src")->next_modules, std::vector<std::string>{"proc/a"});

  Pipeline pipeline;
  ASSERT_TRUE(pipeline.Build(config));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 10u);
  // The subgraph's relative path resolved against the subgraph file's folder.
  EXPECT_EQ(pipeline.GetModule<NeedsModel>("proc/b")->opened_path, dir.path() / "sub/m.onnx");
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Config, SubgraphProblems) {
  TempDir dir;
  const auto loop = dir.Write("loop.json", R"({"subgraph:again": {"config_path": "loop.json"}})");
  GraphConfig config;
  Status s = GraphConfig::FromFile(loop, &config);
  EXPECT_NE(s.message().find("includes itself"), std::string::npos) << s.message();
  const auto missing = dir.Write("missing.json", R"({"subgraph:x": {"config_path": "nope.json"}})");
  s = GraphConfig::FromFile(missing, &config);
  EXPECT_NE(s.message().find("cannot read config_path"), std::string::npos) << s.message();
  ExpectProblem(std::string("{") + R"("src": {"class_name": "SyntheticSource", "next_modules": ["subgraph:none"]}})",
                "no such subgraph is defined");
}

TEST(Config, ProfilerConfig) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(
      R"({"profiler_config": {"enable_profiling": "false", "trace_event_capacity": 10}, )" +
          std::string(R"("src": {"class_name": "SyntheticSource"}})"),
      "/", &config));
  EXPECT_FALSE(config.profiler.enable_profiling);
  EXPECT_EQ(config.profiler.trace_event_capacity, 10);
  ExpectProblem(R"({"profiler_config": {"enable_profiling": "sometimes"}, "src": {"class_name": "SyntheticSource"}})",
                "profiler_config: 'enable_profiling' must be true or false");
  ExpectProblem(R"({"profiler_config": {"colour": 1}, "src": {"class_name": "SyntheticSource"}})",
                "profiler_config: unknown key 'colour'");
}

TEST(Config, OverridesWithSet) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"}})", "/",
                                      &config));
  ASSERT_TRUE(config.Set("a.parallelism=3"));
  ASSERT_TRUE(config.Set("src.frames=7"));
  ASSERT_TRUE(config.Set("a.queue_policy=drop_newest"));
  EXPECT_EQ(config.Find("a")->parallelism, 3);
  EXPECT_EQ(config.Find("src")->params.at("frames"), "7");
  EXPECT_EQ(config.Find("a")->queue_policy, QueuePolicy::kDropNewest);
  EXPECT_NE(config.Set("missing.x=1").message().find("no module named 'missing'"), std::string::npos);
  EXPECT_NE(config.Set("nodot=1").message().find("must look like module.key=value"), std::string::npos);
  ASSERT_TRUE(config.Set("src.framez=7"));  // accepted here, rejected by Validate with a suggestion
  EXPECT_NE(config.Validate().message().find("did you mean 'frames'"), std::string::npos);
}

TEST(Config, GraphvizDot) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"}})", "/",
                                      &config));
  const std::string dot = config.ToDot();
  EXPECT_NE(dot.find("digraph pipeline {"), std::string::npos);
  EXPECT_NE(dot.find("\"src\" -> \"a\";"), std::string::npos) << dot;
}

// The list a ListsInputs module named "a" opens with, given its custom_params (JSON).
std::vector<std::string> ListOpenedWith(const std::string& custom_params) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(std::string("{") + kSource + R"(, "a": {"class_name": "ListsInputs",
      "custom_params": )" + custom_params + "}}");
  EXPECT_TRUE(s) << s.message();
  if (!s) return {"<invalid>"};
  s = pipeline.Start();
  EXPECT_TRUE(s) << s.message();
  std::vector<std::string> inputs = pipeline.GetModule<ListsInputs>("a")->inputs;
  EXPECT_TRUE(pipeline.Stop());
  return inputs;
}

TEST(Config, AnArrayItemIsOneValueEvenWithACommaOrALineBreak) {
  using List = std::vector<std::string>;
  EXPECT_EQ(ListOpenedWith(R"({"inputs": ["cam=/videos/a,b.mp4"]})"), List{"cam=/videos/a,b.mp4"});
  EXPECT_EQ(ListOpenedWith(R"({"inputs": ["a,b.mp4", "c.mp4"]})"), (List{"a,b.mp4", "c.mp4"}));
  EXPECT_EQ(ListOpenedWith(R"({"inputs": ["two\nlines.mp4"]})"), List{"two\nlines.mp4"});
  EXPECT_EQ(ListOpenedWith(R"({"inputs": [1, 2.5, true]})"), (List{"1", "2.5", "true"}));
  // The documented string form: one string of comma-separated items.
  EXPECT_EQ(ListOpenedWith(R"({"inputs": "a.mp4, b.mp4"})"), (List{"a.mp4", "b.mp4"}));
  EXPECT_EQ(ListOpenedWith(R"({"inputs": "a.mp4"})"), List{"a.mp4"});
  EXPECT_EQ(ListOpenedWith(R"({})"), List{});
}

TEST(Config, ParamsKeepArraysAsListsAndOverridesAreText) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(std::string("{") + kSource + R"(, "a": {"class_name": "ListsInputs",
      "custom_params": {"inputs": ["x,y"]}}})", "/", &config));
  const ParamValue& value = config.Find("a")->params.at("inputs");
  EXPECT_TRUE(value.is_list());
  EXPECT_EQ(value.items(), std::vector<std::string>{"x,y"});
  ASSERT_TRUE(config.Set("a.inputs=p.mp4,q.mp4"));  // --set gives the string form
  EXPECT_FALSE(config.Find("a")->params.at("inputs").is_list());
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.Build(config));
  ASSERT_TRUE(pipeline.Start());
  EXPECT_EQ(pipeline.GetModule<ListsInputs>("a")->inputs, (std::vector<std::string>{"p.mp4", "q.mp4"}));
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Config, AModuleRunnerTakesListsAsTheConfigDoes) {
  ModuleRunner runner("ListsInputs", {{"inputs", ParamValue::List({"cam=/videos/a,b.mp4"})}});
  ASSERT_TRUE(runner.Open());
  EXPECT_EQ(runner.module_as<ListsInputs>()->inputs, std::vector<std::string>{"cam=/videos/a,b.mp4"});
  const std::map<std::string, std::string> texts = {{"inputs", "a.mp4,b.mp4"}};  // text: comma-separated
  ModuleRunner from_text("ListsInputs", texts);
  ASSERT_TRUE(from_text.Open());
  EXPECT_EQ(from_text.module_as<ListsInputs>()->inputs, (std::vector<std::string>{"a.mp4", "b.mp4"}));
}

TEST(Config, AListForAOneValueParameterIsAnError) {
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": [1, 2]}}})",
                "module 'src': parameter 'frames' takes one value (int), got a list of 2: [1, 2]");
}

TEST(Config, WholeNumbersOutsideTheirTypeAreErrorsNotTruncated) {
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": 4294967297}})",
                "module 'a': 'parallelism' must be a whole number between -2147483648 and 2147483647, got 4294967297");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": "4294967297"}})",
                "'parallelism' must be a whole number between -2147483648 and 2147483647, got \"4294967297\"");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": 4294967297.0}})",
                "'parallelism' must be a whole number between -2147483648 and 2147483647");
  ExpectProblem(std::string("{") + kSource +
                    R"(, "a": {"class_name": "PassThrough", "max_input_queue_size": 18446744073709551615}})",
                "'max_input_queue_size' must be a whole number between -2147483648 and 2147483647, got "
                "18446744073709551615");
  ExpectProblem(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": 1e300}})",
                "'parallelism' must be a whole number between");
  ExpectProblem(std::string("{") + kSource +
                    R"(, "a": {"class_name": "PassThrough", "skip_if": "every_nth:99999999999999999999"}})",
                "module 'a': skip_if 'every_nth:99999999999999999999': N must be a whole number >= 1 and at most "
                "9223372036854775807");
  ExpectProblem(R"({"profiler_config": {"trace_event_capacity": 1e30}, "src": {"class_name": "SyntheticSource"}})",
                "'trace_event_capacity' must be a whole number >= 1, got 1e+30");
  // custom_params: int64_t is what GetInt returns; the spec's range is named.
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": 99999999999999999999}}})",
                "module 'src': parameter 'frames' must be a whole number between 0 and 9223372036854775807");
  ExpectProblem(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"width": "4294967297"}}})",
                "parameter 'width' must be between 0 and 16384, got '4294967297'");
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"}})", "/",
                                      &config));
  Status s = config.Set("a.parallelism=4294967297");
  EXPECT_NE(s.message().find("'parallelism' must be a whole number between -2147483648 and 2147483647, got "
                             "\"4294967297\""),
            std::string::npos)
      << s.message();
  EXPECT_EQ(config.Find("a")->parallelism, 1);
}

TEST(Config, DeepNestingIsAnErrorNamingTheLimitAndTheFile) {
  TempDir dir;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::vector<std::string> configs = {
      std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": )" + deep + "}}",
      std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "custom_params": {"x": )" + deep + "}}}",
      deep,
      [] {
        std::string objects;
        for (int i = 0; i < 100000; ++i) objects += R"({"k": )";
        return objects + "1" + std::string(100000, '}');
      }()};
  for (const auto& text : configs) {
    const auto file = dir.Write("deep.json", text);
    GraphConfig config;
    Status s = GraphConfig::FromFile(file, &config);
    EXPECT_FALSE(s);
    EXPECT_NE(s.message().find(file.string() + ":"), std::string::npos) << s.message().substr(0, 500);
    EXPECT_NE(s.message().find("JSON objects and arrays nest deeper than 64 levels, the limit "
                               "(ConfigLimits::max_json_depth)"),
              std::string::npos)
        << s.message().substr(0, 500);
    EXPECT_LT(s.message().size(), 1000u);
  }
  // Deep but within the limit: the error shows the value clipped.
  const std::string nested = std::string(60, '[') + std::string(60, ']');
  const std::string problems =
      Problems(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "parallelism": )" + nested + "}}");
  EXPECT_NE(problems.find("'parallelism' must be a whole number (or a string holding one), got " + std::string(60, '[') +
                          std::string(40, ']') + "\u2026 (120 bytes in all)"),
            std::string::npos)
      << problems;
  // Where the limit is: 3 objects and 61 arrays are 64 levels, one more is too many.
  auto nesting = [](int arrays) {
    return Problems(std::string("{") + kSource + R"(,
      "a": {"class_name": "PassThrough", "custom_params": {"x": )" +
                    std::string(arrays, '[') + std::string(arrays, ']') + "}}}");
  };
  EXPECT_EQ(nesting(61).find("nest deeper"), std::string::npos) << nesting(61);
  // The value is shown clipped, with its length: 61 '[' and 61 ']'.
  EXPECT_NE(nesting(61).find("custom_params.x must be a string, number, boolean or array of those, got [[[[[["),
            std::string::npos)
      << nesting(61);
  EXPECT_NE(nesting(61).find("\u2026 (122 bytes in all)"), std::string::npos) << nesting(61);
  EXPECT_NE(nesting(62).find("<string>:2:126: JSON objects and arrays nest deeper than 64 levels"), std::string::npos)
      << nesting(62);
}

TEST(ConfigScale, HugeValuesAreClippedInErrors) {
  const std::string huge(1 << 20, 'x');
  std::string items;
  for (int i = 0; i < 100000; ++i) items += (i == 0 ? "" : ",") + std::to_string(i);
  for (const std::string& value : {"\"" + huge + "\"", "[" + items + "]", R"({"k": ")" + huge + "\"}"}) {
    const std::string problems =
        Problems(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough", "queue_policy": )" + value + "}}");
    EXPECT_NE(problems.find("module 'a': 'queue_policy' must be \"block\", \"drop_oldest\" or \"drop_newest\", got "),
              std::string::npos)
        << problems.substr(0, 500);
    EXPECT_LT(problems.size(), 1000u) << problems.substr(0, 500);
  }
  const std::string problems = Problems(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": ")" +
                                        huge + R"("}}})");
  EXPECT_NE(problems.find("parameter 'frames' must be a whole number, got 'xxx"), std::string::npos)
      << problems.substr(0, 500);
  EXPECT_NE(problems.find("(1048576 bytes in all)"), std::string::npos) << problems.substr(0, 500);
  EXPECT_LT(problems.size(), 1000u);
}

TEST(Config, EveryValueInAMessageIsClippedPrintableAndSaysItsLength) {
  // A nested parameter value of 100 KB: one short line that says how long the value was.
  std::string nested = "[";
  for (int i = 0; i < 2000; ++i) nested += (i == 0 ? "[\"" : ",[\"") + std::string(46, 'v') + "\"]";
  nested += "]";
  ASSERT_GT(nested.size(), 100000u);
  std::string problems = Problems(R"({"src": {"class_name": "SyntheticSource", "custom_params": {"frames": )" + nested + "}}}");
  EXPECT_NE(problems.find("custom_params.frames must be a string, number, boolean or array of those, got [[\"vvv"),
            std::string::npos)
      << problems.substr(0, 500);
  EXPECT_NE(problems.find("(" + std::to_string(nested.size()) + " bytes in all)"), std::string::npos)
      << problems.substr(0, 500);
  EXPECT_LT(problems.size(), 300u) << problems.substr(0, 500);

  // The token the JSON parser stopped in (an unterminated string of 100 KB).
  problems = Problems(R"({"src": {"class_name": ")" + std::string(100000, 'b') + "}}");
  EXPECT_NE(problems.find("malformed JSON"), std::string::npos) << problems.substr(0, 500);
  EXPECT_NE(problems.find("bytes in all)"), std::string::npos) << problems.substr(0, 500);
  EXPECT_LT(problems.size(), 300u) << problems.substr(0, 500);

  // Overrides, whatever their size or bytes.
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(std::string("{") + kSource + R"(, "a": {"class_name": "PassThrough"}})", "/",
                                      &config));
  const std::string huge(100000, 'k');
  for (const std::string& assignment : {"nomodule." + huge + "=1", "a." + huge, "a.parallelism=" + huge}) {
    const Status s = config.Set(assignment);
    ASSERT_FALSE(s);
    EXPECT_LT(s.message().size(), 300u) << s.message().substr(0, 500);
    EXPECT_NE(s.message().find("bytes in all)"), std::string::npos) << s.message().substr(0, 500);
  }
  const Status escaped = config.Set("a.b\x1b[2J");
  EXPECT_NE(escaped.message().find("override 'a.b\\x1b[2J' must look like module.key=value"), std::string::npos)
      << escaped.message();
  // A class name with terminal escapes is shown escaped.
  EXPECT_NE(Problems(R"({"src": {"class_name": "Synthetic\u001b[2JSource"}})").find("'Synthetic\\x1b[2JSource'"),
            std::string::npos);
}

// A source and a chain of `length` PassThrough modules m0 -> m1 -> ..., built in memory.
GraphConfig Chain(int length) {
  GraphConfig config;
  config.origin = "chain";
  ModuleConfig source;
  source.name = "src";
  source.class_name = "SyntheticSource";
  source.next_modules = {"m0"};
  config.modules.push_back(source);
  for (int i = 0; i < length; ++i) {
    ModuleConfig module;
    module.name = "m" + std::to_string(i);
    module.class_name = "PassThrough";
    if (i + 1 < length) module.next_modules = {"m" + std::to_string(i + 1)};
    config.modules.push_back(std::move(module));
  }
  return config;
}

TEST(ConfigScale, AVeryLongChainValidatesAndItsCycleIsFound) {
  constexpr int kLength = 100000;  // a recursive search overflows the stack long before this
  GraphConfig config = Chain(kLength);
  Status s = config.Validate();
  EXPECT_TRUE(s) << s.message().substr(0, 500);
  config.modules.back().next_modules = {"m0"};
  s = config.Validate();
  EXPECT_NE(s.message().find("the graph has a cycle: m0 -> m1 -> m2 -> m3 -> m4 -> m5 -> ... (99991 more) -> "
                             "m99997 -> m99998 -> m99999 -> m0; frames must flow one way"),
            std::string::npos)
      << s.message().substr(0, 500);
}

TEST(ConfigScale, ManyBadTargetsGiveAShortAnswerQuickly) {
  // Quadratic validation (every error scanning every module) takes minutes here; linear, well under one second.
  GraphConfig config = Chain(50000);
  for (auto& module : config.modules) {
    if (module.name != "src") module.next_modules.push_back("missing_" + module.name);
  }
  Status s = config.Validate();
  EXPECT_NE(s.message().find("module 'm0': next_modules names 'missing_m0', which is not a module in this config "
                             "(it has 50001 modules)"),
            std::string::npos)
      << s.message().substr(0, 500);
  EXPECT_NE(s.message().find("... and 49900 more problems"), std::string::npos) << s.message().substr(0, 500);
}

TEST(ConfigScale, AConfigFileBeyondTheModuleLimitIsAnError) {
  TempDir dir;
  std::string text = std::string("{") + R"("src": {"class_name": "SyntheticSource", "next_modules": ["m0"]})";
  for (int i = 0; i < 70000; ++i) {
    text += ",\n\"m" + std::to_string(i) + R"(": {"class_name": "PassThrough", "next_modules": ["m)" +
            std::to_string(i + 1) + "\"]}";
  }
  const auto file = dir.Write("chain.json", text + "}");
  GraphConfig config;
  Status s = GraphConfig::FromFile(file, &config);
  EXPECT_NE(s.message().find(file.string() + ": the config expands to more than 10000 modules (subgraph includes "
                             "counting as one each), the limit (ConfigLimits::max_modules)"),
            std::string::npos)
      << s.message().substr(0, 500);
  ConfigLimits limits;
  limits.max_modules = 100000;
  s = GraphConfig::FromFile(file, &config, limits);
  ASSERT_TRUE(s) << s.message().substr(0, 500);
  EXPECT_EQ(config.modules.size(), 70001u);
  s = config.Validate();
  EXPECT_NE(s.message().find("module 'm69999': next_modules names 'm70000', which is not a module in this config"),
            std::string::npos)
      << s.message().substr(0, 500);
}

TEST(ConfigScale, DoublingSubgraphsStopAtTheModuleLimitNamingTheIncludeChain) {
  // 17 files, each including the next twice: 2^16 copies of the last one's module, 16 levels deep.
  TempDir dir;
  constexpr int kFiles = 17;
  for (int i = 1; i <= kFiles; ++i) {
    const std::string next = "level" + std::to_string(i + 1) + ".json";
    dir.Write("level" + std::to_string(i) + ".json",
              i < kFiles ? R"({"subgraph:a": {"config_path": ")" + next + R"("}, "subgraph:b": {"config_path": ")" +
                                   next + R"("}})"
                             : R"({"last": {"class_name": "PassThrough"}})");
  }
  const auto main = dir.Write("level1.json", R"({"src": {"class_name": "SyntheticSource", "next_modules": ["subgraph:a"]},
      "subgraph:a": {"config_path": "level2.json"}, "subgraph:b": {"config_path": "level2.json"}})");
  GraphConfig config;
  Status s = GraphConfig::FromFile(main, &config);
  EXPECT_NE(s.message().find("the config expands to more than 10000 modules"), std::string::npos)
      << s.message().substr(0, 500);
  EXPECT_NE(s.message().find("reading stopped in " + main.string() + " -> " + (dir.path() / "level2.json").string() +
                             " -> " + (dir.path() / "level3.json").string()),
            std::string::npos)
      << s.message().substr(0, 1000);

  // Within the limit, a file included many times is expanded once per include.
  dir.Write("level11.json", R"({"last": {"class_name": "PassThrough"}})");  // 2^10 copies now
  s = GraphConfig::FromFile(main, &config);
  ASSERT_TRUE(s) << s.message().substr(0, 500);
  EXPECT_EQ(config.modules.size(), 1u + 1024u);
  EXPECT_NE(config.Find("a/a/a/a/a/a/a/a/a/a/last"), nullptr);
  EXPECT_NE(config.Find("b/b/b/b/b/b/b/b/b/b/last"), nullptr);
  EXPECT_NE(config.Find("a/b/a/b/a/b/a/b/a/b/last"), nullptr);
}

TEST(Config, SubgraphsNestedTooDeepAreAnErrorNamingTheIncludeChain) {
  TempDir dir;
  for (int i = 0; i < 20; ++i) {
    dir.Write("c" + std::to_string(i) + ".json",
              R"({"m": {"class_name": "PassThrough"}, "subgraph:s": {"config_path": "c)" + std::to_string(i + 1) +
                  R"(.json"}})");
  }
  GraphConfig config;
  Status s = GraphConfig::FromFile(dir.path() / "c0.json", &config);
  const std::string chain = (dir.path() / "c0.json").string() + " -> " + (dir.path() / "c1.json").string();
  EXPECT_NE(s.message().find("config_path '" + (dir.path() / "c17.json").string() +
                             "' would nest subgraphs 17 deep, deeper than 16, the limit "
                             "(ConfigLimits::max_include_depth): " + chain),
            std::string::npos)
      << s.message();
  ConfigLimits limits;
  limits.max_include_depth = 2;
  s = GraphConfig::FromFile(dir.path() / "c0.json", &config, limits);
  EXPECT_NE(s.message().find("would nest subgraphs 3 deep, deeper than 2"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
