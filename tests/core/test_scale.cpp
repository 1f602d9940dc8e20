// Scale: no fixed limit on modules or streams (a 200-module chain, 1000 streams).
#include <gtest/gtest.h>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(Scale, TwoHundredModuleChain) {
  std::string body;
  for (int i = 0; i < 200; ++i) {
    const std::string next = i + 1 < 200 ? R"(, "next_modules": ["m)" + std::to_string(i + 1) + R"("])" : "";
    body += (i ? ",\n" : "") + std::string(R"("m)") + std::to_string(i) +
            R"(": {"class_name": ")" + (i + 1 < 200 ? "PassThrough" : "Recorder") +
            R"(", "max_input_queue_size": 2)" + next + "}";
  }
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(test::SyntheticConfig(4, 50, R"("m0")", body));
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  auto* last = pipeline.GetModule<test::Recorder>("m199");
  EXPECT_EQ(last->total(), 200u);
  EXPECT_FALSE(last->out_of_order());
  EXPECT_EQ(last->eos().size(), 4u);
}

TEST(Scale, ThousandStreams) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(1000, 5, R"("a")", R"(
      "a": {"class_name": "PassThrough", "parallelism": 4, "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "parallelism": 4})",
                                                           /*threads=*/4)));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  auto* sink = pipeline.GetModule<test::Recorder>("sink");
  const auto frames = sink->frames();
  ASSERT_EQ(frames.size(), 1000u);
  for (const auto& [id, list] : frames) ASSERT_EQ(list, (std::vector<int64_t>{0, 1, 2, 3, 4})) << id;
  EXPECT_EQ(events.Count(EventType::kStreamEos), 1000u);
  EXPECT_EQ(pipeline.GetStats().streams.size(), 1000u);
}

TEST(Scale, StatsKeepABoundedNumberOfFinishedStreams) {
  // 5000 one-frame streams: the stats keep the 4096 most recently finished, not every stream ever.
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(5000, 1, R"("sink")", R"("sink": {"class_name": "PassThrough"})")));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  const auto streams = pipeline.GetStats().streams;
  EXPECT_EQ(streams.size(), 4096u);
  for (const auto& s : streams) EXPECT_TRUE(s.finished) << s.stream_id;
}

}  // namespace
}  // namespace vstream
