// Box geometry on normalized boxes (BoundingBox: x, y, w, h as fractions of the frame), shared by
// detectors, trackers and drawing modules, built-in or yours. Header-only.
//
//   float overlap = vstream::IntersectionOverUnion(a.box, b.box);   // 0 (apart) .. 1 (same box)
//   vstream::BoundingBox inside = vstream::ClampToFrame(box);       // cut to [0, 1] x [0, 1]
//   vstream::PixelRect r = vstream::ToPixels(box, 1920, 1080);      // in pixels, inside the image
#pragma once

#include <algorithm>
#include <cmath>

#include "vstream/detected_object.hpp"

namespace vstream {

inline float Area(const BoundingBox& box) { return std::max(0.0f, box.w) * std::max(0.0f, box.h); }

/// The overlap of two boxes (w or h 0 when they do not overlap).
inline BoundingBox Intersection(const BoundingBox& a, const BoundingBox& b) {
  const float x1 = std::max(a.x, b.x);
  const float y1 = std::max(a.y, b.y);
  const float x2 = std::min(a.x + a.w, b.x + b.w);
  const float y2 = std::min(a.y + a.h, b.y + b.h);
  return {x1, y1, std::max(0.0f, x2 - x1), std::max(0.0f, y2 - y1)};
}

/// Area of the overlap over area of the union; 0 when either box is empty.
inline float IntersectionOverUnion(const BoundingBox& a, const BoundingBox& b) {
  const float inter = Area(Intersection(a, b));
  const float uni = Area(a) + Area(b) - inter;
  return uni <= 0 ? 0 : inter / uni;
}

/// The part of `box` inside the frame.
inline BoundingBox ClampToFrame(const BoundingBox& box) {
  const float x1 = std::clamp(box.x, 0.0f, 1.0f);
  const float y1 = std::clamp(box.y, 0.0f, 1.0f);
  const float x2 = std::clamp(box.x + box.w, 0.0f, 1.0f);
  const float y2 = std::clamp(box.y + box.h, 0.0f, 1.0f);
  return {x1, y1, std::max(0.0f, x2 - x1), std::max(0.0f, y2 - y1)};
}

/// A box in whole pixels of an image.
struct PixelRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

/// `box` in pixels of a width x height image, rounded outwards and kept inside the image.
inline PixelRect ToPixels(const BoundingBox& box, int width, int height) {
  const BoundingBox in = ClampToFrame(box);
  const int x1 = static_cast<int>(std::floor(in.x * static_cast<float>(width)));
  const int y1 = static_cast<int>(std::floor(in.y * static_cast<float>(height)));
  const int x2 = std::min(width, static_cast<int>(std::ceil((in.x + in.w) * static_cast<float>(width))));
  const int y2 = std::min(height, static_cast<int>(std::ceil((in.y + in.h) * static_cast<float>(height))));
  return {x1, y1, std::max(0, x2 - x1), std::max(0, y2 - y1)};
}

}  // namespace vstream
