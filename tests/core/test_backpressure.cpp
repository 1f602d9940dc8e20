// Backpressure and queue policies: a slow sink bounds the frames alive; drop policies drop and
// count instead of blocking, and never drop an end of stream.
#include <gtest/gtest.h>

#include <set>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Spends real CPU time per frame (a stand-in for a heavy model), without sleeping.
class SlowWork : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr) override {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    volatile uint64_t spin = 0;
    while (std::chrono::steady_clock::now() < until) spin = spin + 1;
    return {};
  }
};
VSTREAM_REGISTER_MODULE(SlowWork);

TEST(Backpressure, LiveFramesNeverExceedWhatTheQueuesHold) {
  test::LiveFrames::Reset();
  constexpr int kStreams = 4;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "ScriptedSource", "next_modules": ["mid"]},
      "mid":  {"class_name": "PassThrough", "parallelism": 2, "max_input_queue_size": 3, "next_modules": ["slow"]},
      "slow": {"class_name": "SlowWork", "parallelism": 1, "max_input_queue_size": 5}})"));
  ASSERT_TRUE(pipeline.Start());
  for (int i = 0; i < kStreams; ++i) ASSERT_TRUE(pipeline.AddSource("s" + std::to_string(i), "", {{"frames", "400"}}));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  // Each worker holds its queue plus the frame in hand; each source thread holds one frame it is
  // pushing (plus the token's temporary while the frame is built).
  const int bound = 2 * (3 + 1) + 1 * (5 + 1) + kStreams * 2;
  EXPECT_LE(test::LiveFrames::peak.load(), bound);
  // The sink was slow enough for the queues to fill: backpressure was really exercised.
  EXPECT_GT(test::LiveFrames::peak.load(), 5 + 1);
  EXPECT_EQ(test::LiveFrames::live.load(), 0);  // nothing leaked
}

struct DropOutcome {
  std::vector<int64_t> passed;
  uint64_t dropped_stat = 0;
  uint64_t stream_dropped_stat = 0;
  uint64_t dropped_events = 0;
  size_t eos_events = 0;
};

DropOutcome RunWithDrops(const std::string& policy, int frames) {
  DropOutcome out;
  test::EventLog events;
  Pipeline pipeline;
  EXPECT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "ScriptedSource", "next_modules": ["gate"]},
      "gate": {"class_name": "Gate", "max_input_queue_size": 2, "queue_policy": ")" +
                                       policy + R"(", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"}})"));
  pipeline.SetObserver(events.Callback());
  EXPECT_TRUE(pipeline.Start());
  EXPECT_TRUE(pipeline.AddSource("cam", "", {{"frames", std::to_string(frames)}}));
  auto* source = pipeline.GetModule<test::ScriptedSource>("src");
  // With the gate shut, a dropping queue never blocks the source: it gets every frame out.
  EXPECT_TRUE(source->WaitTransmitted(frames));
  pipeline.GetModule<test::Gate>("gate")->OpenAll();
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  out.passed = pipeline.GetModule<test::Recorder>("sink")->frames()["cam"];
  const PipelineStats stats = pipeline.GetStats();
  out.dropped_stat = stats.modules[1].frames_dropped;
  out.stream_dropped_stat = stats.streams.at(0).frames_dropped;
  for (const auto& e : events.Of(EventType::kFramesDropped)) out.dropped_events += e.count;
  out.eos_events = events.Count(EventType::kStreamEos);
  return out;
}

TEST(QueuePolicy, DropNewestKeepsTheFirstFramesAndCountsTheRest) {
  const DropOutcome r = RunWithDrops("drop_newest", 60);
  EXPECT_GT(r.dropped_stat, 0u);
  EXPECT_EQ(r.passed.size() + r.dropped_stat, 60u);  // nothing lost without being counted
  EXPECT_EQ(r.stream_dropped_stat, r.dropped_stat);
  EXPECT_EQ(r.dropped_events, r.dropped_stat);
  ASSERT_FALSE(r.passed.empty());
  EXPECT_EQ(r.passed.front(), 0);
  EXPECT_NE(r.passed.back(), 59);  // the newest were dropped
  EXPECT_EQ(r.eos_events, 1u);     // the EOS was not dropped
}

TEST(QueuePolicy, DropOldestKeepsTheNewestFrames) {
  const DropOutcome r = RunWithDrops("drop_oldest", 60);
  EXPECT_GT(r.dropped_stat, 0u);
  EXPECT_EQ(r.passed.size() + r.dropped_stat, 60u);
  EXPECT_EQ(r.dropped_events, r.dropped_stat);
  ASSERT_FALSE(r.passed.empty());
  EXPECT_EQ(r.passed.back(), 59);  // the newest frame made it
  EXPECT_TRUE(std::is_sorted(r.passed.begin(), r.passed.end()));
  EXPECT_EQ(r.eos_events, 1u);
}

TEST(QueuePolicy, BlockLosesNothing) {
  const DropOutcome r = [] {
    DropOutcome out;
    Pipeline pipeline;
    EXPECT_TRUE(pipeline.BuildFromString(R"({
        "src":  {"class_name": "ScriptedSource", "next_modules": ["sink"]},
        "sink": {"class_name": "Recorder", "max_input_queue_size": 1}})"));
    EXPECT_TRUE(pipeline.Start());
    EXPECT_TRUE(pipeline.AddSource("cam", "", {{"frames", "500"}}));
    EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
    EXPECT_TRUE(pipeline.Stop());
    out.passed = pipeline.GetModule<test::Recorder>("sink")->frames()["cam"];
    out.dropped_stat = pipeline.GetStats().modules[1].frames_dropped;
    return out;
  }();
  EXPECT_EQ(r.passed.size(), 500u);
  EXPECT_EQ(r.dropped_stat, 0u);
}

}  // namespace
}  // namespace vstream
