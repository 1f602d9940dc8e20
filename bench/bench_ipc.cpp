// ModuleIPC throughput between two processes, next to what bounds it and what people use instead,
// all in one run: memcpy into a rotating set of frame buffers (the one copy the client makes, out of
// cache: the ceiling), a plain copy of the same frames through a Unix socket to a second process,
// and Python's multiprocessing.Queue of numpy frames (the seeds' approach).
//
// vstream: this binary runs again as the server process (ModuleIPC server -> a leaf that drops the
// frame, which sends the slot back; or that first reads every cache line of it); here a source transmits one pre-filled BGR image as `frames`
// frames into a ModuleIPC client. Timed from Start to the end of Stop, which returns once the server
// has released every frame. Each figure is the median of `runs` runs.
//
//   build/bench/bench_ipc [frames=1000] [runs=3] [python_frames=100]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ipc_baselines.hpp"
#include "vstream/vstream.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

// Transmits the same image `frames` times as one stream: the source costs nothing, so the
// figure is ModuleIPC's.
class RepeatSource : public vstream::SourceModule {
 public:
  using SourceModule::SourceModule;
  static vstream::ModuleDescription Describe() {
    return {"bench: one image, many frames",
            {vstream::ParamSpec::Int("width", 1920, ""), vstream::ParamSpec::Int("height", 1080, ""),
             vstream::ParamSpec::Int("frames", 1000, "")}};
  }
  vstream::Status Open(const vstream::ModuleParams& params) override {
    image_ = vstream::VideoFrame::Allocate(static_cast<int>(params.GetInt("width")), static_cast<int>(params.GetInt("height")),
                                           vstream::PixelFormat::kBGR24);
    std::memset(image_.plane(0), 0x5a, image_.buffer()->size());
    frames_ = params.GetInt("frames");
    return AddSource("bench", "repeat");
  }
  void Close() override {
    if (thread_.joinable()) thread_.join();
  }

 protected:
  vstream::Status OnAddSource(const std::string& id, const std::string&, const vstream::StreamOptions&) override {
    thread_ = std::thread([this, id] {
      for (int64_t i = 0; i < frames_; ++i) {
        auto frame = vstream::Frame::Create(id, i);
        frame->image = image_;
        if (!Transmit(std::move(frame))) break;
      }
      EndStream(id, frames_);
    });
    return vstream::Status::Ok();
  }
  void OnRemoveSource(const std::string&) override {}

 private:
  vstream::VideoFrame image_;
  int64_t frames_ = 0;
  std::thread thread_;
};
VSTREAM_REGISTER_MODULE(RepeatSource);

// A consumer that reads every cache line of the image (what any real next module does at least).
class ReadPixels : public vstream::Module {
 public:
  using Module::Module;
  static vstream::ModuleDescription Describe() { return {"bench: reads every cache line of the image", {}}; }
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->image.empty()) return {};
    const uint8_t* p = frame->image.plane(0);
    const size_t size = static_cast<size_t>(frame->image.stride(0)) * frame->image.height();
    unsigned sum = 0;
    for (size_t i = 0; i < size; i += 64) sum += p[i];
    sink_ = sink_ + sum;
    return {};
  }

 private:
  volatile unsigned sink_ = 0;
};
VSTREAM_REGISTER_MODULE(ReadPixels);

int Serve(const std::string& socket, const std::string& leaf) {
  vstream::Pipeline pipeline("ipc_server");
  const std::string config = R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["leaf"],
             "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
    "leaf": { "class_name": ")" + leaf + R"(" } })";
  if (!pipeline.BuildFromString(config) || !pipeline.Start()) return 1;
  pipeline.WaitForStreams();
  return pipeline.Stop() ? 0 : 1;
}

pid_t SpawnServer(const std::string& socket, std::string leaf) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string flag = "--serve";
  std::string where = socket;
  char* argv[] = {self.data(), flag.data(), where.data(), leaf.data(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) != 0) return -1;
  // Polling is fine in a benchmark: only the transfer below is timed.
  while (!std::filesystem::exists(socket)) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return pid;
}

vstream::bench::IpcThroughput VstreamIpc(int width, int height, int frames, const std::string& socket,
                                         const std::string& leaf) {
  const pid_t server = SpawnServer(socket, leaf);
  if (server < 0) return {};
  vstream::Pipeline pipeline("ipc_client");
  const std::string config = R"({
    "source": { "class_name": "RepeatSource", "next_modules": ["ipc"],
                "custom_params": { "width": )" + std::to_string(width) + R"(, "height": )" + std::to_string(height) +
                             R"(, "frames": )" + std::to_string(frames) + R"( } },
    "ipc": { "class_name": "ModuleIPC",
             "custom_params": { "ipc_type": "client", "socket_address": ")" + socket + R"(", "max_cachedframe_size": 40 } } })";
  vstream::bench::IpcThroughput result;
  if (pipeline.BuildFromString(config)) {
    const auto start = Clock::now();
    if (pipeline.Start()) {
      pipeline.WaitForStreams();
      if (vstream::Status stopped = pipeline.Stop(); !stopped) std::fprintf(stderr, "%s\n", stopped.message().c_str());
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      result.frames_per_second = frames / seconds;
      result.gigabytes_per_second = result.frames_per_second * width * height * 3 / 1e9;
    }
  }
  int status = 0;
  ::waitpid(server, &status, 0);
  return result;
}

template <typename F>
vstream::bench::IpcThroughput Median(int runs, F&& run) {
  std::vector<vstream::bench::IpcThroughput> all;
  for (int i = 0; i < runs; ++i) all.push_back(run());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.frames_per_second < b.frames_per_second; });
  return all[all.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--serve") == 0) return Serve(argv[2], argv[3]);
  const int frames = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const int python_frames = argc > 3 ? std::atoi(argv[3]) : 100;
  vstream::SetLogLevel(vstream::LogLevel::kWarn);
  struct Size {
    const char* name;
    int width;
    int height;
  };
  const Size sizes[] = {{"720p", 1280, 720}, {"1080p", 1920, 1080}};
  // The socket baseline forks: run it before this process has any thread.
  vstream::bench::IpcThroughput socket_copy[2];
  for (int s = 0; s < 2; ++s) {
    const size_t bytes = static_cast<size_t>(sizes[s].width) * sizes[s].height * 3;
    socket_copy[s] = Median(runs, [&] { return vstream::bench::UnixSocketCopy(bytes, frames); });
  }
  const std::string socket = "/tmp/vstream_bench_ipc_" + std::to_string(::getpid()) + ".sock";
  std::printf("| frame | method | frames/s | GB/s | / memcpy |\n|---|---|---:|---:|---:|\n");
  std::string summary;
  for (int s = 0; s < 2; ++s) {
    const Size& size = sizes[s];
    const size_t bytes = static_cast<size_t>(size.width) * size.height * 3;
    const auto memcpy_rate = Median(runs, [&] { return vstream::bench::MemcpyRotating(bytes, frames); });
    const auto ipc = Median(runs, [&] { return VstreamIpc(size.width, size.height, frames, socket, "PassThrough"); });
    const auto ipc_read = Median(runs, [&] { return VstreamIpc(size.width, size.height, frames, socket, "ReadPixels"); });
    const auto python = vstream::bench::PythonQueue(size.width, size.height, python_frames);
    auto row = [&](const char* method, const vstream::bench::IpcThroughput& t) {
      const double ratio = t.frames_per_second / memcpy_rate.frames_per_second;
      std::printf("| %s | %s | %.0f | %.2f | %.2f |\n", size.name, method, t.frames_per_second, t.gigabytes_per_second, ratio);
    };
    row("vstream ModuleIPC (2 processes)", ipc);
    row("vstream ModuleIPC, server reads every cache line", ipc_read);
    row("memcpy, 40 rotating buffers", memcpy_rate);
    row("Unix socket copy (2 processes)", socket_copy[s]);
    row("Python multiprocessing.Queue", python);
    std::fflush(stdout);
    char line[256];
    std::snprintf(line, sizeof(line), "%s: vstream (server reading every cache line) = %.2f x memcpy, %.2f x the Unix socket, %.1f x Python\n",
                  size.name, ipc_read.frames_per_second / memcpy_rate.frames_per_second,
                  ipc_read.frames_per_second / socket_copy[s].frames_per_second,
                  python.frames_per_second > 0 ? ipc_read.frames_per_second / python.frames_per_second : 0.0);
    summary += line;
  }
  std::printf("\n%s", summary.c_str());
  return 0;
}
