// End of stream: flows through every module after the stream's frames, is reported exactly once
// per stream when it has passed every module, and frees the stream id.
#include <gtest/gtest.h>

#include <thread>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(Eos, ReportedOncePerStreamAfterEveryModule) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(12, 50, R"("a", "b")", R"(
      "a": {"class_name": "Recorder", "parallelism": 3, "next_modules": ["c"]},
      "b": {"class_name": "Recorder", "parallelism": 2, "next_modules": ["c"]},
      "c": {"class_name": "Recorder", "parallelism": 2, "next_modules": ["d", "e"]},
      "d": {"class_name": "Recorder"},
      "e": {"class_name": "Recorder", "parallelism": 4})",
                                                           /*threads=*/3)));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  const auto eos = events.Of(EventType::kStreamEos);
  std::map<std::string, int> per_stream;
  for (const auto& e : eos) ++per_stream[e.stream_id];
  EXPECT_EQ(per_stream.size(), 12u);
  for (const auto& [id, count] : per_stream) EXPECT_EQ(count, 1) << id;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    auto* recorder = pipeline.GetModule<test::Recorder>(name);
    for (const auto& [id, count] : recorder->eos()) EXPECT_EQ(count, 1) << name << " " << id;
    EXPECT_EQ(recorder->eos().size(), 12u) << name;
    EXPECT_FALSE(recorder->frame_after_eos()) << name;  // the EOS came after every frame
    EXPECT_EQ(recorder->total(), 12u * 50u) << name;
  }
  for (const auto& s : pipeline.GetStats().streams) EXPECT_TRUE(s.finished) << s.stream_id;
}

TEST(Eos, RemoveSourceEndsOneStreamAndOthersGoOn) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "ScriptedSource", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "parallelism": 2}})"));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("endless", "", {{"frames", "0"}}));
  ASSERT_TRUE(pipeline.AddSource("short", "", {{"frames", "30"}}));
  ASSERT_TRUE(events.WaitFor(EventType::kStreamEos, 1));
  EXPECT_EQ(events.Of(EventType::kStreamEos)[0].stream_id, "short");
  ASSERT_TRUE(pipeline.RemoveSource("endless"));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  // Events arrive on the observer's own thread: wait for the second one rather than count now.
  EXPECT_TRUE(events.WaitFor(EventType::kStreamEos, 2));
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->frames()["short"].size(), 30u);
  EXPECT_FALSE(pipeline.GetModule<test::Recorder>("sink")->out_of_order());
  EXPECT_EQ(pipeline.RemoveSource("endless").code(), StatusCode::kNotFound);
  EXPECT_TRUE(pipeline.Stop());
}

// A source that announces streams will come (as an IPC server waiting for its clients).
class Awaiting : public SourceModule {
 public:
  using SourceModule::SourceModule;
  Status Open(const ModuleParams&) override {
    SetExpectingStreams(true);
    return {};
  }
  void Close() override {}
  void NoMoreStreams() { SetExpectingStreams(false); }
  void Produce(const std::string& id) {
    Transmit(Frame::Create(id, 0));
    EndStream(id, 1);
  }

 protected:
  Status OnAddSource(const std::string&, const std::string&, const StreamOptions&) override { return Status::Ok(); }
  void OnRemoveSource(const std::string&) override {}
};
VSTREAM_REGISTER_MODULE(Awaiting);

TEST(Eos, WaitForStreamsWaitsForASourceThatExpectsMore) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({"src": {"class_name": "Awaiting", "next_modules": ["sink"]},
                                           "sink": {"class_name": "Recorder"}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<Awaiting>("src");
  // No stream yet, but more are expected: not done.
  EXPECT_FALSE(pipeline.WaitForStreams(std::chrono::milliseconds(0)));
  ASSERT_TRUE(pipeline.AddSource("late", ""));
  source->Produce("late");
  EXPECT_FALSE(pipeline.WaitForStreams(std::chrono::milliseconds(0))) << "the source still expects streams";
  std::thread announcer([&] { source->NoMoreStreams(); });
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));  // woken by the announcement
  announcer.join();
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 1u);
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Eos, StreamIdsAreCheckedAndReusableAfterEos) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "ScriptedSource", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"}})"));
  pipeline.SetObserver(events.Callback());
  EXPECT_EQ(pipeline.AddSource("cam", "").code(), StatusCode::kFailedState);  // not running yet
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam", "", {{"frames", "0"}}));
  Status duplicate = pipeline.AddSource("cam", "");
  EXPECT_EQ(duplicate.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.message().find("'cam' is already in use"), std::string::npos) << duplicate.message();
  ASSERT_TRUE(pipeline.RemoveSource("cam"));
  ASSERT_TRUE(events.WaitFor(EventType::kStreamEos, 1));
  ASSERT_TRUE(pipeline.AddSource("cam", "", {{"frames", "5"}}));  // the id is free again
  ASSERT_TRUE(events.WaitFor(EventType::kStreamEos, 2));
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->eos()["cam"], 2);
  EXPECT_TRUE(pipeline.Stop());
}

}  // namespace
}  // namespace vstream
