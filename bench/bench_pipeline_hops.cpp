// Framework cost per module hop: frames/s through chains of 1, 4 and 8 pass-through modules
// (parallelism 1 and 2; 1 and 16 streams), next to a bare chain of the same length built from
// textbook mutex + condition-variable bounded queues with one thread per stage, in one run.
//
// per-hop cost = wall time / (frames * hops); ratio = vstream / bare (lower is better). Each
// figure is the median of `runs` runs, the two kinds interleaved so that both see the same noise.
//
//   build/bench/bench_pipeline_hops [frames] [runs]     (defaults 200000 and 5)
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vstream/vstream.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// The baseline: a plain bounded queue as anyone would write it.
template <typename T>
class PlainQueue {
 public:
  explicit PlainQueue(size_t capacity) : capacity_(capacity) {}
  void Push(T item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_; });
    items_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  T Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty(); });
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
};

double BareChainSeconds(int hops, int streams, int64_t frames, size_t queue_size) {
  std::vector<std::unique_ptr<PlainQueue<vstream::FramePtr>>> queues;
  for (int i = 0; i < hops; ++i) queues.push_back(std::make_unique<PlainQueue<vstream::FramePtr>>(queue_size));
  std::vector<std::string> ids;
  for (int s = 0; s < streams; ++s) ids.push_back("stream_" + std::to_string(s));
  const auto begin = Clock::now();
  std::vector<std::thread> stages;
  for (int i = 0; i < hops; ++i) {
    stages.emplace_back([&, i] {
      while (true) {
        vstream::FramePtr frame = queues[i]->Pop();
        if (frame == nullptr) {  // end marker
          if (i + 1 < hops) queues[i + 1]->Push(nullptr);
          return;
        }
        if (i + 1 < hops) queues[i + 1]->Push(std::move(frame));
      }
    });
  }
  for (int64_t n = 0; n < frames; ++n) {
    queues[0]->Push(vstream::Frame::Create(ids[n % streams], n / streams));
  }
  queues[0]->Push(nullptr);
  for (auto& t : stages) t.join();
  return std::chrono::duration<double>(Clock::now() - begin).count();
}

double VstreamSeconds(int hops, int parallelism, int streams, int64_t frames, size_t queue_size) {
  std::string config = R"({"source": {"class_name": "SyntheticSource", "next_modules": ["m0"],
      "custom_params": {"streams": )" + std::to_string(streams) + R"(, "frames": )" +
                       std::to_string(frames / streams) + R"(, "width": 0, "height": 0}})";
  for (int i = 0; i < hops; ++i) {
    config += R"(, "m)" + std::to_string(i) + R"(": {"class_name": "PassThrough", "parallelism": )" +
              std::to_string(parallelism) + R"(, "max_input_queue_size": )" + std::to_string(queue_size);
    if (i + 1 < hops) config += R"(, "next_modules": ["m)" + std::to_string(i + 1) + R"("])";
    config += "}";
  }
  config += "}";
  vstream::Pipeline pipeline;
  if (vstream::Status s = pipeline.BuildFromString(config); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    std::exit(1);
  }
  const auto begin = Clock::now();
  if (vstream::Status s = pipeline.Start(); !s) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    std::exit(1);
  }
  pipeline.WaitForStreams();
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  if (vstream::Status stopped = pipeline.Stop(); !stopped) std::fprintf(stderr, "%s\n", stopped.message().c_str());
  return seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t frames = argc > 1 ? std::atoll(argv[1]) : 200000;
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  constexpr size_t kQueueSize = 20;  // vstream's default max_input_queue_size
  vstream::SetLogLevel(vstream::LogLevel::kWarn);
  std::printf("frames per run: %lld, median of %d runs, queue size %zu, %u hardware threads\n",
              static_cast<long long>(frames), runs, kQueueSize, std::thread::hardware_concurrency());
  std::printf("%5s %4s %8s | %12s %10s | %12s %10s | %6s\n", "hops", "par", "streams", "vstream f/s", "us/hop",
              "bare f/s", "us/hop", "ratio");
  for (int hops : {1, 4, 8}) {
    for (int parallelism : {1, 2}) {
      for (int streams : {1, 16}) {
        std::vector<double> bare_runs;
        std::vector<double> our_runs;
        for (int r = 0; r < runs; ++r) {
          bare_runs.push_back(BareChainSeconds(hops, streams, frames, kQueueSize));
          our_runs.push_back(VstreamSeconds(hops, parallelism, streams, frames, kQueueSize));
        }
        const double bare = Median(bare_runs);
        const double ours = Median(our_runs);
        const double ours_hop_us = ours / static_cast<double>(frames * hops) * 1e6;
        const double bare_hop_us = bare / static_cast<double>(frames * hops) * 1e6;
        std::printf("%5d %4d %8d | %12.0f %10.3f | %12.0f %10.3f | %6.2f\n", hops, parallelism, streams,
                    static_cast<double>(frames) / ours, ours_hop_us, static_cast<double>(frames) / bare, bare_hop_us,
                    ours / bare);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
