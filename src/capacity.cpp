#include "vstream/capacity.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "graph_validation.hpp"
#include "vstream/config.hpp"
#include "vstream/text.hpp"

namespace vstream {

int64_t ConfigCapacity::Frames(int64_t streams) const {
  const int64_t all = frames + frames_per_stream * std::max<int64_t>(0, streams);
  return frames_limit ? std::min(all, *frames_limit) : all;
}

uint64_t ConfigCapacity::Bytes(int64_t streams) const {
  uint64_t frame_bytes_all = bytes - shared_memory_bytes + bytes_per_stream * static_cast<uint64_t>(std::max<int64_t>(0, streams));
  if (frames_limit) frame_bytes_all = std::min(frame_bytes_all, static_cast<uint64_t>(*frames_limit) * frame_bytes);
  return shared_memory_bytes + frame_bytes_all;
}

namespace {

// A source's frames: the image its parameters fix, the rest assumed.
struct Geometry {
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kNone;
  bool size_assumed = false;
  uint64_t bytes() const { return VideoFrame::PackedSize(width, height, format); }
};

// The sending ends of one channel, over all configs.
struct Sender {
  size_t config;
  std::string module;
  int64_t max_frames;
  std::string limited_by;
};

struct ConfigWork {
  detail::ValidatedGraph graph;
  std::vector<HeldFrames> held;  // per module, in config order
  Geometry geometry;
};

Geometry SourceGeometry(const HeldFrames& held, const CapacityOptions& options) {
  Geometry g;
  if (held.without_image) return g;
  g.size_assumed = held.width <= 0 || held.height <= 0;
  g.width = g.size_assumed ? options.assumed_width : held.width;
  g.height = g.size_assumed ? options.assumed_height : held.height;
  g.format = held.format != PixelFormat::kNone ? held.format : options.assumed_format;
  return g;
}

// The larger of two geometries by bytes (the worst case); ties keep `a`.
Geometry Larger(const Geometry& a, const Geometry& b) { return b.bytes() > a.bytes() ? b : a; }

std::string SenderList(const std::vector<const Sender*>& senders, const std::vector<const GraphConfig*>& configs) {
  std::vector<std::string> names;
  for (const Sender* s : senders) {
    names.push_back("'" + Excerpt(s->module) + "' in " + Excerpt(configs[s->config]->origin) + " (" + s->limited_by +
                    " " + std::to_string(s->max_frames) + ")");
  }
  return Join(names, ", ");
}

}  // namespace

Status ComputeCapacity(const std::vector<const GraphConfig*>& configs, const CapacityOptions& options,
                       std::vector<ConfigCapacity>* out) {
  std::vector<ConfigWork> work(configs.size());
  std::map<std::string, std::vector<Sender>> senders;  // channel name -> its sending ends
  for (size_t c = 0; c < configs.size(); ++c) {
    if (Status s = detail::ValidateGraph(*configs[c], &work[c].graph); !s) return s;
    for (const auto& module : work[c].graph.modules) {
      HeldFrames held = module.entry->frames_held ? module.entry->frames_held(module.params) : HeldFrames{};
      if (!held.channel.name.empty() && held.channel.sends) {
        senders[held.channel.name].push_back({c, module.config->name, held.channel.max_frames, held.channel.limited_by});
      }
      work[c].held.push_back(std::move(held));
    }
  }
  // The senders of a receiving source, over all configs.
  auto senders_of = [&](const HeldFrames& held) {
    std::vector<const Sender*> found;
    if (held.channel.name.empty() || held.channel.sends) return found;
    if (auto it = senders.find(held.channel.name); it != senders.end()) {
      for (const Sender& s : it->second) found.push_back(&s);
    }
    return found;
  };

  // Frame sizes: each config's largest source; a receiving source takes its senders' configs'
  // size, which may come from a receiver in turn (a chain of processes): settle it in rounds,
  // starting from the assumed size (which stays where receivers only feed each other).
  for (ConfigWork& w : work) w.geometry = SourceGeometry(HeldFrames{}, options);
  for (size_t round = 0; round <= configs.size(); ++round) {
    for (ConfigWork& w : work) {
      Geometry largest;
      bool any = false;
      for (size_t m = 0; m < w.graph.modules.size(); ++m) {
        if (!w.graph.modules[m].is_source) continue;
        Geometry g = SourceGeometry(w.held[m], options);
        if (const auto from = senders_of(w.held[m]); !from.empty()) {
          Geometry sent;
          for (size_t i = 0; i < from.size(); ++i) {
            sent = i == 0 ? work[from[i]->config].geometry : Larger(sent, work[from[i]->config].geometry);
          }
          g = sent;
        }
        largest = any ? Larger(largest, g) : g;
        any = true;
      }
      w.geometry = largest;
    }
  }

  std::vector<ConfigCapacity> results;
  for (size_t c = 0; c < configs.size(); ++c) {
    const ConfigWork& w = work[c];
    const auto& modules = w.graph.modules;
    ConfigCapacity result;
    result.origin = configs[c]->origin;
    result.width = w.geometry.width;
    result.height = w.geometry.height;
    result.format = w.geometry.format;
    result.size_assumed = w.geometry.size_assumed;
    result.frame_bytes = w.geometry.bytes();

    // Frames: every worker's queue, the frame in its hands and what it keeps; what sources keep.
    int64_t shared_memory_slots = 0;
    for (size_t m = 0; m < modules.size(); ++m) {
      const detail::ValidatedModule& module = modules[m];
      const HeldFrames& held = w.held[m];
      ModuleCapacity mc;
      mc.name = module.config->name;
      mc.class_name = module.entry->class_name;
      mc.is_source = module.is_source;
      mc.declared = held;
      if (module.is_source) {
        mc.held = held.per_module;
        result.frames_per_stream = std::max(result.frames_per_stream, held.per_stream);
      } else {
        mc.workers = module.config->parallelism;
        mc.queued = int64_t{mc.workers} * module.config->max_input_queue_size;
        mc.in_hand = mc.workers;
        mc.held = int64_t{mc.workers} * held.per_worker;
      }
      shared_memory_slots += held.shared_memory_slots;
      result.frames += mc.frames();
      result.modules.push_back(std::move(mc));
    }
    // Every frame of a process whose sources all receive from known senders sits in one of their slots.
    int64_t slots = 0;
    bool all_received = true;
    std::set<std::string> channels;
    for (size_t m = 0; m < modules.size(); ++m) {
      if (!modules[m].is_source) continue;
      const auto from = senders_of(w.held[m]);
      if (from.empty()) {
        all_received = false;
        continue;
      }
      if (!channels.insert(w.held[m].channel.name).second) continue;
      for (const Sender* s : from) slots += s->max_frames;
    }
    if (all_received && !channels.empty()) result.frames_limit = slots;

    // Bytes. A source with a buffer pool keeps, per stream, the buffers of the most frames the
    // stream had in flight (up to the pool's size): its frames in flight are those buffers, and
    // only frames past the pool's size take memory of their own. Frames in shared memory take
    // none here (their sender's slots count them). Frames of other sources take their own memory
    // wherever they wait.
    const uint64_t picture_bytes = uint64_t{static_cast<uint64_t>(w.geometry.width)} *
                                   static_cast<uint64_t>(w.geometry.height) * 3 / 2;
    int64_t unpooled_frames = 0;
    for (size_t m = 0; m < modules.size(); ++m) {
      if (!modules[m].is_source) continue;
      const HeldFrames& held = w.held[m];
      uint64_t per_stream = 0;
      if (held.frames_in_shared_memory) {
        // Nothing of its own.
      } else if (held.pool_per_stream > 0) {
        const int64_t stream_frames = result.frames + held.per_stream;  // all of them one stream's
        per_stream = static_cast<uint64_t>(std::min(held.pool_per_stream, stream_frames)) * result.frame_bytes;
        unpooled_frames = std::max(unpooled_frames, stream_frames - held.pool_per_stream);
      } else {
        per_stream = static_cast<uint64_t>(held.per_stream) * result.frame_bytes;
        unpooled_frames = std::max(unpooled_frames, result.frames);
      }
      per_stream += static_cast<uint64_t>(held.decoder_pictures_per_stream) * picture_bytes;
      result.bytes_per_stream = std::max(result.bytes_per_stream, per_stream);
    }
    result.shared_memory_bytes = static_cast<uint64_t>(shared_memory_slots) * result.frame_bytes;
    result.bytes = static_cast<uint64_t>(unpooled_frames) * result.frame_bytes + result.shared_memory_bytes;

    // A module that waits for more frames than the process can ever hold waits every time.
    std::vector<std::vector<size_t>> reached_by(modules.size());  // the sources upstream of each module
    for (size_t m = 0; m < modules.size(); ++m) {
      if (!modules[m].is_source) continue;
      std::vector<bool> seen(modules.size(), false);
      std::vector<size_t> stack{m};
      while (!stack.empty()) {
        const size_t v = stack.back();
        stack.pop_back();
        if (seen[v]) continue;
        seen[v] = true;
        reached_by[v].push_back(m);
        for (size_t child : modules[v].children) stack.push_back(child);
      }
    }
    for (size_t m = 0; m < modules.size(); ++m) {
      const HeldFrames& held = w.held[m];
      if (held.collects <= 0 || held.collect_timeout_ms == 0 || reached_by[m].empty()) continue;
      int64_t available = 0;
      std::vector<const Sender*> limiting;
      std::set<std::string> counted;
      bool bounded = true;
      for (size_t source : reached_by[m]) {
        const auto from = senders_of(w.held[source]);
        if (from.empty()) {
          bounded = false;  // a source of its own makes as many frames as the queues take
          break;
        }
        if (!counted.insert(w.held[source].channel.name).second) continue;
        for (const Sender* s : from) {
          available += s->max_frames;
          limiting.push_back(s);
        }
      }
      if (!bounded || available >= held.collects) continue;
      const std::string collects = std::to_string(held.collects);
      std::string message = "module '" + Excerpt(modules[m].config->name) + "' (" + modules[m].entry->class_name +
                            ") waits for " + collects + " frames" +
                            (held.collects_param.empty() ? "" : " (its " + held.collects_param + ")") +
                            " before it works on them, but at most " + std::to_string(available) +
                            " can be in this process at once, as many as the clients that send them have slots: " +
                            SenderList(limiting, configs) + ". ";
      if (held.collect_timeout_ms < 0) {
        message += "It waits until they come, so the pipeline stops for good (a deadlock)";
      } else {
        message += "Each time it waits its whole timeout (" + FormatNumber(held.collect_timeout_ms) +
                   " ms) for frames that cannot come, so it starves";
      }
      const std::string& slots_param = limiting.front()->limited_by;
      message += "; give the clients " + collects + " slots or more in all" +
                 (slots_param.empty() ? "" : " (" + slots_param + ")") +
                 (held.collects_param.empty() ? "" : ", or lower " + held.collects_param);
      result.warnings.push_back(std::move(message));
    }
    results.push_back(std::move(result));
  }
  *out = std::move(results);
  return Status::Ok();
}

}  // namespace vstream
