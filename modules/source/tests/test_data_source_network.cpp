// Network inputs: a live stream served by an ffmpeg process on 127.0.0.1 is read; when the server
// dies and comes back within the reconnect budget the stream resumes (its first frame after the
// gap says how long it was), when it does not the stream ends with a clear error, and a server
// that stops sending trips the stall timeout. RTSP (GStreamer's RTSP server, restarted mid-stream
// too), HTTP, RTMP and UDP are served on 127.0.0.1 by the test itself.
#include <thread>

#include "data_source_harness.hpp"
#include "log_capture.hpp"
#include "servers.hpp"

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
    ASSERT_TRUE(test::MakeVideo(Mp4(), "libx264", 320, 240, 50, 25));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Clip() { return *dir_ / "clip.ts"; }
  static std::string Mp4() { return *dir_ / "clip.mp4"; }

  // GStreamer's RTSP server (modules/source/tests/rtsp_server.py) serving the MP4 clip in real
  // time at rtsp://127.0.0.1:port/live. A machine without it fails the test and says what to install.
  static std::unique_ptr<test::ChildProcess> ServeRtsp(int port) {
    auto server = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{"/usr/bin/python3", test::SourceTestsDir() + "/rtsp_server.py", std::to_string(port), Mp4()},
        *dir_ / ("rtsp_server_" + std::to_string(port) + ".log"));
    EXPECT_TRUE(server->WaitListening(port)) << "the RTSP server did not start: " << server->Describe();
    return server;
  }
  // The ffmpeg CLI as a server (-listen 1) or sender, its messages kept for a failure message.
  static std::unique_ptr<FfmpegProcess> Ffmpeg(const std::vector<std::string>& args, const std::string& log) {
    return std::make_unique<FfmpegProcess>(args, *dir_ / log);
  }
  // Waits until `stream_id` has `count` frames more than `after`.
  static bool WaitStreamFrames(const test::Harness& h, const std::string& stream_id, size_t count,
                               std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (h.sink->kept(stream_id).size() >= count) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  static void ExpectLiveFrames(const std::vector<FramePtr>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      ASSERT_EQ(frames[i]->image.width(), 320);
      ASSERT_EQ(frames[i]->image.height(), 240);
      if (i > 0) {
        ASSERT_GT(frames[i]->pts, frames[i - 1]->pts);
      }
    }
  }

  // ffmpeg listening on 127.0.0.1:port, sending the clip in real time to the first client.
  static std::unique_ptr<FfmpegProcess> Serve(int port) {
    auto server = std::make_unique<FfmpegProcess>(std::vector<std::string>{
        "-re", "-i", Clip(), "-c", "copy", "-f", "mpegts", "tcp://127.0.0.1:" + std::to_string(port) + "?listen=1"});
    EXPECT_TRUE(server->Running());
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
  size_t gaps = 0;
  for (size_t i = 1; i < frames.size(); ++i) {
    ASSERT_GT(frames[i]->frame_index, frames[i - 1]->frame_index);
    ASSERT_GT(frames[i]->pts, frames[i - 1]->pts) << "pts keeps increasing across the reconnect";
    gaps += frames[i]->data.Has(DataSource::kGapKey) ? 1 : 0;
  }
  EXPECT_EQ(gaps, 1u) << "the first frame after the reconnect reports the gap";
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
}

TEST_F(DataSourceNetwork, RtspIsReadOverTcpAndUdp) {
  const int port = test::FreePort();
  auto server = ServeRtsp(port);
  ASSERT_FALSE(HasFailure());
  const std::string uri = "rtsp://127.0.0.1:" + std::to_string(port) + "/live";
  test::Harness h("", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("tcp", uri));  // rtsp_transport tcp, the default
  ASSERT_TRUE(h.pipeline.AddSource("udp", uri, {{"rtsp_transport", "udp"}}));
  ASSERT_TRUE(WaitStreamFrames(h, "tcp", 15)) << "got " << h.sink->kept("tcp").size() << "; " << server->Describe();
  ASSERT_TRUE(WaitStreamFrames(h, "udp", 15)) << "got " << h.sink->kept("udp").size() << "; " << server->Describe();
  ASSERT_TRUE(h.pipeline.RemoveSource("tcp"));
  ASSERT_TRUE(h.pipeline.RemoveSource("udp"));
  ASSERT_TRUE(h.Finish());
  ExpectLiveFrames(h.sink->kept("tcp"));
  ExpectLiveFrames(h.sink->kept("udp"));
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 2u);
}

TEST_F(DataSourceNetwork, RtspServerRestartResumesTheStreamAndReportsTheGap) {
  const int port = test::FreePort();
  auto server = ServeRtsp(port);
  ASSERT_FALSE(HasFailure());
  const std::string uri = "rtsp://127.0.0.1:" + std::to_string(port) + "/live";
  test::LogCapture log;
  test::Harness h(R"("reconnect": 20, "reconnect_delay_ms": 100, "stall_timeout_ms": 3000)", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("cam", uri));
  ASSERT_TRUE(WaitStreamFrames(h, "cam", 10)) << server->Describe();
  server->Kill();  // kill -9 mid-stream
  const auto killed = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t before = h.sink->kept("cam").size();
  server = ServeRtsp(port);  // and back, on the same port
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(WaitStreamFrames(h, "cam", before + 10)) << "the stream did not resume: " << server->Describe();
  const auto down_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killed).count();
  ASSERT_TRUE(h.pipeline.RemoveSource("cam"));
  ASSERT_TRUE(h.Finish());

  const auto frames = h.sink->kept("cam");
  ExpectLiveFrames(frames);
  // Exactly one frame carries the gap: the first after the reconnect, and its pts shows it.
  std::vector<size_t> marked;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (frames[i]->data.Has(DataSource::kGapKey)) marked.push_back(i);
  }
  ASSERT_EQ(marked.size(), 1u);
  const size_t first = marked[0];
  ASSERT_GT(first, 0u);
  const int64_t gap_ms = *frames[first]->data.Get<int64_t>(DataSource::kGapKey);
  EXPECT_GE(gap_ms, 300) << "the server was down at least 300 ms";
  EXPECT_LE(gap_ms, down_ms);
  EXPECT_GE(frames[first]->pts - frames[first - 1]->pts, gap_ms * 1000) << "pts follows real time across the gap";
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(frames[i]->frame_index, static_cast<int64_t>(i));
  // The log says it too, and the stream went on: no stream error.
  EXPECT_FALSE(log.Containing("reconnecting in").empty());
  const auto back = log.Containing("is back after");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].first, LogLevel::kWarn);
  EXPECT_NE(back[0].second.find(uri), std::string::npos) << back[0].second;
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
}

TEST_F(DataSourceNetwork, HttpIsRead) {
  const int port = test::FreePort();
  const std::string uri = "http://127.0.0.1:" + std::to_string(port) + "/live.ts";
  auto server = Ffmpeg({"-re", "-i", Clip(), "-c", "copy", "-f", "mpegts", "-listen", "1", uri}, "http.log");
  ASSERT_TRUE(server->WaitListening(port)) << server->Describe();
  test::Harness h("", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("http", uri));
  ASSERT_TRUE(WaitStreamFrames(h, "http", 15)) << server->Describe();
  ASSERT_TRUE(h.pipeline.RemoveSource("http"));
  ASSERT_TRUE(h.Finish());
  ExpectLiveFrames(h.sink->kept("http"));
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST_F(DataSourceNetwork, RtmpIsRead) {
  const int port = test::FreePort();
  const std::string uri = "rtmp://127.0.0.1:" + std::to_string(port) + "/live/stream";
  auto server = Ffmpeg({"-re", "-i", Mp4(), "-c", "copy", "-f", "flv", "-listen", "1", uri}, "rtmp.log");
  ASSERT_TRUE(server->WaitListening(port)) << server->Describe();
  test::Harness h("", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("rtmp", uri));
  ASSERT_TRUE(WaitStreamFrames(h, "rtmp", 15)) << server->Describe();
  ASSERT_TRUE(h.pipeline.RemoveSource("rtmp"));
  ASSERT_TRUE(h.Finish());
  ExpectLiveFrames(h.sink->kept("rtmp"));
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST_F(DataSourceNetwork, UdpIsRead) {
  const int port = test::FreePort();
  const std::string uri = "udp://127.0.0.1:" + std::to_string(port);
#if defined(__SANITIZE_THREAD__)
  // FFmpeg receives UDP on a thread of its own that it ends with pthread_cancel, which
  // ThreadSanitizer cannot follow in the uninstrumented libavformat: read on the reader's thread.
  const std::string read_uri = uri + "?fifo_size=0";
#else
  const std::string read_uri = uri;
#endif
  test::Harness h("", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("udp", read_uri));  // binds the port and waits for datagrams
  // Datagrams sent before the port is bound are lost; the sender repeats the clip until the
  // stream has its frames.
  auto sender = Ffmpeg({"-re", "-stream_loop", "-1", "-i", Clip(), "-c", "copy", "-f", "mpegts", uri + "?pkt_size=1316"},
                       "udp.log");
  ASSERT_TRUE(WaitStreamFrames(h, "udp", 15)) << sender->Describe();
  ASSERT_TRUE(h.pipeline.RemoveSource("udp"));
  ASSERT_TRUE(h.Finish());
  sender->Kill();
  ExpectLiveFrames(h.sink->kept("udp"));
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
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
