// Declared parameters: defaults, types, ranges, choices, paths, lists, and the messages on error.
#include <gtest/gtest.h>

#include "vstream/params.hpp"

namespace vstream {
namespace {

std::vector<ParamSpec> Specs() {
  return {ParamSpec::Int("batch_size", 1, "frames per call").Range(1, 64),
          ParamSpec::Double("threshold", 0.5, "minimum score").Range(0, 1),
          ParamSpec::Bool("loop", false, "restart at the end"),
          ParamSpec::Enum("policy", "cpu", {"cpu", "gpu"}, "where to run"),
          ParamSpec::Path("model_path", "", "model file").Required(),
          ParamSpec::List("inputs", "", "uris"),
          ParamSpec::String("name", "x", "a name")};
}

TEST(ModuleParams, FillsDefaultsAndConvertsTypes) {
  ModuleParams params;
  Status s = ModuleParams::Validate("infer", Specs(),
                                    {{"model_path", "models/a.onnx"}, {"batch_size", "8"}, {"loop", "yes"},
                                     {"policy", "GPU"}, {"inputs", "a.mp4\nb.mp4"}},
                                    "/configs", &params);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(params.GetInt("batch_size"), 8);
  EXPECT_DOUBLE_EQ(params.GetDouble("threshold"), 0.5);
  EXPECT_TRUE(params.GetBool("loop"));
  EXPECT_EQ(params.GetString("policy"), "gpu");  // normalized to the declared spelling
  EXPECT_EQ(params.GetPath("model_path"), "/configs/models/a.onnx");  // relative to the config's folder
  EXPECT_EQ(params.GetList("inputs"), (std::vector<std::string>{"a.mp4", "b.mp4"}));
  EXPECT_EQ(params.GetString("name"), "x");
  EXPECT_THROW(params.GetInt("undeclared"), std::out_of_range);
}

TEST(ModuleParams, AbsolutePathsAndUrisAreKept) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("m", Specs(), {{"model_path", "/abs/m.onnx"}}, "/configs", &params));
  EXPECT_EQ(params.GetPath("model_path"), "/abs/m.onnx");
  ASSERT_TRUE(ModuleParams::Validate("m", Specs(), {{"model_path", "rtsp://host/x"}}, "/configs", &params));
  EXPECT_EQ(params.GetPath("model_path"), "rtsp://host/x");
}

TEST(ModuleParams, CommaSeparatedListsSplit) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("m", Specs(), {{"model_path", "m"}, {"inputs", "a, b ,c"}}, "", &params));
  EXPECT_EQ(params.GetList("inputs"), (std::vector<std::string>{"a", "b", "c"}));
}

struct BadCase {
  std::map<std::string, std::string> raw;
  std::string expected;
};

TEST(ModuleParams, EveryProblemIsNamed) {
  const std::vector<BadCase> cases = {
      {{}, "module 'infer': parameter 'model_path' is required (model file)"},
      {{{"model_path", "m"}, {"batch_size", "eight"}}, "parameter 'batch_size' must be a whole number, got 'eight'"},
      {{{"model_path", "m"}, {"batch_size", "0"}}, "parameter 'batch_size' must be between 1 and 64, got '0'"},
      {{{"model_path", "m"}, {"threshold", "1.5"}}, "parameter 'threshold' must be between 0 and 1, got '1.5'"},
      {{{"model_path", "m"}, {"threshold", "high"}}, "parameter 'threshold' must be a number, got 'high'"},
      {{{"model_path", "m"}, {"loop", "maybe"}}, "parameter 'loop' must be true or false, got 'maybe'"},
      {{{"model_path", "m"}, {"policy", "tpu"}}, "parameter 'policy' must be one of: cpu, gpu, got 'tpu'"},
      {{{"model_path", "m"}, {"batch_szie", "2"}}, "unknown parameter 'batch_szie' (did you mean 'batch_size'?)"},
  };
  for (const auto& c : cases) {
    Status s = ModuleParams::Validate("infer", Specs(), c.raw, "", nullptr);
    EXPECT_FALSE(s);
    EXPECT_EQ(s.code(), StatusCode::kInvalidConfig);
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << "got: " << s.message() << "\nwanted: " << c.expected;
  }
}

TEST(ModuleParams, ReportsAllProblemsAtOnce) {
  Status s = ModuleParams::Validate("infer", Specs(), {{"batch_size", "0"}, {"loop", "x"}}, "", nullptr);
  EXPECT_NE(s.message().find("batch_size"), std::string::npos);
  EXPECT_NE(s.message().find("loop"), std::string::npos);
  EXPECT_NE(s.message().find("model_path"), std::string::npos);
}

TEST(ParseBool, Spellings) {
  for (const char* t : {"true", "1", "yes", "on", "TRUE"}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"false", "0", "no", "off"}) EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_EQ(ParseBool("2"), std::nullopt);
}

}  // namespace
}  // namespace vstream
