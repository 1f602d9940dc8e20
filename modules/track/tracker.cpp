#include "vstream/modules/tracker.hpp"

#include <algorithm>

#include "vstream/geometry.hpp"
#include "vstream/registry.hpp"

namespace vstream {

ModuleDescription Tracker::Describe() {
  return {"Assigns stable track ids to the objects of each stream (IoU matching with motion prediction).",
          {ParamSpec::Double("iou_threshold", 0.3, "least overlap between a detection and a track's predicted box")
               .Range(0.01, 1),
           ParamSpec::Int("max_age", 30, "frames a track survives without a matching detection").Range(0, 100000),
           ParamSpec::Int("min_hits", 1,
                          "matched frames before a track's id is shown (track_id stays -1 until then)")
               .Range(1, 1000)},
          R"(For each frame, the tracks of its stream are moved by their last per-frame motion, then matched
to the frame's objects of the same label, the pair with the largest IoU first, as long as it is at
least `iou_threshold`. Matched objects get the track's `track_id` and the track follows them
(smoothed motion); unmatched objects start new tracks; tracks unmatched for more than `max_age`
frames end. A stream's tracks end with its EOS. Frames with no objects (for example frames an
Inferencer skipped with `infer_interval`) age the tracks like frames where nothing was found.)"};
}

Status Tracker::Open(const ModuleParams& params) {
  iou_threshold_ = static_cast<float>(params.GetDouble("iou_threshold"));
  max_age_ = static_cast<int>(params.GetInt("max_age"));
  min_hits_ = static_cast<int>(params.GetInt("min_hits"));
  streams_.Reset(parallelism());
  return {};
}

void Tracker::Close() { streams_.Clear(); }

Status Tracker::Process(FramePtr frame) {
  if (frame->IsEos()) {
    streams_.Erase(frame->stream_id);
    return {};
  }
  StreamTracks& state = streams_[frame->stream_id];
  auto lock = frame->LockObjects();
  std::vector<DetectedObject>& objects = frame->objects;

  // Candidate pairs (track, object) with their IoU against the predicted box, best first.
  struct Pair {
    float iou;
    size_t track;
    size_t object;
  };
  std::vector<Pair> pairs;
  for (size_t t = 0; t < state.tracks.size(); ++t) {
    const Track& track = state.tracks[t];
    const BoundingBox predicted{track.box.x + track.vx, track.box.y + track.vy, track.box.w, track.box.h};
    for (size_t o = 0; o < objects.size(); ++o) {
      if (objects[o].label_id != track.label_id || objects[o].label != track.label) continue;
      const float iou = IntersectionOverUnion(predicted, objects[o].box);
      if (iou >= iou_threshold_) pairs.push_back({iou, t, o});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  std::vector<bool> track_used(state.tracks.size(), false);
  std::vector<bool> object_used(objects.size(), false);
  for (const Pair& p : pairs) {
    if (track_used[p.track] || object_used[p.object]) continue;
    track_used[p.track] = object_used[p.object] = true;
    Track& track = state.tracks[p.track];
    const BoundingBox& box = objects[p.object].box;
    // Smoothed motion of the box centre per frame.
    const float dx = (box.x + box.w / 2) - (track.box.x + track.box.w / 2);
    const float dy = (box.y + box.h / 2) - (track.box.y + track.box.h / 2);
    track.vx = 0.5f * track.vx + 0.5f * dx;
    track.vy = 0.5f * track.vy + 0.5f * dy;
    track.box = box;
    ++track.hits;
    track.misses = 0;
    objects[p.object].track_id = track.hits >= min_hits_ ? track.id : -1;
  }
  for (size_t t = 0; t < state.tracks.size(); ++t) {
    if (!track_used[t]) ++state.tracks[t].misses;
  }
  state.tracks.erase(std::remove_if(state.tracks.begin(), state.tracks.end(),
                                    [&](const Track& track) { return track.misses > max_age_; }),
                     state.tracks.end());
  for (size_t o = 0; o < objects.size(); ++o) {
    if (object_used[o]) continue;
    Track track{state.next_id++, objects[o].label_id, objects[o].label, objects[o].box};
    objects[o].track_id = min_hits_ <= 1 ? track.id : -1;
    state.tracks.push_back(std::move(track));
  }
  return {};
}

VSTREAM_REGISTER_MODULE(Tracker);

}  // namespace vstream
