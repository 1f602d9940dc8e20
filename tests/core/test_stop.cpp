// Stop: graceful (frames finish, streams end with EOS) and abort (queued frames are dropped),
// both while frames are still queued; neither hangs nor leaves a thread behind.
#include <gtest/gtest.h>

#include <future>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

const char* kGatedPipeline = R"({
    "src":  {"class_name": "ScriptedSource", "next_modules": ["gate"]},
    "gate": {"class_name": "Gate", "parallelism": 2, "max_input_queue_size": 4, "next_modules": ["sink"]},
    "sink": {"class_name": "Recorder", "max_input_queue_size": 4}})";

// Starts the gated pipeline with endless streams and waits until every queue before the gate is
// full (the source has transmitted more frames than the gate let through plus what it holds).
void StartAndFill(Pipeline& pipeline, test::EventLog& events) {
  ASSERT_TRUE(pipeline.BuildFromString(kGatedPipeline));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(pipeline.AddSource("s" + std::to_string(i), "", {{"frames", "0"}}));
  auto* gate = pipeline.GetModule<test::Gate>("gate");
  ASSERT_TRUE(gate->WaitEntered(1));
  // At most 2 frames are inside the gate's Process (2 workers); the streams may all hash to one
  // worker, whose queue holds 4. Once 5 are out, at least 3 wait in a queue.
  ASSERT_TRUE(pipeline.GetModule<test::ScriptedSource>("src")->WaitTransmitted(5));
}

TEST(Stop, GracefulFinishesQueuedFramesAndEndsStreams) {
  const int threads_before = test::ThreadCount();
  test::EventLog events;
  {
    Pipeline pipeline;
    StartAndFill(pipeline, events);
    auto* gate = pipeline.GetModule<test::Gate>("gate");
    auto stopped = std::async(std::launch::async, [&] { return pipeline.Stop(StopMode::kGraceful); });
    gate->OpenAll();
    ASSERT_TRUE(stopped.get());
    EXPECT_FALSE(pipeline.running());
    // Every frame the source got out reached the sink, and every stream ended with EOS.
    const int transmitted = pipeline.GetModule<test::ScriptedSource>("src")->transmitted();
    EXPECT_EQ(static_cast<int>(pipeline.GetModule<test::Recorder>("sink")->total()), transmitted);
    EXPECT_EQ(events.Count(EventType::kStreamEos), 4u);
    EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->eos().size(), 4u);
  }
  EXPECT_EQ(test::ThreadCount(), threads_before);
}

TEST(Stop, AbortDropsQueuedFramesAndReturns) {
  const int threads_before = test::ThreadCount();
  test::EventLog events;
  {
    Pipeline pipeline;
    StartAndFill(pipeline, events);
    auto* gate = pipeline.GetModule<test::Gate>("gate");
    const PipelineStats before = pipeline.GetStats();
    EXPECT_GT(before.modules[1].queue_depth, 0u);  // frames are queued at the gate
    auto stopped = std::async(std::launch::async, [&] { return pipeline.Stop(StopMode::kAbort); });
    gate->OpenAll();  // the frames inside Process may finish; the queued ones must not run
    ASSERT_TRUE(stopped.get());
    const int transmitted = pipeline.GetModule<test::ScriptedSource>("src")->transmitted();
    EXPECT_LT(static_cast<int>(pipeline.GetModule<test::Recorder>("sink")->total()), transmitted);
    EXPECT_EQ(events.Count(EventType::kStreamEos), 0u);
    EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(1)));  // nothing left to wait for
  }
  EXPECT_EQ(test::ThreadCount(), threads_before);
}

TEST(Stop, AbortCutsShortAGracefulStopThatCannotDrain) {
  const int threads_before = test::ThreadCount();
  test::EventLog events;
  {
    Pipeline pipeline;
    StartAndFill(pipeline, events);
    auto* gate = pipeline.GetModule<test::Gate>("gate");
    // The gate stays shut: a graceful stop cannot drain until the abort comes.
    auto graceful = std::async(std::launch::async, [&] { return pipeline.Stop(StopMode::kGraceful); });
    // The graceful stop has asked every stream to end: it is now waiting for the drain.
    ASSERT_TRUE(pipeline.GetModule<test::ScriptedSource>("src")->WaitRemoved(4));
    auto abort = std::async(std::launch::async, [&] { return pipeline.Stop(StopMode::kAbort); });
    // The graceful stop reports that it was cut short; only then open the gate so the frames
    // inside Process can return and the workers be joined.
    ASSERT_TRUE(events.WaitFor(EventType::kModuleError, 1));
    gate->OpenAll();
    (void)graceful.get();  // cut short by the abort: it may say so
    EXPECT_TRUE(abort.get());
    EXPECT_FALSE(pipeline.running());
    EXPECT_EQ(events.Count(EventType::kStreamEos), 0u);  // no stream got past the shut gate
  }
  EXPECT_EQ(test::ThreadCount(), threads_before);
}

TEST(Stop, GracefulTimeoutFallsBackToAbort) {
  test::EventLog events;
  Pipeline pipeline;
  StartAndFill(pipeline, events);
  auto* gate = pipeline.GetModule<test::Gate>("gate");
  auto stopped = std::async(std::launch::async, [&] {
    return pipeline.Stop(StopMode::kGraceful, std::chrono::milliseconds(50));
  });
  // The gate is shut, so the drain cannot finish: Stop gives up, reports it, and aborts.
  ASSERT_TRUE(events.WaitFor(EventType::kModuleError, 1));
  EXPECT_NE(events.Of(EventType::kModuleError)[0].message.find("graceful stop timed out after 50 ms"),
            std::string::npos);
  gate->OpenAll();
  Status s = stopped.get();
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("graceful stop timed out"), std::string::npos) << s.message();
}

TEST(Stop, RestartAfterStopAndDestroyWhileRunning) {
  const int threads_before = test::ThreadCount();
  {
    Pipeline pipeline;
    ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(2, 20, R"("sink")", R"("sink": {"class_name": "Recorder"})")));
    ASSERT_TRUE(pipeline.Start());
    ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
    ASSERT_TRUE(pipeline.Stop());
    EXPECT_TRUE(pipeline.Stop());  // a second Stop is harmless
    ASSERT_TRUE(pipeline.Start());  // and the pipeline runs again
    ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
    EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 80u);
    ASSERT_TRUE(pipeline.AddSource("endless", "", {{"frames", "0"}}));
    // Destroyed while running: the destructor aborts and joins.
  }
  EXPECT_EQ(test::ThreadCount(), threads_before);
}

}  // namespace
}  // namespace vstream
