// skip_if: matching frames bypass Process and go on unchanged; EOS is never skipped.
#include <gtest/gtest.h>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Adds one object to frames with an even index (a stand-in for a detector).
class EvenDetector : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (!frame->IsEos() && frame->frame_index % 2 == 0) frame->objects.emplace_back();
    return {};
  }
};
VSTREAM_REGISTER_MODULE(EvenDetector);

std::vector<int64_t> Processed(const std::string& skip_if, PipelineStats* stats = nullptr) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(test::SyntheticConfig(1, 20, R"("detect")", R"(
      "detect": {"class_name": "EvenDetector", "next_modules": ["maybe"]},
      "maybe":  {"class_name": "Recorder", "skip_if": ")" + skip_if + R"(", "next_modules": ["sink"]},
      "sink":   {"class_name": "Recorder"})"));
  EXPECT_TRUE(s) << s.message();
  EXPECT_TRUE(pipeline.Start());
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  // Skipped or not, every frame reaches the module after, and so does the EOS.
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 20u);
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("maybe")->eos().at("stream_0"), 1);
  if (stats != nullptr) *stats = pipeline.GetStats();
  return pipeline.GetModule<test::Recorder>("maybe")->frames()["stream_0"];
}

TEST(SkipIf, NoObjects) {
  PipelineStats stats;
  const auto seen = Processed("no_objects", &stats);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18}));
  EXPECT_EQ(stats.modules[2].frames_skipped, 10u);
  EXPECT_EQ(stats.modules[2].frames_in, 11u);  // 10 frames and the EOS
}

TEST(SkipIf, EveryNthSkipsEveryNthFrame) {
  EXPECT_EQ(Processed("every_nth:3"), (std::vector<int64_t>{0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 15, 16, 18, 19}));
}

TEST(SkipIf, ExceptEveryNthKeepsOnlyEveryNthFrame) {
  EXPECT_EQ(Processed("except_every_nth:4"), (std::vector<int64_t>{0, 4, 8, 12, 16}));
}

TEST(SkipIf, RegisteredConditionAndEosIsNeverSkipped) {
  ASSERT_TRUE(RegisterSkipCondition("always_for_test", [](const Frame&) { return true; }));
  EXPECT_FALSE(RegisterSkipCondition("always_for_test", [](const Frame&) { return false; }));  // taken
  EXPECT_FALSE(RegisterSkipCondition("no_objects", [](const Frame&) { return false; }));       // built in
  EXPECT_TRUE(Processed("always_for_test").empty());  // Processed() checks the EOS still arrived
}

TEST(SkipIf, UnknownConditionIsAConfigError) {
  SkipPredicate predicate;
  Status s = ParseSkipCondition("sometimes", &predicate);
  EXPECT_EQ(s.code(), StatusCode::kInvalidConfig);
  EXPECT_NE(s.message().find("expected \"no_objects\", \"every_nth:N\""), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
