// FFmpeg's own log lines (libx264's among them) go through vstream's log at the mapped level, from
// the moment libvstream is loaded, whichever module uses FFmpeg first; nothing is written to
// stderr directly. Each test runs in a fresh process (ctest), so none relies on another having
// started FFmpeg first.
extern "C" {
#include <libavutil/log.h>
}

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "data_source_harness.hpp"
#include "log_capture.hpp"

namespace vstream {
namespace {

// Sends file descriptor 2 to a file while it lives; Text() is what was written there.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() { Restore(); }
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::string Text() const {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(FfmpegLog, AWarningReachesTheLogCallbackAndNotStderr) {
  test::ScratchDir dir("ffmpeg_log_warning");
  test::LogCapture log(LogLevel::kWarn);
  StderrCapture stderr_file(dir / "stderr.txt");
  // As any FFmpeg component logs; nothing of vstream has touched FFmpeg in this process yet.
  av_log(nullptr, AV_LOG_WARNING, "vstream test: a warning number %d\n", 7);
  av_log(nullptr, AV_LOG_ERROR, "vstream test: an error\n");
  av_log(nullptr, AV_LOG_INFO, "vstream test: an info line\n");
  stderr_file.Restore();
  EXPECT_EQ(stderr_file.Text(), "");
  const auto warning = log.Containing("vstream test: a warning number 7");
  ASSERT_EQ(warning.size(), 1u);
  EXPECT_EQ(warning[0].first, LogLevel::kWarn);
  EXPECT_EQ(warning[0].second, "ffmpeg: vstream test: a warning number 7");
  const auto error = log.Containing("vstream test: an error");
  ASSERT_EQ(error.size(), 1u);
  EXPECT_EQ(error[0].first, LogLevel::kWarn);
  EXPECT_TRUE(log.Containing("an info line").empty()) << "FFmpeg's info lines are debug";
}

TEST(FfmpegLog, AnEncoderFirstSendsLibx264LinesThroughTheLog) {
  // No DataSource: the Encoder is the first to use FFmpeg, and libx264 talks at its opening and
  // closing (its settings, its statistics).
  test::ScratchDir dir("ffmpeg_log_encoder");
  test::LogCapture log(LogLevel::kDebug);
  StderrCapture stderr_file(dir / "stderr.txt");
  {
    Pipeline pipeline;
    Status s = pipeline.BuildFromString(R"({
        "src": {"class_name": "SyntheticSource", "next_modules": ["enc"],
                "custom_params": {"streams": 1, "frames": 10, "width": 64, "height": 48}},
        "enc": {"class_name": "Encoder", "custom_params": {"path": ")" + dir / "{stream}.mp4" + R"("}}})");
    ASSERT_TRUE(s) << s.message();
    ASSERT_TRUE(pipeline.Start());
    ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
    ASSERT_TRUE(pipeline.Stop());
  }
  stderr_file.Restore();
  EXPECT_TRUE(std::filesystem::exists(dir / "stream_0.mp4"));
  EXPECT_EQ(stderr_file.Text(), "") << "written to stderr directly";
  const auto x264 = log.Containing("[libx264 @ ");
  ASSERT_FALSE(x264.empty()) << "libx264's lines did not reach the log";
  for (const auto& [level, line] : x264) {
    EXPECT_EQ(line.rfind("ffmpeg: ", 0), 0u) << line;
    EXPECT_EQ(level, LogLevel::kDebug) << line;  // its info lines
  }
}

}  // namespace
}  // namespace vstream
