// Osd: draws what the pipeline found onto the frames: boxes, labels, scores, track ids, keypoints
// and each stream's frame rate.
//
// It draws on the frame's image (BGR24 or RGB24; other formats are converted to BGR24 first), so
// modules after it see the drawing. Branches that a fan-out above it also feeds do not: there it
// draws on a copy of its own (Module::MakeWritable). Put it on the branch that encodes or displays,
// after any module that joins branches again.
//
//   "osd": { "class_name": "Osd", "next_modules": ["encode"], "custom_params": { "show_fps": true } }
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "vstream/detected_object.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT Osd : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

 private:
  /// The text for an object's label: label_path's line for its id, else its own label, else its id.
  std::string LabelOf(const DetectedObject& object) const;

  struct Rate {
    std::chrono::steady_clock::time_point window_start;
    int frames = 0;
    double fps = 0;
  };
  int thickness_ = 2;
  double font_scale_ = 0.5;
  bool labels_ = true;
  bool scores_ = true;
  bool track_ids_ = true;
  bool keypoints_ = true;
  bool fps_ = true;
  std::vector<std::string> label_names_;  // label_path's lines (set in Open, read-only after)
  PerStreamState<Rate> rates_;
};

}  // namespace vstream
