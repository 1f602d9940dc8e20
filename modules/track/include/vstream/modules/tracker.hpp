// Tracker: gives the objects of each stream stable track ids across frames (IoU matching with a
// constant-velocity prediction, SORT-style without the Kalman filter).
//
// Per stream, every frame's detections are matched to the current tracks by the overlap (IoU) of
// the detection with the track's predicted box, greedily, best first, same label only. A matched
// detection takes the track's id; an unmatched one starts a new track; a track unmatched for
// `max_age` frames ends. Ids are unique within a stream and never reused.
//
//   "track": { "class_name": "Tracker", "custom_params": { "iou_threshold": 0.3, "max_age": 30 } }
#pragma once

#include <map>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT Tracker : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

 private:
  struct Track {
    int64_t id;
    int label_id;
    std::string label;
    BoundingBox box;
    float vx = 0;  // box movement per frame
    float vy = 0;
    int hits = 1;
    int misses = 0;
  };
  struct StreamTracks {
    std::vector<Track> tracks;
    int64_t next_id = 1;
  };

  float iou_threshold_ = 0.3f;
  int max_age_ = 30;
  int min_hits_ = 1;
  PerStreamState<StreamTracks> streams_;
};

}  // namespace vstream
