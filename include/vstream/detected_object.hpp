// DetectedObject: one thing found in a frame (a face, a car), with where, what, and how sure.
//
// Boxes are normalized to the frame: x, y, w, h in [0, 1] of the frame's width and height, so they
// stay right whatever the resolution a module works at. Trackers set track_id; secondary models
// add attributes (text) and features (vectors).
//
//   vstream::DetectedObject face;
//   face.box = {0.25f, 0.10f, 0.20f, 0.30f};
//   face.label = "face"; face.label_id = 0; face.score = 0.93f;
#pragma once

#include "vstream/export.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vstream {

struct VSTREAM_EXPORT BoundingBox {
  float x = 0;  // left, fraction of the frame width
  float y = 0;  // top, fraction of the frame height
  float w = 0;
  float h = 0;
};

struct VSTREAM_EXPORT DetectedObject {
  BoundingBox box;
  int label_id = -1;
  std::string label;
  float score = 0;
  int64_t track_id = -1;  // -1 until a tracker assigns one
  std::map<std::string, std::string> attributes;
  std::map<std::string, std::vector<float>> features;
};

}  // namespace vstream
