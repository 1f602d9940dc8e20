#include "vstream/stats.hpp"

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace vstream {
namespace {
std::string Format(const char* format, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), format, args...);
  return buffer;
}

std::string Clip(const std::string& text, size_t width) {
  return text.size() <= width ? text : text.substr(0, width - 1) + "~";
}
}  // namespace

std::string PipelineStats::ToTable(const PipelineStats* previous) const {
  const double interval = previous != nullptr ? uptime_s - previous->uptime_s : 0;
  const bool rates = interval > 0;
  // Rate over the interval when there is an earlier snapshot, else the average since Start.
  auto module_fps = [&](size_t i, const ModuleStats& m) {
    if (!rates || i >= previous->modules.size() || previous->modules[i].name != m.name) return m.fps;
    const auto& p = previous->modules[i];
    const uint64_t now = m.parallelism == 0 ? m.frames_out : m.frames_in;
    const uint64_t before = p.parallelism == 0 ? p.frames_out : p.frames_in;
    return static_cast<double>(now - before) / interval;
  };
  auto stream_fps = [&](const StreamStats& s) {
    if (!rates) return s.fps;
    for (const auto& p : previous->streams) {
      if (p.stream_id == s.stream_id) return static_cast<double>(s.frames - p.frames) / interval;
    }
    return s.fps;
  };
  std::string out = Format("uptime %.1f s%s\n", uptime_s, rates ? Format(" (fps over the last %.1f s)", interval).c_str() : "");
  out += Format("%-24s %-14s %4s %10s %10s %8s %7s %7s %11s %9s %9s %8s\n", "module", "class", "par", "in", "out",
                "fps", "skip", "drop", "queue", "p50 ms", "p99 ms", "errors");
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleStats& m = modules[i];
    const std::string queue = m.queue_capacity == 0 ? "-" : Format("%zu/%zu", m.queue_depth, m.queue_capacity);
    out += Format("%-24s %-14s %4d %10llu %10llu %8.1f %7llu %7llu %11s %9.3f %9.3f %8llu\n", Clip(m.name, 24).c_str(),
                  Clip(m.class_name, 14).c_str(), m.parallelism, static_cast<unsigned long long>(m.frames_in),
                  static_cast<unsigned long long>(m.frames_out), module_fps(i, m), static_cast<unsigned long long>(m.frames_skipped),
                  static_cast<unsigned long long>(m.frames_dropped), queue.c_str(), m.latency_p50_ms, m.latency_p99_ms,
                  static_cast<unsigned long long>(m.errors));
  }
  if (!streams.empty()) {
    out += Format("%-24s %10s %10s %8s %7s %9s %9s %-8s %s\n", "stream", "frames", "done", "fps", "drop", "p50 ms",
                  "p99 ms", "state", "error");
    for (const auto& s : streams) {
      out += Format("%-24s %10llu %10llu %8.1f %7llu %9.3f %9.3f %-8s %s\n", Clip(s.stream_id, 24).c_str(),
                    static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.frames_completed),
                    stream_fps(s), static_cast<unsigned long long>(s.frames_dropped), s.latency_p50_ms, s.latency_p99_ms,
                    s.finished ? "finished" : "running", s.error.c_str());
    }
  }
  return out;
}

std::string PipelineStats::ToJson() const {
  nlohmann::ordered_json root;
  root["uptime_s"] = uptime_s;
  root["modules"] = nlohmann::ordered_json::array();
  for (const auto& m : modules) {
    root["modules"].push_back({{"name", m.name},
                               {"class_name", m.class_name},
                               {"parallelism", m.parallelism},
                               {"frames_in", m.frames_in},
                               {"frames_out", m.frames_out},
                               {"frames_skipped", m.frames_skipped},
                               {"frames_dropped", m.frames_dropped},
                               {"errors", m.errors},
                               {"queue_depth", m.queue_depth},
                               {"queue_capacity", m.queue_capacity},
                               {"latency_p50_ms", m.latency_p50_ms},
                               {"latency_p99_ms", m.latency_p99_ms},
                               {"fps", m.fps}});
  }
  root["streams"] = nlohmann::ordered_json::array();
  for (const auto& s : streams) {
    root["streams"].push_back({{"stream_id", s.stream_id},
                               {"frames", s.frames},
                               {"frames_completed", s.frames_completed},
                               {"frames_dropped", s.frames_dropped},
                               {"fps", s.fps},
                               {"latency_p50_ms", s.latency_p50_ms},
                               {"latency_p99_ms", s.latency_p99_ms},
                               {"finished", s.finished},
                               {"error", s.error}});
  }
  return root.dump();
}

}  // namespace vstream
