// End-to-end detection throughput: DataSource -> Inferencer(BlazeFace) -> sink on N copies of
// Megamind.avi, next to a hand-written OpenCV loop (VideoCapture -> resize -> blob -> forward,
// OpenCV's default threads) on the same input, and the limit this machine allows:
// cores / (single-thread ms per frame of read + preprocess + forward).
//
//   scripts/fetch_models.sh && build/bench/bench_inference [--streams 4] [--runs 3] [--parallelism 2]
//                                                         [--batch 4] [--timeout-ms 10] [--video FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "vstream/vstream.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

std::string ModelPath() {
  const char* cache = std::getenv("VSTREAM_CACHE");
  const char* home = std::getenv("HOME");
  const std::filesystem::path root =
      cache != nullptr ? std::filesystem::path(cache) : std::filesystem::path(home != nullptr ? home : "/root") / ".cache/vstream";
  return (root / "models/blazeface/face_detection_front_128x128_barracuda.onnx").string();
}

// What a hand-written loop does to one frame: resize, RGB, [-1, 1], NHWC blob.
cv::Mat Preprocess(const cv::Mat& bgr) {
  cv::Mat small;
  cv::Mat rgb;
  cv::Mat input;
  cv::resize(bgr, small, cv::Size(128, 128));
  cv::cvtColor(small, rgb, cv::COLOR_BGR2RGB);
  rgb.convertTo(input, CV_32F, 1.0 / 127.5, -1.0);
  const int shape[] = {1, 128, 128, 3};
  return cv::Mat(4, shape, CV_32F, input.data).clone();
}

struct Costs {
  double read_ms = 0;
  double preprocess_ms = 0;
  double forward_ms = 0;
};

// Single-threaded cost per frame of each step, over the whole video.
Costs MeasureCosts(const std::string& video, cv::dnn::Net& net) {
  cv::setNumThreads(1);
  std::vector<cv::Mat> frames;
  Costs costs;
  auto begin = Clock::now();
  cv::VideoCapture capture(video, cv::CAP_FFMPEG);
  for (cv::Mat frame; capture.read(frame);) frames.push_back(frame.clone());
  const double n = static_cast<double>(frames.size());
  costs.read_ms = Seconds(begin) * 1000 / n;
  std::vector<cv::Mat> blobs;
  begin = Clock::now();
  for (const auto& f : frames) blobs.push_back(Preprocess(f));
  costs.preprocess_ms = Seconds(begin) * 1000 / n;
  begin = Clock::now();
  const std::vector<cv::String> names = net.getUnconnectedOutLayersNames();
  for (const auto& b : blobs) {
    net.setInput(b);
    std::vector<cv::Mat> outputs;
    net.forward(outputs, names);
  }
  costs.forward_ms = Seconds(begin) * 1000 / n;
  cv::setNumThreads(-1);
  return costs;
}

// The baseline: one thread reads the N captures in turn and runs each frame (OpenCV's threads).
double LoopFps(const std::string& video, int streams, cv::dnn::Net& net) {
  std::vector<cv::VideoCapture> captures;
  for (int i = 0; i < streams; ++i) captures.emplace_back(video, cv::CAP_FFMPEG);
  const auto names = net.getUnconnectedOutLayersNames();
  long frames = 0;
  const auto begin = Clock::now();
  for (bool any = true; any;) {
    any = false;
    for (auto& capture : captures) {
      cv::Mat frame;
      if (!capture.read(frame)) continue;
      any = true;
      net.setInput(Preprocess(frame));
      std::vector<cv::Mat> outputs;
      net.forward(outputs, names);
      ++frames;
    }
  }
  return static_cast<double>(frames) / Seconds(begin);
}

struct PipelineResult {
  double fps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t faces = 0;
};

class CountFaces : public vstream::Module {
 public:
  using Module::Module;
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    faces += frame->objects.size();
    return {};
  }
  std::atomic<uint64_t> faces{0};
};
VSTREAM_REGISTER_MODULE(CountFaces);

PipelineResult PipelineFps(const std::string& video, int streams, int parallelism, int batch, double timeout_ms) {
  vstream::Pipeline pipeline;
  const std::string config = R"({
    "src": {"class_name": "DataSource", "next_modules": ["faces"], "custom_params": {"decoder_threads": 1}},
    "faces": {"class_name": "Inferencer", "parallelism": )" + std::to_string(parallelism) +
                             R"(, "next_modules": ["sink"], "custom_params": {
        "model_path": ")" + ModelPath() + R"(", "postproc_name": "blazeface", "resize": "stretch",
        "scale": 0.0078431373, "mean": "1,1,1", "batch_size": )" + std::to_string(batch) +
                             R"(, "batching_timeout": )" + std::to_string(timeout_ms) + R"(}},
    "sink": {"class_name": "CountFaces"}})";
  PipelineResult result;
  if (vstream::Status s = pipeline.BuildFromString(config); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    std::exit(1);
  }
  if (vstream::Status s = pipeline.Start(); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    std::exit(1);
  }
  const auto begin = Clock::now();
  for (int i = 0; i < streams; ++i) {
    if (vstream::Status s = pipeline.AddSource("s" + std::to_string(i), video); !s) {
      std::fprintf(stderr, "%s\n", s.message().c_str());
      std::exit(1);
    }
  }
  pipeline.WaitForStreams();
  const double seconds = Seconds(begin);
  if (vstream::Status stopped = pipeline.Stop(); !stopped) std::fprintf(stderr, "%s\n", stopped.message().c_str());
  const vstream::PipelineStats stats = pipeline.GetStats();
  uint64_t frames = 0;
  for (const auto& s : stats.streams) {
    frames += s.frames;
    result.p50_ms = std::max(result.p50_ms, s.latency_p50_ms);
    result.p99_ms = std::max(result.p99_ms, s.latency_p99_ms);
  }
  result.fps = static_cast<double>(frames) / seconds;
  result.faces = pipeline.GetModule<CountFaces>("sink")->faces;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string video = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";
  int streams = 4;
  int runs = 3;
  int parallelism = 2;
  int batch = 4;
  double timeout_ms = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--video")) video = argv[i + 1];
    if (!std::strcmp(argv[i], "--streams")) streams = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::max(1, std::atoi(argv[i + 1]));
    if (!std::strcmp(argv[i], "--parallelism")) parallelism = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--batch")) batch = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--timeout-ms")) timeout_ms = std::atof(argv[i + 1]);
  }
  vstream::SetLogLevel(vstream::LogLevel::kWarn);
  if (!std::filesystem::exists(ModelPath())) {
    std::fprintf(stderr, "%s is missing: run scripts/fetch_models.sh\n", ModelPath().c_str());
    return 1;
  }
  const unsigned cores = std::thread::hardware_concurrency();
  cv::dnn::Net net = cv::dnn::readNetFromONNX(ModelPath());
  const Costs costs = MeasureCosts(video, net);
  const double per_frame = costs.read_ms + costs.preprocess_ms + costs.forward_ms;
  const double limit = cores * 1000.0 / per_frame;
  std::printf("BlazeFace 128x128 on %s x%d streams, %u cores\n", video.c_str(), streams, cores);
  std::printf("single-thread ms per frame: read %.3f + preprocess %.3f + forward %.3f = %.3f\n", costs.read_ms,
              costs.preprocess_ms, costs.forward_ms, per_frame);
  std::printf("limit: %u cores / %.3f ms = %.1f frames/s\n\n", cores, per_frame, limit);

  std::vector<double> loop;
  std::vector<PipelineResult> ours;
  for (int r = 0; r < runs; ++r) {
    loop.push_back(LoopFps(video, streams, net));
    ours.push_back(PipelineFps(video, streams, parallelism, batch, timeout_ms));
  }
  std::sort(loop.begin(), loop.end());
  std::sort(ours.begin(), ours.end(), [](const auto& a, const auto& b) { return a.fps < b.fps; });
  const double loop_fps = loop[loop.size() / 2];
  const PipelineResult& mid = ours[ours.size() / 2];
  const std::string header = "median of " + std::to_string(runs) + " runs";
  std::printf("%-60s %10s %10s %10s\n", header.c_str(), "frames/s", "x loop", "x limit");
  std::printf("%-60s %10.1f %10.2f %10.2f\n", "OpenCV loop (VideoCapture, resize, blob, forward)", loop_fps, 1.0,
              loop_fps / limit);
  const std::string name = "vstream (parallelism " + std::to_string(parallelism) + ", batch " + std::to_string(batch) +
                           ", batching_timeout " + std::to_string(static_cast<int>(timeout_ms)) + " ms)";
  std::printf("%-60s %10.1f %10.2f %10.2f\n", name.c_str(), mid.fps, mid.fps / loop_fps, mid.fps / limit);
  std::printf("vstream end-to-end latency per frame: p50 %.1f ms, p99 %.1f ms; faces found: %llu\n", mid.p50_ms,
              mid.p99_ms, static_cast<unsigned long long>(mid.faces));
  return 0;
}
