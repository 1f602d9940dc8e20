// Events and stats: errors are reported with what and where, a throwing observer does not stop
// later events, and the stats snapshot counts what happened.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "latency_histogram.hpp"
#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Fails frames 3, 13, 23, ... through Fail() and throws on frames 7, 17, 27, ...
class Flaky : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    if (frame->frame_index % 10 == 3) {
      return Fail("cannot read frame " + std::to_string(frame->frame_index));
    }
    if (frame->frame_index % 10 == 7) throw std::runtime_error("boom");
    return {};
  }
};
VSTREAM_REGISTER_MODULE(Flaky);

// Fails every frame (a module that floods the observer with frame errors).
class FailsAll : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override { return frame->IsEos() ? Status::Ok() : Fail("no"); }
};
VSTREAM_REGISTER_MODULE(FailsAll);

// A source whose streams report an error before ending.
class BrokenSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}

 protected:
  Status OnAddSource(const std::string& id, const std::string& uri, const StreamOptions&) override {
    Transmit(Frame::Create(id, 0));
    EndStream(id, 1, "cannot open '" + uri + "': no such file");
    return Status::Ok();
  }
  void OnRemoveSource(const std::string&) override {}
};
VSTREAM_REGISTER_MODULE(BrokenSource);

TEST(Events, FrameErrorsNameModuleStreamFrameAndCause) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(2, 30, R"("flaky")", R"(
      "flaky": {"class_name": "Flaky", "parallelism": 2, "next_modules": ["sink"]},
      "sink":  {"class_name": "Recorder"})")));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const auto errors = events.Of(EventType::kFrameError);
  ASSERT_EQ(errors.size(), 12u);  // 2 streams x (3, 13, 23 failed + 7, 17, 27 threw)
  int failed = 0;
  int threw = 0;
  for (const auto& e : errors) {
    EXPECT_EQ(e.module, "flaky");
    EXPECT_TRUE(e.stream_id == "stream_0" || e.stream_id == "stream_1");
    if (e.frame_index % 10 == 3) {
      EXPECT_EQ(e.message, "cannot read frame " + std::to_string(e.frame_index));
      ++failed;
    } else {
      EXPECT_EQ(e.frame_index % 10, 7);
      EXPECT_EQ(e.message, "Process threw: boom");
      ++threw;
    }
  }
  EXPECT_EQ(failed, 6);
  EXPECT_EQ(threw, 6);
  // Failed frames go no further; the rest and the EOS do.
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 2u * 24u);
  EXPECT_EQ(events.Count(EventType::kStreamEos), 2u);
  const PipelineStats stats = pipeline.GetStats();
  EXPECT_EQ(stats.modules[1].errors, 12u);
}

TEST(Events, StreamErrorComesBeforeItsEos) {
  test::EventLog events;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "BrokenSource", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"}})"));
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam7", "/missing.mp4"));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  ASSERT_TRUE(events.WaitFor(EventType::kStreamEos, 1));
  const auto errors = events.Of(EventType::kStreamError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].stream_id, "cam7");
  EXPECT_EQ(errors[0].module, "src");
  EXPECT_EQ(errors[0].message, "cannot open '/missing.mp4': no such file");
  EXPECT_LE(errors[0].time, events.Of(EventType::kStreamEos)[0].time);
  const PipelineStats stats = pipeline.GetStats();
  ASSERT_EQ(stats.streams.size(), 1u);
  EXPECT_EQ(stats.streams[0].error, "cannot open '/missing.mp4': no such file");
  EXPECT_TRUE(stats.streams[0].finished);
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Events, AThrowingObserverKeepsGettingLaterEvents) {
  std::mutex mutex;
  std::condition_variable changed;
  int delivered = 0;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(5, 3, R"("sink")", R"("sink": {"class_name": "Recorder"})")));
  pipeline.SetObserver([&](const Event&) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++delivered;
    }
    changed.notify_all();
    throw std::runtime_error("observer bug");
  });
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  std::unique_lock<std::mutex> lock(mutex);
  EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(30), [&] { return delivered == 5; }));
  lock.unlock();
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Events, TheObserverCannotStopThePipelineItRunsIn) {
  // Stop joins the observer's thread: called from the observer it must refuse, not hang.
  std::mutex mutex;
  std::condition_variable answered;
  std::optional<Status> from_observer;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(1, 3, R"("sink")", R"("sink": {"class_name": "Recorder"})")));
  pipeline.SetObserver([&](const Event&) {
    Status s = pipeline.Stop(StopMode::kAbort);
    std::lock_guard<std::mutex> lock(mutex);
    if (!from_observer) from_observer = s;
    answered.notify_all();
  });
  ASSERT_TRUE(pipeline.Start());
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(answered.wait_for(lock, std::chrono::seconds(30), [&] { return from_observer.has_value(); }));
  EXPECT_EQ(from_observer->code(), StatusCode::kFailedState);
  EXPECT_NE(from_observer->message().find("cannot be called from the observer"), std::string::npos);
  lock.unlock();
  EXPECT_TRUE(pipeline.Stop());  // from this thread it works
}

TEST(Stats, CountsQueuesLatencyAndJson) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(3, 40, R"("pass")", R"(
      "pass": {"class_name": "PassThrough", "parallelism": 2, "max_input_queue_size": 7, "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"})")));
  EXPECT_TRUE(pipeline.GetStats().modules.empty());  // not started
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const PipelineStats stats = pipeline.GetStats();
  ASSERT_EQ(stats.modules.size(), 3u);
  const ModuleStats& source = stats.modules[0];
  EXPECT_EQ(source.name, "source");
  EXPECT_EQ(source.parallelism, 0);
  EXPECT_EQ(source.frames_out, 3u * 41u);  // 40 frames + EOS per stream
  const ModuleStats& pass = stats.modules[1];
  EXPECT_EQ(pass.class_name, "PassThrough");
  EXPECT_EQ(pass.frames_in, 3u * 41u);
  EXPECT_EQ(pass.frames_out, 3u * 41u);
  EXPECT_EQ(pass.queue_capacity, 14u);
  EXPECT_EQ(pass.queue_depth, 0u);
  EXPECT_GT(pass.latency_p99_ms, 0.0);
  EXPECT_GE(pass.latency_p99_ms, pass.latency_p50_ms);
  EXPECT_GT(pass.fps, 0.0);
  ASSERT_EQ(stats.streams.size(), 3u);
  for (const auto& s : stats.streams) {
    EXPECT_EQ(s.frames, 40u);
    EXPECT_EQ(s.frames_completed, 40u);
    EXPECT_TRUE(s.finished);
    EXPECT_GT(s.latency_p50_ms, 0.0);
  }
  const std::string table = stats.ToTable();
  EXPECT_NE(table.find("pass"), std::string::npos);
  EXPECT_NE(table.find("stream_2"), std::string::npos);
  const auto json = nlohmann::json::parse(stats.ToJson());
  EXPECT_EQ(json["modules"][1]["frames_in"], 123);
  EXPECT_EQ(json["streams"].size(), 3u);
}

TEST(Stats, ProfilingOffSkipsLatency) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(std::string(R"({"profiler_config": {"enable_profiling": false}, )") +
                                       test::SyntheticConfig(1, 10, R"("sink")", R"("sink": {"class_name": "Recorder"})")
                                           .substr(1)));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const PipelineStats stats = pipeline.GetStats();
  EXPECT_EQ(stats.modules[1].frames_in, 11u);
  EXPECT_EQ(stats.modules[1].latency_p99_ms, 0.0);
}

TEST(Events, ASlowObserverMissesEventsInsteadOfQueueingThemAll) {
  // The observer blocks on its first event until every frame has gone through; meanwhile 3000
  // frame errors and the EOS are posted against a queue bounded at 100.
  constexpr size_t kBound = 100;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mutex;
  std::vector<Event> seen;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(1, 3000, R"("fail")", R"(
      "fail": {"class_name": "FailsAll", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder"})")));
  pipeline.SetObserver(
      [&](const Event& event) {
        bool first = false;
        {
          std::lock_guard<std::mutex> lock(mutex);
          first = seen.empty();
          seen.push_back(event);
        }
        if (first) released.wait_for(std::chrono::seconds(60));
      },
      kBound);
  ASSERT_TRUE(pipeline.Start());
  // The pipeline is not held up by its observer.
  EXPECT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  release.set_value();
  EXPECT_TRUE(pipeline.Stop());

  std::lock_guard<std::mutex> lock(mutex);
  // Every frame error was posted before the stream finished, so while the observer was held: the
  // first event and at most kBound queued behind it reached it. The stream's EOS is queued past the
  // bound (an observer waiting for the stream to end must see it), possibly after the report.
  uint64_t delivered = 0;
  uint64_t delivered_frame_errors = 0;
  uint64_t eos = 0;
  uint64_t missed = 0;
  std::string message;
  for (const Event& e : seen) {
    if (e.type == EventType::kEventsMissed) {
      missed += e.count;
      message = e.message;
    } else {
      ++delivered;
      delivered_frame_errors += e.type == EventType::kFrameError ? 1 : 0;
      eos += e.type == EventType::kStreamEos ? 1 : 0;
    }
  }
  EXPECT_LE(delivered_frame_errors, kBound + 1);
  EXPECT_LE(seen.size(), kBound + 3);  // + the report + the EOS
  EXPECT_EQ(delivered + missed, 3001u);  // nothing vanishes uncounted
  EXPECT_GE(missed, 3000u - kBound - 1);
  EXPECT_EQ(eos, 1u);
  EXPECT_NE(message.find("event(s) not delivered because the observer fell behind ("), std::string::npos) << message;
  EXPECT_NE(message.find(" frame_error"), std::string::npos) << message;
  EXPECT_EQ(pipeline.GetStats().modules[1].errors, 3000u);  // stats still count everything
}

TEST(Stats, LatencyPercentilesReadAtMostThreePercentHigh) {
  // Values just above a power of two fall at the bottom of their bucket: the worst case.
  for (const int64_t ns : {1'048'577LL, 33'554'433LL, 1'000'000LL, 25'000'000LL, 7LL}) {
    detail::LatencyHistogram histogram;
    for (int i = 0; i < 100; ++i) histogram.Record(std::chrono::nanoseconds(ns));
    const double ms = static_cast<double>(ns) / 1e6;
    EXPECT_GE(histogram.PercentileMs(0.5), ms) << ns;
    EXPECT_LE(histogram.PercentileMs(0.5), ms * (1 + 1.0 / 32)) << ns;
  }
  // Percentiles pick the right rank.
  detail::LatencyHistogram histogram;
  for (int i = 1; i <= 100; ++i) histogram.Record(std::chrono::microseconds(i * 100));
  EXPECT_NEAR(histogram.PercentileMs(0.5), 5.0, 5.0 / 32);
  EXPECT_NEAR(histogram.PercentileMs(0.99), 9.9, 9.9 / 32);
}

}  // namespace
}  // namespace vstream
