// BoxKalmanFilter: the motion model of one track: where its box will be in the next frame, from the
// detections matched to it so far (a Kalman filter with constant velocity).
//
// The state is the box's centre and size, [cx, cy, w, h], and their change per frame. Predict()
// moves it one frame ahead (once per frame, matched or not, so a track missed for k frames is k
// steps ahead); Update() corrects it with a matched detection, weighing the prediction against the
// detection by their uncertainties, so a detection after a gap is not mistaken for one frame's
// motion. The noise of each coordinate is independent of the others (diagonal covariances), so the
// 8-dimensional filter splits exactly into four 2-dimensional ones (a value and its velocity): that
// is what this computes, in fixed-size arrays, without matrices or allocation.
//
// All noise is a fraction of the box's size (its width for cx and w, its height for cy and h), so
// the same values fit normalized boxes at any resolution and aspect, small faces and large cars.
//
//   BoxKalmanFilter motion(first_detection.box);
//   BoundingBox expected = motion.Predict();   // every frame
//   motion.Update(matched_detection.box);      // when a detection matched
#pragma once

#include <array>

#include "vstream/detected_object.hpp"

namespace vstream::detail {

class BoxKalmanFilter {
 public:
  /// A track that starts at `box`, not moving (its velocity unknown).
  explicit BoxKalmanFilter(const BoundingBox& box);

  /// Moves the state one frame ahead and returns the predicted box.
  BoundingBox Predict();
  /// Corrects the state with a detection of this track in the current (already predicted) frame.
  void Update(const BoundingBox& box);

  /// The current estimate (after Predict: the prediction; after Update: the corrected box).
  BoundingBox box() const;

 private:
  // One coordinate: a value, its change per frame, and their covariance.
  struct Axis {
    // (double: the variances of small boxes are tiny, and the update subtracts nearly equal terms)
    double value = 0;
    double velocity = 0;
    double var_value = 0;
    double covariance = 0;
    double var_velocity = 0;
  };
  enum : size_t { kCx, kCy, kW, kH };

  // The size that scales the noise of axis `i`: the box's width for cx and w, its height for cy, h.
  double Scale(size_t i) const;

  std::array<Axis, 4> axes_;
};

}  // namespace vstream::detail
