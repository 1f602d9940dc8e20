// Stats: a snapshot of what a pipeline is doing, per module and per stream (Pipeline::GetStats).
//
// Counters are totals since Start; fps values are averages since Start (diff two snapshots for the
// rate over an interval). Latencies are percentiles of every measurement since Start, in
// milliseconds: per module the time inside Process (or, for a module that forwards frames itself,
// the work time it reports with RecordProcessingTime, as the Inferencer does), per stream the time
// from frame creation to the end of the last module (end to end).
//
//   vstream::PipelineStats stats = pipeline.GetStats();
//   std::cout << stats.ToTable();
#pragma once

#include "vstream/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vstream {

struct VSTREAM_EXPORT ModuleStats {
  std::string name;
  std::string class_name;
  int parallelism = 0;           // 0 for sources
  uint64_t frames_in = 0;        // frames handed to Process (EOS frames included)
  uint64_t frames_out = 0;       // frames forwarded downstream (or completed, at a leaf)
  uint64_t frames_skipped = 0;   // bypassed Process (skip_if)
  uint64_t frames_dropped = 0;   // dropped by the queue policy
  uint64_t errors = 0;           // Process returned < 0 or threw
  size_t queue_depth = 0;        // frames waiting now, over all workers
  size_t queue_capacity = 0;     // parallelism * max_input_queue_size
  double latency_p50_ms = 0;
  double latency_p99_ms = 0;
  double fps = 0;                // frames_in per second since Start
};

struct VSTREAM_EXPORT StreamStats {
  std::string stream_id;
  uint64_t frames = 0;           // frames the source produced
  uint64_t frames_completed = 0; // frames that reached the end of a leaf module
  uint64_t frames_dropped = 0;
  double fps = 0;                // frames per second since the stream's first frame
  double latency_p50_ms = 0;     // end to end
  double latency_p99_ms = 0;
  bool finished = false;         // EOS passed every module
  std::string error;             // the last stream error, if any
};

struct VSTREAM_EXPORT PipelineStats {
  double uptime_s = 0;
  std::vector<ModuleStats> modules;
  std::vector<StreamStats> streams;

  /// A fixed-width text table of modules and streams, for terminals and logs. With `previous` (an
  /// earlier snapshot of the same pipeline) the fps columns are the rates since that snapshot.
  std::string ToTable(const PipelineStats* previous = nullptr) const;
  /// The snapshot as one JSON object.
  std::string ToJson() const;
};

}  // namespace vstream
