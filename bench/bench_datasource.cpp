// DataSource decode throughput (BGR output) next to ffmpeg, GStreamer and OpenCV VideoCapture on
// the same H.264 files with the same decoder thread count, in one run, with peak memory.
//
//   build/bench/bench_datasource [--media DIR] [--threads N] [--streams 1,4,8,16] [--sizes 720p,1080p]
//
// The media (20 s of testsrc2 at 30 fps, libx264 defaults) is made once with the ffmpeg CLI and
// kept in DIR (default: /tmp/vstream-bench-media). Every measurement runs in a child process of
// its own (spawned, never forked) so its peak RSS is its own, and every one is timed the same way:
// wall clock from spawn to exit, process start-up included.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/videoio.hpp>

#include "vstream/vstream.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double seconds = 0;
  long frames = 0;
  long peak_rss_kb = 0;
  bool ok = false;
  double fps() const { return seconds > 0 ? static_cast<double>(frames) / seconds : 0; }
};

// Runs argv (searching PATH), optionally with extra environment, and measures wall time and the
// child's peak RSS. The child's stdout, if it prints "frames N", gives the frame count.
Result RunChild(std::vector<std::string> args, const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const auto begin = Clock::now();
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  Result result;
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return result;
  }
  std::string out;
  char buffer[512];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);
  result.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  result.peak_rss_kb = usage.ru_maxrss;
  result.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (const char* at = std::strstr(out.c_str(), "frames ")) result.frames = std::atol(at + 7);
  return result;
}

long ProbeFrames(const std::string& file) {
  FILE* pipe = ::popen(("ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets "
                        "-of csv=p=0 \"" + file + "\"").c_str(), "r");
  long frames = 0;
  if (pipe != nullptr) {
    if (std::fscanf(pipe, "%ld", &frames) != 1) frames = 0;
    ::pclose(pipe);
  }
  return frames;
}

// --- child modes -------------------------------------------------------------------------------

// DataSource -> PassThrough with `streams` copies of `file`; prints "frames N seconds S".
int RunDataSource(const std::string& file, int streams, int threads) {
  vstream::SetLogLevel(vstream::LogLevel::kWarn);
  vstream::Pipeline pipeline;
  const std::string config = R"({"src": {"class_name": "DataSource", "next_modules": ["sink"],
      "custom_params": {"pixel_format": "bgr24", "decoder_threads": )" + std::to_string(threads) + R"(}},
      "sink": {"class_name": "PassThrough", "parallelism": 2}})";
  if (!pipeline.BuildFromString(config) || !pipeline.Start()) return 1;
  const auto begin = Clock::now();
  for (int i = 0; i < streams; ++i) {
    if (!pipeline.AddSource("s" + std::to_string(i), file)) return 1;
  }
  pipeline.WaitForStreams();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  if (vstream::Status stopped = pipeline.Stop(); !stopped) std::fprintf(stderr, "%s\n", stopped.message().c_str());
  uint64_t frames = 0;
  for (const auto& s : pipeline.GetStats().streams) frames += s.frames;
  std::printf("frames %llu seconds %.6f\n", static_cast<unsigned long long>(frames), seconds);
  return 0;
}

// `readers` threads, each reading `file` with cv::VideoCapture into BGR Mats.
int RunOpenCv(const std::string& file, int readers) {
  std::vector<std::thread> threads;
  std::vector<long> counts(static_cast<size_t>(readers), 0);
  const auto begin = Clock::now();
  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      cv::VideoCapture capture(file, cv::CAP_FFMPEG);
      cv::Mat frame;
      while (capture.read(frame)) ++counts[static_cast<size_t>(r)];
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  long frames = 0;
  for (long c : counts) frames += c;
  std::printf("frames %ld seconds %.6f\n", frames, seconds);
  return 0;
}

std::vector<int> ParseList(const char* text) {
  std::vector<int> values;
  for (const char* p = text; *p != '\0';) {
    values.push_back(std::atoi(p));
    const char* comma = std::strchr(p, ',');
    if (comma == nullptr) break;
    p = comma + 1;
  }
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 5 && std::strcmp(argv[1], "--child-datasource") == 0) {
    return RunDataSource(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
  }
  if (argc >= 4 && std::strcmp(argv[1], "--child-opencv") == 0) return RunOpenCv(argv[2], std::atoi(argv[3]));

  std::string media = "/tmp/vstream-bench-media";
  int threads = 2;
  std::vector<int> stream_counts = {1, 4, 8, 16};
  std::vector<std::string> sizes = {"720p", "1080p"};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--media") == 0) media = argv[i + 1];
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--streams") == 0) stream_counts = ParseList(argv[i + 1]);
    if (std::strcmp(argv[i], "--sizes") == 0) {
      sizes.clear();
      std::string all = argv[i + 1];
      for (size_t at = 0; at <= all.size();) {
        const size_t comma = all.find(',', at);
        sizes.push_back(all.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    }
  }
  std::filesystem::create_directories(media);
  const std::string self = std::filesystem::canonical("/proc/self/exe").string();
  const bool have_gst = std::system("command -v gst-launch-1.0 >/dev/null 2>&1") == 0;
  std::printf("DataSource decode throughput, BGR output, %d decoder threads, %u cores\n", threads,
              std::thread::hardware_concurrency());

  for (const std::string& size : sizes) {
    const std::string dims = size == "720p" ? "1280x720" : "1920x1080";
    const std::string file = media + "/h264_" + size + "_20s.mp4";
    if (!std::filesystem::exists(file)) {
      const std::string make = "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=" + dims +
                               ":rate=30 -t 20 -c:v libx264 -pix_fmt yuv420p \"" + file + "\"";
      if (std::system(make.c_str()) != 0) {
        std::fprintf(stderr, "cannot make %s with the ffmpeg CLI\n", file.c_str());
        return 1;
      }
    }
    const long frames = ProbeFrames(file);
    std::printf("\n%s (%s, %ld frames of H.264)\n", size.c_str(), file.c_str(), frames);
    std::printf("  %-38s %10s %10s %12s\n", "decoder", "frames/s", "ratio", "peak RSS MB");

    Result ffmpeg = RunChild({"ffmpeg", "-nostdin", "-v", "error", "-threads", std::to_string(threads), "-i", file,
                              "-pix_fmt", "bgr24", "-f", "null", "-"});
    ffmpeg.frames = frames;
    auto row = [&](const std::string& name, const Result& r, double baseline) {
      if (!r.ok) {
        std::printf("  %-38s     failed (run it by hand to see why)\n", name.c_str());
        return;
      }
      std::printf("  %-38s %10.1f %10s %12.1f\n", name.c_str(), r.fps(),
                  baseline > 0 ? (std::to_string(r.fps() / baseline).substr(0, 5) + "x").c_str() : "-",
                  static_cast<double>(r.peak_rss_kb) / 1024.0);
      std::fflush(stdout);
    };
    row("ffmpeg -f null (bgr24)", ffmpeg, 0);
    if (have_gst) {
      // What decodebin plugs for an MP4 with H.264, with the decoder's thread count pinned.
      Result gst = RunChild({"gst-launch-1.0", "-q", "filesrc", "location=" + file, "!", "qtdemux", "!", "avdec_h264",
                             "max-threads=" + std::to_string(threads), "!", "videoconvert", "!",
                             "video/x-raw,format=BGR", "!", "fakesink", "sync=false"});
      gst.frames = frames;
      row("GStreamer avdec_h264 ! videoconvert", gst, ffmpeg.fps());
    } else {
      std::printf("  GStreamer: gst-launch-1.0 not installed (scripts/deps.sh installs it)\n");
    }
    const std::string cv_threads = "OPENCV_FFMPEG_CAPTURE_OPTIONS=threads;" + std::to_string(threads);
    const Result cv1 = RunChild({self, "--child-opencv", file, "1"}, {cv_threads});
    row("OpenCV VideoCapture x1", cv1, ffmpeg.fps());
    const Result cv4 = RunChild({self, "--child-opencv", file, "4"}, {cv_threads});
    row("OpenCV VideoCapture x4 threads", cv4, ffmpeg.fps());
    for (int streams : stream_counts) {
      const Result ds = RunChild({self, "--child-datasource", file, std::to_string(streams), std::to_string(threads)});
      const double baseline = streams == 1 ? ffmpeg.fps() : cv4.fps();
      row("vstream DataSource x" + std::to_string(streams) + (streams == 1 ? " (vs ffmpeg)" : " (vs OpenCV x4)"), ds,
          baseline);
    }
  }
  return 0;
}
