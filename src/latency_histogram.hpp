// LatencyHistogram: lock-free recording of durations, with percentiles read at any time.
//
// Buckets are powers of two of nanoseconds, each split into 32 linear sub-buckets, so a percentile
// never reads low and reads at most 1/32 (3.1%) high, from 1 ns to 2^45 ns (9.7 hours); below
// 32 ns values are exact. Record() is two relaxed atomic increments: cheap enough for every frame
// at every module. A histogram is 10.5 KB.
//
//   LatencyHistogram h;  h.Record(std::chrono::microseconds(250));
//   double p99_ms = h.PercentileMs(0.99);
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

namespace vstream::detail {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kOctaves = 41;
  static constexpr int kBuckets = kOctaves * kSub;

  void Record(std::chrono::nanoseconds duration) {
    const uint64_t ns = duration.count() < 1 ? 1 : static_cast<uint64_t>(duration.count());
    buckets_[Index(ns)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  /// The value (ms) below which a fraction `q` of the recorded durations lie; 0 when empty.
  double PercentileMs(double q) const {
    std::array<uint64_t, kBuckets> snapshot;
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; ++i) {
      snapshot[i] = buckets_[i].load(std::memory_order_relaxed);
      total += snapshot[i];
    }
    if (total == 0) return 0;
    const uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += snapshot[i];
      if (seen >= rank) return static_cast<double>(UpperBound(i)) / 1e6;
    }
    return static_cast<double>(UpperBound(kBuckets - 1)) / 1e6;
  }

 private:
  static int Index(uint64_t ns) {
    const int octave = 63 - std::countl_zero(ns);  // floor(log2(ns))
    if (octave < kSubBits) return static_cast<int>(ns);  // below 2^kSubBits ns: exact
    const int sub = static_cast<int>((ns >> (octave - kSubBits)) & (kSub - 1));
    const int index = (octave - kSubBits + 1) * kSub + sub;
    return index < kBuckets ? index : kBuckets - 1;
  }

  // The largest value that falls into bucket `index` (so percentiles never under-report).
  static uint64_t UpperBound(int index) {
    if (index < kSub) return static_cast<uint64_t>(index);
    const int octave = index / kSub - 1 + kSubBits;
    const uint64_t sub = static_cast<uint64_t>(index % kSub);
    const uint64_t base = (uint64_t{1} << octave) + (sub << (octave - kSubBits));
    return base + (uint64_t{1} << (octave - kSubBits)) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
};

}  // namespace vstream::detail
