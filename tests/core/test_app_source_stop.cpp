// AppSource under load and at its end: a push waits while the pipeline is full and goes on when a
// frame is taken, pushes from several threads keep each stream in order, a stream ended while a
// push waits gets its EOS after that frame, and stopping (graceful or abort) never leaves a pusher
// waiting: a graceful stop lets its frame through and ends the stream, an abort refuses it.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "test_modules.hpp"
#include "vstream/modules/app_source.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Pushes `frames` one-pixel frames into `stream_id` from its own thread (with `until_refused`, no
// more after the first that fails) and records each push's status, so the test can wait for a
// number of them to have returned.
class Pusher {
 public:
  Pusher(AppSource* app, std::string stream_id, int frames, bool until_refused = false) {
    thread_ = std::thread([this, app, stream_id, frames, until_refused] {
      for (int i = 0; i < frames; ++i) {
        uint8_t pixel[3] = {static_cast<uint8_t>(i), 0, 0};
        const Status status = app->Push(stream_id, AppSource::Image{pixel, 1, 1, 0, PixelFormat::kBGR24});
        std::lock_guard<std::mutex> lock(mutex_);
        results_.push_back(status);
        changed_.notify_all();
        if (!status && until_refused) return;
      }
    });
  }
  ~Pusher() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool WaitReturned(size_t n, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return results_.size() >= n; });
  }
  std::vector<Status> results() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return results_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Status> results_;  // guarded by mutex_
  std::thread thread_;
};

// AppSource "src" (stream "cam") -> Gate "gate" with a queue of one frame -> Recorder "sink".
struct GatedPipeline {
  GatedPipeline() {
    const Status built = pipeline.BuildFromString(R"({
        "src":  {"class_name": "AppSource", "next_modules": ["gate"], "custom_params": {"streams": ["cam"]}},
        "gate": {"class_name": "Gate", "max_input_queue_size": 1, "next_modules": ["sink"]},
        "sink": {"class_name": "Recorder"}})");
    EXPECT_TRUE(built) << built.message();
    EXPECT_TRUE(pipeline.Start());
    app = pipeline.GetModule<AppSource>("src");
    gate = pipeline.GetModule<test::Gate>("gate");
    sink = pipeline.GetModule<test::Recorder>("sink");
  }
  Pipeline pipeline;
  AppSource* app = nullptr;
  test::Gate* gate = nullptr;
  test::Recorder* sink = nullptr;
};

TEST(AppSourceStop, APushWaitsWhileThePipelineIsFullAndGoesOnWhenAFrameIsTaken) {
  GatedPipeline run;
  Pusher pusher(run.app, "cam", 3);
  // Frame 0 is in the gate, frame 1 in its queue: the third push has no room until the gate lets
  // a frame through.
  ASSERT_TRUE(run.gate->WaitEntered(1));
  ASSERT_TRUE(pusher.WaitReturned(2));
  EXPECT_EQ(pusher.results().size(), 2u);
  run.gate->Release(1);
  ASSERT_TRUE(pusher.WaitReturned(3));
  run.gate->OpenAll();
  pusher.Join();
  for (const Status& s : pusher.results()) EXPECT_TRUE(s) << s.message();
  ASSERT_TRUE(run.app->EndStream("cam"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_EQ(run.sink->frames()["cam"], (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(run.sink->eos()["cam"], 1);
  EXPECT_TRUE(run.pipeline.Stop());
}

TEST(AppSourceStop, AStreamEndedWhileAPushWaitsGetsItsEosAfterThatFrame) {
  GatedPipeline run;
  Pusher pusher(run.app, "cam", 3);
  ASSERT_TRUE(run.gate->WaitEntered(1));
  ASSERT_TRUE(pusher.WaitReturned(2));
  // The third push waits for room (or has not started yet): either way the stream ends after it.
  ASSERT_TRUE(run.app->EndStream("cam"));
  run.gate->OpenAll();
  pusher.Join();
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  const std::vector<Status> results = pusher.results();
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0] && results[1]);
  const std::vector<int64_t> expected = results[2] ? std::vector<int64_t>{0, 1, 2} : std::vector<int64_t>{0, 1};
  if (!results[2]) {
    EXPECT_EQ(results[2].code(), StatusCode::kFailedState) << results[2].message();
  }
  EXPECT_EQ(run.sink->frames()["cam"], expected);
  EXPECT_EQ(run.sink->eos()["cam"], 1);
  EXPECT_FALSE(run.sink->frame_after_eos());
  EXPECT_TRUE(run.pipeline.Stop());
}

TEST(AppSourceStop, AnAbortReleasesAWaitingPushAndRefusesTheNextOnes) {
  GatedPipeline run;
  // Pushes until one is refused: the third waits for room until the abort. (Whether its own frame
  // squeezes in while the abort opens the gate is a race; the push after it is refused for sure.)
  Pusher pusher(run.app, "cam", 100000, /*until_refused=*/true);
  ASSERT_TRUE(run.gate->WaitEntered(1));
  ASSERT_TRUE(pusher.WaitReturned(2));
  EXPECT_TRUE(run.pipeline.Stop(StopMode::kAbort));  // the gate opens on Interrupt
  pusher.Join();
  const std::vector<Status> results = pusher.results();
  ASSERT_GE(results.size(), 3u);
  ASSERT_LE(results.size(), 4u);  // at most one frame got through after the abort began
  for (size_t i = 0; i + 1 < results.size(); ++i) EXPECT_TRUE(results[i]) << results[i].message();
  const Status& last = results.back();
  EXPECT_EQ(last.code(), StatusCode::kFailedState);
  const bool refused = last.message().find("the pipeline is stopping; frame " + std::to_string(results.size() - 1) +
                                           " of stream 'cam' was not taken") != std::string::npos;
  const bool after_close = last.message().find("module 'src' is not running") != std::string::npos;
  EXPECT_TRUE(refused || after_close) << last.message();
}

TEST(AppSourceStop, AGracefulStopLetsAWaitingPushThroughAndEndsTheStream) {
  GatedPipeline run;
  Pusher pusher(run.app, "cam", 3);
  ASSERT_TRUE(run.gate->WaitEntered(1));
  ASSERT_TRUE(pusher.WaitReturned(2));
  std::thread stopper([&run] { EXPECT_TRUE(run.pipeline.Stop()); });
  run.gate->OpenAll();
  stopper.join();
  pusher.Join();
  const std::vector<Status> results = pusher.results();
  ASSERT_EQ(results.size(), 3u);
  // The third push either made it before the stream ended, or came after the stop ended it.
  std::vector<int64_t> expected{0, 1};
  if (results[2]) {
    expected.push_back(2);
  } else {
    EXPECT_EQ(results[2].code(), StatusCode::kFailedState) << results[2].message();
  }
  EXPECT_EQ(run.sink->frames()["cam"], expected);
  EXPECT_EQ(run.sink->eos()["cam"], 1);  // never ended by the program: the stop ended it
}

TEST(AppSourceStop, ThreadsPushingOneStreamKeepItInOrderAndOthersRunAlongside) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "AppSource", "next_modules": ["mid"], "custom_params": {"streams": ["shared", "solo"]}},
      "mid":  {"class_name": "PassThrough", "parallelism": 2, "max_input_queue_size": 2, "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "max_input_queue_size": 2}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* app = pipeline.GetModule<AppSource>("src");
  {
    std::vector<std::unique_ptr<Pusher>> pushers;
    for (int i = 0; i < 4; ++i) pushers.push_back(std::make_unique<Pusher>(app, "shared", 50));
    pushers.push_back(std::make_unique<Pusher>(app, "solo", 80));
    for (auto& pusher : pushers) {
      pusher->Join();
      for (const Status& s : pusher->results()) EXPECT_TRUE(s) << s.message();
    }
  }
  ASSERT_TRUE(app->EndStream("shared"));
  ASSERT_TRUE(app->EndStream("solo"));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  ASSERT_TRUE(pipeline.Stop());
  auto* sink = pipeline.GetModule<test::Recorder>("sink");
  const auto frames = sink->frames();
  std::vector<int64_t> all(200);
  for (int64_t i = 0; i < 200; ++i) all[static_cast<size_t>(i)] = i;
  EXPECT_EQ(frames.at("shared"), all);  // every index once, in order
  EXPECT_EQ(frames.at("solo").size(), 80u);
  EXPECT_FALSE(sink->out_of_order());
  EXPECT_EQ(sink->eos()["shared"], 1);
  EXPECT_EQ(sink->eos()["solo"], 1);
}

TEST(AppSourceStop, StreamsLeftByAnAbortAreFreedForTheNextRun) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src":  {"class_name": "AppSource", "next_modules": ["sink"], "custom_params": {"streams": ["again"]}},
      "sink": {"class_name": "Recorder"}})"));
  auto* app = pipeline.GetModule<AppSource>("src");
  uint8_t pixel[1] = {0};
  for (int run = 0; run < 2; ++run) {
    ASSERT_TRUE(pipeline.Start());
    const Status pushed = app->Push("again", AppSource::Image{pixel, 1, 1, 0, PixelFormat::kGray8});
    EXPECT_TRUE(pushed) << pushed.message();
    ASSERT_TRUE(pipeline.Stop(StopMode::kAbort));
    EXPECT_TRUE(app->ActiveStreams().empty());
  }
}

}  // namespace
}  // namespace vstream
