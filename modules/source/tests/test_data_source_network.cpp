// Network inputs: a live stream served by an ffmpeg process on 127.0.0.1 is read; when the server
// dies and comes back within the reconnect budget the stream resumes, when it does not the stream
// ends with a clear error, and a server that stops sending trips the stall timeout.
#include "data_source_harness.hpp"

namespace vstream {
namespace {

using test::FfmpegProcess;
using test::Harness;

class DataSourceNetwork : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir("datasource_network");
    // 50 frames at 25 fps: two seconds of live video per connection when served with -re.
    ASSERT_TRUE(test::MakeVideo(Clip(), "libx264", 320, 240, 50, 25, "-f mpegts"));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Clip() { return *dir_ / "clip.ts"; }

  // ffmpeg listening on 127.0.0.1:port, sending the clip in real time to the first client.
  static std::unique_ptr<FfmpegProcess> Serve(int port) {
    auto server = std::make_unique<FfmpegProcess>(std::vector<std::string>{
        "-re", "-i", Clip(), "-c", "copy", "-f", "mpegts", "tcp://127.0.0.1:" + std::to_string(port) + "?listen=1"});
    EXPECT_TRUE(server->running());
    // Listening before the test connects, so a small reconnect budget is not spent on ffmpeg's start.
    EXPECT_TRUE(test::WaitListening(port)) << "ffmpeg did not listen on port " << port;
    return server;
  }
  static test::ScratchDir* dir_;
};
test::ScratchDir* DataSourceNetwork::dir_ = nullptr;

TEST_F(DataSourceNetwork, ResumesWhenTheServerComesBack) {
  const int port = test::FreePort();
  auto server = Serve(port);
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
  Harness h(R"("reconnect": 200, "reconnect_delay_ms": 20, "stall_timeout_ms": 5000)", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("live", uri));  // connects (retrying until the server listens)
  ASSERT_TRUE(h.sink->WaitFrames(10));
  server->Kill();           // kill -9 mid-stream
  server = Serve(port);     // and back
  // One connection carries 50 frames; more than that means the second connection delivered.
  ASSERT_TRUE(h.sink->WaitFrames(56)) << "got " << h.sink->total() << " frames";
  ASSERT_TRUE(h.pipeline.RemoveSource("live"));
  ASSERT_TRUE(h.Finish());
  const auto frames = h.sink->kept("live");
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_GT(frames[i]->frame_index, frames[i - 1]->frame_index);
    ASSERT_GT(frames[i]->pts, frames[i - 1]->pts) << "pts keeps increasing across the reconnect";
  }
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
}

TEST_F(DataSourceNetwork, EndsWithAClearErrorWhenTheBudgetRunsOut) {
  const int port = test::FreePort();
  auto server = Serve(port);
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
  Harness h(R"("reconnect": 2, "reconnect_delay_ms": 20)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("live", uri));
  ASSERT_TRUE(h.sink->WaitFrames(5));
  server->Kill();  // and it never comes back
  ASSERT_TRUE(h.Finish());
  const auto errors = h.ErrorsOf("live");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(uri), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("gave up after 2 reconnect attempt(s)"), std::string::npos) << errors[0];
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
}

TEST_F(DataSourceNetwork, SilentServerTripsTheStallTimeout) {
  const int port = test::FreePort();
  auto server = Serve(port);
  const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);
  // The budget also covers the first connection, made before ffmpeg may be listening.
  Harness h(R"("stall_timeout_ms": 300, "reconnect": 3, "reconnect_delay_ms": 20)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("live", uri));
  ASSERT_TRUE(h.sink->WaitFrames(5));
  server->Pause();  // the connection stays open, but nothing arrives any more
  ASSERT_TRUE(h.Finish());
  const auto errors = h.ErrorsOf("live");
  ASSERT_EQ(errors.size(), 1u);
  // The message leads with the cause, then says reconnecting failed.
  EXPECT_EQ(errors[0].find("no data from '" + uri + "' for 300 ms"), 0u) << errors[0];
  EXPECT_NE(errors[0].find("gave up after 3 reconnect attempt(s)"), std::string::npos) << errors[0];
}

TEST_F(DataSourceNetwork, AServerThatNeverAnswersIsReported) {
  const int port = test::FreePort();  // nobody listens here
  Harness h(R"("reconnect": 1, "reconnect_delay_ms": 10)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("nobody", "tcp://127.0.0.1:" + std::to_string(port)));
  ASSERT_TRUE(h.Finish());
  const auto errors = h.ErrorsOf("nobody");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("Connection refused"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace vstream
