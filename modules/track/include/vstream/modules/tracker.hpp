// Tracker: gives the objects of each stream stable track ids across frames (SORT/ByteTrack-style:
// a Kalman filter per track, and IoU matching with an optimal assignment in two passes by score).
//
// Per stream, every track's box is predicted one frame ahead (constant velocity of its centre and
// size); the frame's confident detections are then paired with the tracks by the overlap (IoU) of
// detection and predicted box, same label only, maximizing the total overlap; the tracks left over
// get a second chance with the less confident detections. A matched detection takes the track's
// id; an unmatched confident one starts a new track; a track unmatched for more than `max_age`
// frames ends. Ids are unique within a stream and never reused.
//
//   "track": { "class_name": "Tracker", "custom_params": { "iou_threshold": 0.3, "max_age": 30 } }
#pragma once

#include <memory>
#include <string>

#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

namespace detail {
struct TrackerStream;
}  // namespace detail

class VSTREAM_EXPORT Tracker : public Module {
 public:
  using Module::Module;
  ~Tracker() override;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

 private:
  float iou_threshold_ = 0.3f;
  int max_age_ = 30;
  int min_hits_ = 1;
  float high_threshold_ = 0.5f;
  float low_threshold_ = 0.1f;
  // One map per worker (a stream always goes to the same worker): no lock needed.
  PerStreamState<std::unique_ptr<detail::TrackerStream>> streams_;
};

}  // namespace vstream
