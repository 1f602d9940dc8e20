// Declared parameters: defaults, types, ranges, choices, paths, lists, and the messages on error.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "vstream/log.hpp"
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
}

// Collects the error lines the library logs while it lives.
class LoggedErrors {
 public:
  LoggedErrors() {
    SetLogCallback([this](LogLevel level, std::string_view line) {
      if (level != LogLevel::kError) return;
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~LoggedErrors() { ResetLogOutput(); }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;  // guarded by mutex_
};

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ModuleParams, UndeclaredKeysReadAsEmptyAndSaySo) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("infer", Specs(), {{"model_path", "m"}}, "", &params));
  LoggedErrors errors;
  EXPECT_EQ(params.GetString("nope"), "");
  EXPECT_EQ(params.GetInt("nope"), 0);
  EXPECT_EQ(params.GetDouble("nope"), 0.0);
  EXPECT_FALSE(params.GetBool("nope"));
  EXPECT_EQ(params.GetPath("nope"), std::filesystem::path());
  EXPECT_TRUE(params.GetList("nope").empty());
  EXPECT_FALSE(params.Has("nope"));

  const std::vector<std::string> lines = errors.lines();
  ASSERT_EQ(lines.size(), 1u) << "the same problem is logged once per ModuleParams";
  EXPECT_TRUE(Contains(lines[0], "module 'infer'")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], "parameter 'nope' is not declared")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], "Describe()")) << lines[0];
}

TEST(ModuleParams, DeclaredButUnsetKeysReadAsEmptyAndPointAtHas) {
  const std::vector<ParamSpec> specs = {ParamSpec::Path("labels_path", "", "labels file"),
                                        ParamSpec::Double("scale", 0, "x").Min(0)};
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("infer", specs, {}, "", &params));
  ASSERT_FALSE(params.Has("labels_path"));
  LoggedErrors errors;
  EXPECT_EQ(params.GetPath("labels_path"), std::filesystem::path());
  EXPECT_DOUBLE_EQ(params.GetDouble("scale"), 0.0);  // a declared default of 0 is a value
  const std::vector<std::string> lines = errors.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], "parameter 'labels_path' has no value")) << lines[0];
  EXPECT_TRUE(Contains(lines[0], "Has(\"labels_path\")")) << lines[0];
}

TEST(ModuleParams, WrongTypedReadsReadAsEmptyAndSaySo) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("infer", Specs(), {{"model_path", "m"}, {"name", "abc"}}, "", &params));
  LoggedErrors errors;
  EXPECT_EQ(params.GetInt("name"), 0);
  EXPECT_EQ(params.GetDouble("name"), 0.0);
  EXPECT_FALSE(params.GetBool("name"));
  EXPECT_EQ(params.GetInt("name"), 0);  // logged once
  EXPECT_EQ(params.GetString("name"), "abc");
  EXPECT_EQ(params.GetInt("batch_size"), 1);
  const std::vector<std::string> lines = errors.lines();
  ASSERT_EQ(lines.size(), 3u);  // one per getter that cannot read it
  for (const auto& line : lines) {
    EXPECT_TRUE(Contains(line, "parameter 'name' is 'abc' (declared as string)")) << line;
    EXPECT_TRUE(Contains(line, "Describe()")) << line;
  }
  EXPECT_TRUE(Contains(lines[0], "ParamSpec::Int")) << lines[0];
}

TEST(ModuleParams, ACopyLogsItsOwnProblems) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("infer", Specs(), {{"model_path", "m"}}, "", &params));
  LoggedErrors errors;
  EXPECT_EQ(params.GetInt("nope"), 0);
  const ModuleParams copy = params;
  EXPECT_EQ(copy.GetInt("nope"), 0);
  EXPECT_EQ(params.GetInt("nope"), 0);
  EXPECT_EQ(errors.lines().size(), 2u);
}

TEST(ModuleParams, DefaultConstructedReadsAsEmpty) {
  const ModuleParams params;
  LoggedErrors errors;
  EXPECT_EQ(params.GetString("anything"), "");
  EXPECT_EQ(params.GetInt("anything"), 0);
  const std::vector<std::string> lines = errors.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(Contains(lines[0], "'anything'")) << lines[0];
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

TEST(ModuleParams, ListValuesKeepTheirItemsWhole) {
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate(
      "m", Specs(), {{"model_path", "m"}, {"inputs", ParamValue::List({"cam=/videos/a,b.mp4", " c.mp4 ", ""})}}, "",
      &params));
  EXPECT_EQ(params.GetList("inputs"), (std::vector<std::string>{"cam=/videos/a,b.mp4", "c.mp4"}));
  EXPECT_EQ(params.values().at("inputs"), "cam=/videos/a,b.mp4, c.mp4");
  // Text (a map of strings, a --set override) is the comma-separated form; line breaks separate too.
  const std::map<std::string, std::string> texts = {{"model_path", "m"}, {"inputs", "a.mp4, b.mp4\nc.mp4"}};
  ASSERT_TRUE(ModuleParams::Validate("m", Specs(), texts, "", &params));
  EXPECT_EQ(params.GetList("inputs"), (std::vector<std::string>{"a.mp4", "b.mp4", "c.mp4"}));
  // A list given to a one-value parameter is an error that says so.
  Status s = ModuleParams::Validate("m", Specs(), {{"model_path", ParamValue::List({"a", "b"})}}, "", nullptr);
  EXPECT_NE(s.message().find("module 'm': parameter 'model_path' takes one value (path), got a list of 2: [a, b]"),
            std::string::npos)
      << s.message();
}

TEST(ModuleParams, WholeNumbersBeyondInt64NameTheRange) {
  const std::vector<ParamSpec> specs = {ParamSpec::Int("any", 0, "no range"), ParamSpec::Int("batch", 1, "b").Range(1, 64)};
  const std::vector<BadCase> cases = {
      {{{"any", "9223372036854775808"}},
       "parameter 'any' must be a whole number between -9223372036854775808 and 9223372036854775807, got "
       "'9223372036854775808'"},
      {{{"any", "-1e19"}}, "parameter 'any' must be a whole number between -9223372036854775808 and"},
      {{{"batch", "99999999999999999999"}}, "parameter 'batch' must be a whole number between 1 and 64"},
      {{{"batch", "4294967297"}}, "parameter 'batch' must be between 1 and 64, got '4294967297'"},
  };
  for (const auto& c : cases) {
    Status s = ModuleParams::Validate("m", specs, c.raw, "", nullptr);
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << "got: " << s.message() << "\nwanted: " << c.expected;
  }
  ModuleParams params;
  ASSERT_TRUE(ModuleParams::Validate("m", specs, {{"any", "9223372036854775807"}}, "", &params));
  EXPECT_EQ(params.GetInt("any"), INT64_MAX);
}

TEST(ModuleParams, ManyUnknownKeysGiveAShortAnswer) {
  std::map<std::string, std::string> raw = {{"model_path", "m"}};
  for (int i = 0; i < 1000; ++i) raw["unknown_" + std::to_string(i)] = "1";
  Status s = ModuleParams::Validate("m", Specs(), raw, "", nullptr);
  EXPECT_NE(s.message().find("module 'm': ... and 980 more problems"), std::string::npos) << s.message();
}

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

TEST(ModuleParams, UndeclaredKeysAreKeptOnlyWhenTheClassAcceptsOtherParams) {
  const ParamValues raw = {{"model_path", "m"},
                           {"label", "face"},
                           {"sizes", ParamValue::List({"1", "2"}, "[1,2]")},
                           {"window", ParamValue::Json(R"({"w":3})")}};
  // By default an undeclared key is a typo to report, whatever its value.
  Status s = ModuleParams::Validate("m", Specs(), raw, "", nullptr);
  EXPECT_NE(s.message().find("module 'm': unknown parameter 'label'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("module 'm': unknown parameter 'sizes'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("module 'm': custom_params.window must be a string, number, boolean or array of those, "
                             "got {\"w\":3}"),
            std::string::npos)
      << s.message();

  // Accepted: kept as given, beside the declared ones, which read as before.
  ModuleParams params;
  s = ModuleParams::Validate("m", Specs(), raw, "/cfg", &params, OtherParams::kAccept);
  ASSERT_TRUE(s) << s.message();
  ASSERT_EQ(params.others().size(), 3u);
  EXPECT_EQ(params.others().at("label"), ParamValue("face"));
  EXPECT_EQ(params.others().at("sizes").items(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(params.others().at("sizes").json(), "[1,2]");
  EXPECT_TRUE(params.others().at("window").is_json());
  EXPECT_EQ(params.others().at("window").json(), R"({"w":3})");
  EXPECT_EQ(params.GetPath("model_path"), std::filesystem::path("/cfg/m"));
  EXPECT_EQ(params.values().count("label"), 0u);  // values(): the declared keys only

  // The declared keys keep every check: types, ranges, required, and no JSON value.
  const std::vector<BadCase> cases = {
      {{{"label", "face"}}, "parameter 'model_path' is required"},
      {{{"model_path", "m"}, {"batch_size", "eight"}}, "parameter 'batch_size' must be a whole number, got 'eight'"},
  };
  for (const auto& c : cases) {
    s = ModuleParams::Validate("m", Specs(), c.raw, "", nullptr, OtherParams::kAccept);
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << "got: " << s.message() << "\nwanted: " << c.expected;
  }
  s = ModuleParams::Validate("m", Specs(), {{"model_path", ParamValue::Json("{}")}}, "", nullptr, OtherParams::kAccept);
  EXPECT_NE(s.message().find("custom_params.model_path must be a string, number, boolean or array of those, got {}"),
            std::string::npos)
      << s.message();
}

TEST(ParseBool, Spellings) {
  for (const char* t : {"true", "1", "yes", "on", "TRUE"}) EXPECT_EQ(ParseBool(t), true) << t;
  for (const char* f : {"false", "0", "no", "off"}) EXPECT_EQ(ParseBool(f), false) << f;
  EXPECT_EQ(ParseBool("2"), std::nullopt);
}

}  // namespace
}  // namespace vstream
