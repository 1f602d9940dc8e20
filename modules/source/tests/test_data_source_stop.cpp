// Stopping is bounded whatever an input does: a FIFO no one writes to stops at once (it is read
// with poll()), and a reader blocked in a system call nothing interrupts (here: a terminal no one
// types into; in the field: a hung network mount) is abandoned after stop_timeout_ms, while the
// other streams are not affected.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <future>
#include <thread>

#include "data_source_harness.hpp"
#include "log_capture.hpp"

namespace vstream {
namespace {

using test::Harness;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A pseudo-terminal: reading its slave side blocks in read(2) until someone writes a line to the
// master, and FFmpeg's interrupt callback cannot end that read. Closing the master ends it (EIO).
class Terminal {
 public:
  Terminal() {
    // FFmpeg opens the slave without O_NOCTTY: should it become this process's controlling
    // terminal, hanging it up must not end the test.
    ::signal(SIGHUP, SIG_IGN);
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master_ >= 0 && ::grantpt(master_) == 0 && ::unlockpt(master_) == 0) {
      if (const char* name = ::ptsname(master_)) slave_ = name;
    }
  }
  ~Terminal() { Close(); }
  void Close() {
    if (master_ >= 0) ::close(master_);
    master_ = -1;
  }
  /// The slave's path ("/dev/pts/3"), empty when this machine gives no pseudo-terminal.
  const std::string& path() const { return slave_; }

 private:
  int master_ = -1;
  std::string slave_;
};

// Runs `stop` on another thread; false when it has not returned after `limit` (then `unblock`
// runs, so that the test can still end).
bool ReturnsWithin(std::chrono::seconds limit, const std::function<void()>& stop, const std::function<void()>& unblock) {
  auto done = std::async(std::launch::async, stop);
  if (done.wait_for(limit) == std::future_status::ready) return true;
  unblock();
  done.wait();
  return false;
}

class DataSourceStop : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir("datasource_stop");
    ASSERT_TRUE(test::MakeVideo(Clip(), "libx264", 160, 120, 25));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Clip() { return *dir_ / "clip.mp4"; }
  static test::ScratchDir* dir_;
};
test::ScratchDir* DataSourceStop::dir_ = nullptr;

TEST_F(DataSourceStop, AFifoNoOneWritesToStopsAtOnce) {
  const std::string fifo = *dir_ / "nobody.ts";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening the FIFO for writing (and closing it) releases a reader stuck in open(2).
  auto release = [&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  };
  {
    // Removed on its own: it ends at once, without an error (not abandoned after stop_timeout_ms).
    Harness h("", /*keep_frames=*/false);
    ASSERT_TRUE(h.pipeline.AddSource("fifo", fifo));
    ASSERT_TRUE(h.pipeline.AddSource("file", Clip()));
    ASSERT_TRUE(h.sink->WaitFrames(25));
    ASSERT_TRUE(h.pipeline.RemoveSource("fifo"));
    const bool ended = ReturnsWithin(std::chrono::seconds(10), [&] { h.pipeline.WaitForStreams(std::chrono::seconds(20)); }, release);
    EXPECT_TRUE(ended) << "RemoveSource did not end a stream waiting for a FIFO's writer";
    EXPECT_TRUE(h.Finish());
    EXPECT_EQ(h.sink->frames()["file"].size(), 25u);
    EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
    EXPECT_EQ(h.events.Count(EventType::kStreamEos), 2u);
  }
  {
    // An abort with the FIFO stream still running.
    Harness h("", /*keep_frames=*/false);
    ASSERT_TRUE(h.pipeline.AddSource("fifo", fifo));
    ASSERT_TRUE(h.pipeline.AddSource("file", Clip()));
    ASSERT_TRUE(h.sink->WaitFrames(25));
    const bool stopped = ReturnsWithin(std::chrono::seconds(10), [&] { (void)h.pipeline.Stop(StopMode::kAbort); }, release);
    EXPECT_TRUE(stopped) << "Stop(kAbort) hung on a FIFO no one writes to";
    EXPECT_EQ(h.sink->frames()["file"].size(), 25u);
    EXPECT_TRUE(h.ErrorsOf("fifo").empty()) << h.ErrorsOf("fifo")[0];
  }
}

TEST_F(DataSourceStop, AbortAbandonsAReaderStuckInASystemCall) {
  Terminal terminal;
  ASSERT_FALSE(terminal.path().empty()) << "this machine gives no pseudo-terminal (posix_openpt)";
  test::LogCapture log(LogLevel::kDebug);
  {
    Harness h(R"("stop_timeout_ms": 300)", /*keep_frames=*/false);
    ASSERT_TRUE(h.pipeline.AddSource("tty", terminal.path()));
    ASSERT_TRUE(h.pipeline.AddSource("file", Clip()));
    ASSERT_TRUE(h.sink->WaitFrames(25));
    const auto start = Clock::now();
    const bool stopped =
        ReturnsWithin(std::chrono::seconds(10), [&] { (void)h.pipeline.Stop(StopMode::kAbort); }, [&] { terminal.Close(); });
    ASSERT_TRUE(stopped) << "Stop(kAbort) hung on a reader blocked in read(2)";
    EXPECT_GE(MsSince(start), 250);  // it was given stop_timeout_ms
    EXPECT_EQ(h.sink->frames()["file"].size(), 25u);  // the other stream was not affected
    const auto errors = h.ErrorsOf("tty");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("did not stop within 300 ms (stop_timeout_ms)"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find(terminal.path()), std::string::npos) << errors[0];
    EXPECT_TRUE(h.ErrorsOf("file").empty());
  }
  // The pipeline is gone; the abandoned thread still waits in read(2). Hanging up the terminal
  // ends that read: the thread returns, touching only what it owns, and says so.
  terminal.Close();
  EXPECT_TRUE(log.WaitFor("the abandoned reader of '" + terminal.path() + "' returned at last", std::chrono::seconds(10)));
}

TEST_F(DataSourceStop, RemoveSourceEndsAStuckStreamAfterStopTimeout) {
  Terminal terminal;
  ASSERT_FALSE(terminal.path().empty()) << "this machine gives no pseudo-terminal (posix_openpt)";
  test::LogCapture log(LogLevel::kDebug);
  {
    Harness h(R"("stop_timeout_ms": 300)", /*keep_frames=*/false);
    ASSERT_TRUE(h.pipeline.AddSource("tty", terminal.path()));
    ASSERT_TRUE(h.pipeline.AddSource("file", Clip()));
    ASSERT_TRUE(h.sink->WaitFrames(25));
    ASSERT_TRUE(h.pipeline.RemoveSource("tty"));
    // A graceful stop waits for the stream's EOS, which the watchdog sends after 300 ms.
    const bool finished = ReturnsWithin(std::chrono::seconds(10), [&] { EXPECT_TRUE(h.Finish(std::chrono::seconds(20))); },
                                        [&] { terminal.Close(); });
    ASSERT_TRUE(finished) << "the stuck stream never ended";
    const auto errors = h.ErrorsOf("tty");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("stop_timeout_ms"), std::string::npos) << errors[0];
    EXPECT_EQ(h.events.Count(EventType::kStreamEos), 2u);
    EXPECT_EQ(h.sink->frames()["file"].size(), 25u);
  }
  terminal.Close();
  EXPECT_TRUE(log.WaitFor("the abandoned reader of '" + terminal.path() + "' returned at last", std::chrono::seconds(10)));
}

}  // namespace
}  // namespace vstream
