// Fan-out and fan-in: every child gets every frame; a module with several parents gets each frame
// exactly once, and only after all of its parents processed it.
#include <gtest/gtest.h>

#include <set>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Marks each frame with its own name (under the frame's lock, as parallel branches must).
class Mark : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    auto lock = frame->LockObjects();
    DetectedObject mark;
    mark.label = name();
    frame->objects.push_back(mark);
    return {};
  }
};
VSTREAM_REGISTER_MODULE(Mark);

// Checks that every frame carries the marks of all expected parents, and counts visits.
class JoinCheck : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"checks marks", {ParamSpec::List("expect", "", "marks every frame must carry")}};
  }
  Status Open(const ModuleParams& params) override {
    expected_ = params.GetList("expect");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr frame) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (frame->IsEos()) {
      ++eos[frame->stream_id];
      return {};
    }
    ++visits[{frame->stream_id, frame->frame_index}];
    std::set<std::string> marks;
    {
      auto objects_lock = frame->LockObjects();
      for (const auto& o : frame->objects) marks.insert(o.label);
    }
    for (const auto& e : expected_) {
      if (marks.count(e) == 0) ++missing_marks;
    }
    return {};
  }
  std::mutex mutex_;
  std::map<std::pair<std::string, int64_t>, int> visits;
  std::map<std::string, int> eos;
  int missing_marks = 0;

 private:
  std::vector<std::string> expected_;
};
VSTREAM_REGISTER_MODULE(JoinCheck);

TEST(FanIn, DiamondDeliversEachFrameOnceAfterBothParents) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(6, 200, R"("split")", R"(
      "split": {"class_name": "PassThrough", "parallelism": 2, "next_modules": ["left", "right"]},
      "left":  {"class_name": "Mark", "parallelism": 3, "max_input_queue_size": 3, "next_modules": ["join"]},
      "right": {"class_name": "Mark", "parallelism": 2, "max_input_queue_size": 5, "next_modules": ["join"]},
      "join":  {"class_name": "JoinCheck", "parallelism": 2, "next_modules": ["sink"],
                "custom_params": {"expect": ["left", "right"]}},
      "sink":  {"class_name": "Recorder", "parallelism": 2})",
                                                           /*threads=*/2)));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  auto* join = pipeline.GetModule<JoinCheck>("join");
  std::lock_guard<std::mutex> lock(join->mutex_);
  EXPECT_EQ(join->visits.size(), 6u * 200u);
  for (const auto& [key, count] : join->visits) ASSERT_EQ(count, 1) << key.first << " #" << key.second;
  EXPECT_EQ(join->missing_marks, 0);
  for (const auto& [id, count] : join->eos) EXPECT_EQ(count, 1) << id;
  // Order survives the join: frames complete in order even when different parents finish them.
  auto* sink = pipeline.GetModule<test::Recorder>("sink");
  EXPECT_FALSE(sink->out_of_order());
  EXPECT_EQ(sink->total(), 6u * 200u);
  EXPECT_TRUE(pipeline.Stop());
}

TEST(FanIn, ThreeParentsAndTwoLeaves) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(4, 100, R"("a", "b", "c")", R"(
      "a": {"class_name": "Mark", "next_modules": ["join", "side"]},
      "b": {"class_name": "Mark", "parallelism": 2, "next_modules": ["join"]},
      "c": {"class_name": "Mark", "parallelism": 3, "next_modules": ["join"]},
      "join": {"class_name": "JoinCheck", "custom_params": {"expect": "a,b,c"}},
      "side": {"class_name": "Recorder"})")));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  auto* join = pipeline.GetModule<JoinCheck>("join");
  EXPECT_EQ(join->visits.size(), 400u);
  for (const auto& [key, count] : join->visits) ASSERT_EQ(count, 1);
  EXPECT_EQ(join->missing_marks, 0);
  // Fan-out: the other leaf saw every frame as well.
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("side")->total(), 400u);
  // Two leaves, one EOS event per stream.
  EXPECT_EQ(events.Count(EventType::kStreamEos), 4u);
}

TEST(FanIn, TwoSourcesMergingIntoOneModule) {
  // "merge" has two parents, but each frame comes through only one of them: its own source.
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "a": {"class_name": "SyntheticSource", "next_modules": ["merge"],
            "custom_params": {"streams": 2, "frames": 30, "width": 0, "height": 0}},
      "b": {"class_name": "ScriptedSource", "next_modules": ["mark"]},
      "mark": {"class_name": "Mark", "next_modules": ["merge"]},
      "merge": {"class_name": "Recorder", "parallelism": 2}})"));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("b_cam", "", {{"frames", "25"}}, "b"));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60))) << "a merged stream never finished";
  EXPECT_TRUE(pipeline.Stop());
  auto* merge = pipeline.GetModule<test::Recorder>("merge");
  EXPECT_EQ(merge->total(), 2u * 30u + 25u);
  EXPECT_FALSE(merge->out_of_order());
  EXPECT_EQ(events.Count(EventType::kStreamEos), 3u);
}

}  // namespace
}  // namespace vstream
