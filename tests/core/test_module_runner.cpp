// ModuleRunner: one module run alone as a pipeline would run it — parameters checked, frames
// forwarded in order, errors and events collected, modules that forward frames themselves and
// sources included.
#include <gtest/gtest.h>

#include "test_modules.hpp"
#include "vstream/modules/module_ipc.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(ModuleRunner, ForwardsWhatProcessAcceptsInOrder) {
  ModuleRunner runner("PassThrough");
  ASSERT_TRUE(runner.Open());
  for (int64_t i = 0; i < 5; ++i) ASSERT_TRUE(runner.Push("cam", i));
  ASSERT_TRUE(runner.PushEos("cam"));
  const auto frames = runner.Output();
  ASSERT_EQ(frames.size(), 6u);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(frames[static_cast<size_t>(i)]->frame_index, i);
  EXPECT_TRUE(frames.back()->IsEos());
  EXPECT_EQ(frames.back()->frame_index, 5);
}

TEST(ModuleRunner, UnknownClassIsAnErrorWithASuggestion) {
  ModuleRunner runner("PassThru");
  Status s = runner.Open();
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("did you mean 'PassThrough'"), std::string::npos) << s.message();
  EXPECT_EQ(runner.Push("cam", 0).code(), StatusCode::kFailedState);
}

class FailsOnOdd : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (!frame->IsEos() && frame->frame_index % 2 == 1) return Fail("odd frame " + std::to_string(frame->frame_index));
    return {};
  }
};

TEST(ModuleRunner, AFailedFrameGoesNoFurtherAndIsAnEvent) {
  ModuleRunner runner(std::make_unique<FailsOnOdd>("odd"));
  ASSERT_TRUE(runner.Open());
  EXPECT_TRUE(runner.Push("cam", 0));
  Status failed = runner.Push("cam", 1);
  EXPECT_EQ(failed.message(), "odd frame 1");
  EXPECT_TRUE(runner.PushEos("cam"));
  const auto frames = runner.Output("cam");
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]->frame_index, 0);
  EXPECT_TRUE(frames[1]->IsEos());
  const auto events = runner.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kFrameError);
  EXPECT_EQ(events[0].frame_index, 1);
}

// Marks the frames it processes; fails on the end of a stream.
class MarksAndFailsAtEos : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return Fail("cannot flush");
    frame->data.Set("processed", true);
    return {};
  }
};

TEST(ModuleRunner, SkippedFramesPassUntouchedAndAFailedEosStillGoesOnAsInAPipeline) {
  ModuleRunnerOptions options;
  options.skip_if = "every_nth:2";  // frames 1 and 3 match
  ModuleRunner runner(std::make_unique<MarksAndFailsAtEos>("marks"), {}, {}, options);
  ASSERT_TRUE(runner.Open());
  for (int64_t i = 0; i < 4; ++i) ASSERT_TRUE(runner.Push("cam", i));
  EXPECT_EQ(runner.PushEos("cam").message(), "cannot flush");
  const auto frames = runner.Output("cam");
  ASSERT_EQ(frames.size(), 5u);
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(frames[static_cast<size_t>(i)]->data.Has("processed"), i % 2 == 0) << i;
  EXPECT_TRUE(frames.back()->IsEos());
  const auto events = runner.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kModuleError);  // what the pipeline posts for a failed EOS
  EXPECT_NE(events[0].message.find("end of stream: cannot flush"), std::string::npos) << events[0].message;
}

TEST(ModuleRunner, CollectsFramesAModuleTransmitsLaterAndSkippedOnesInOrder) {
  ModuleRunnerOptions options;
  options.skip_if = "every_nth:3";  // frames 2, 5, 8 match
  ModuleRunner runner("AsyncRelay", {}, options);  // forwards frames from a thread of its own
  ASSERT_TRUE(runner.Open());
  for (int64_t i = 0; i < 9; ++i) ASSERT_TRUE(runner.Push("cam", i));
  ASSERT_TRUE(runner.PushEos("cam"));
  ASSERT_TRUE(runner.WaitForEos("cam"));
  const auto frames = runner.Output("cam");
  ASSERT_EQ(frames.size(), 10u);
  for (int64_t i = 0; i < 9; ++i) {
    ASSERT_EQ(frames[static_cast<size_t>(i)]->frame_index, i);
    EXPECT_EQ(frames[static_cast<size_t>(i)]->data.Has("relay.processed"), i % 3 != 2) << i;
  }
}

TEST(ModuleRunner, RunsASourceUntilItsStreamsEnd) {
  ModuleRunner runner("SyntheticSource", {{"streams", "2"}, {"frames", "4"}, {"width", "16"}, {"height", "8"}});
  ASSERT_TRUE(runner.Open());
  ASSERT_TRUE(runner.WaitForEos("stream_0"));
  ASSERT_TRUE(runner.WaitForEos("stream_1"));
  for (const char* stream : {"stream_0", "stream_1"}) {
    const auto frames = runner.Output(stream);
    ASSERT_EQ(frames.size(), 5u) << stream;
    EXPECT_EQ(frames[0]->image.width(), 16);
    EXPECT_TRUE(frames.back()->IsEos());
  }
  EXPECT_EQ(runner.Push("x", 0).code(), StatusCode::kFailedState);  // a source has no inputs
  EXPECT_EQ(runner.Events().size(), 1u);
  EXPECT_EQ(runner.Events()[0].type, EventType::kFrameError);
}

TEST(ModuleRunner, AChoiceOfClassesMakesTheChosenOne) {
  ModuleRunner sender("ModuleIPC", {{"ipc_type", "client"}, {"socket_address", "runner_test"}});
  EXPECT_NE(sender.module_as<IpcSender>(), nullptr);
  ModuleRunner receiver("cnstream::ModuleIPC", {{"ipc_type", "server"}, {"socket_address", "runner_test"}});
  EXPECT_NE(receiver.module_as<IpcReceiver>(), nullptr);
}

}  // namespace
}  // namespace vstream
