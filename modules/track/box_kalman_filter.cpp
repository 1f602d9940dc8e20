#include "box_kalman_filter.hpp"

#include <algorithm>

namespace vstream::detail {
namespace {

// Standard deviations, as fractions of the box's size (see Scale). A detector's box is off by
// about a twentieth of its size; between frames a box may move off its constant-velocity path by
// as much, and its velocity may change by an eighth of that.
constexpr double kMeasurementNoise = 1.0 / 20;
constexpr double kPositionNoise = 1.0 / 20;
constexpr double kVelocityNoise = 1.0 / 160;
// A new track: its box is as uncertain as two detections; its velocity is unknown, so it is allowed
// to be large for the centre (a quarter of the size per frame: the second detection mostly sets it)
// and small for the size (boxes rarely grow or shrink fast; a size velocity learnt from one pair of
// jittery boxes would inflate or shrink a box that then goes unmatched for many frames).
constexpr double kInitialValueNoise = 2 * kMeasurementNoise;
constexpr double kInitialCentreVelocityNoise = 1.0 / 4;
constexpr double kInitialSizeVelocityNoise = 1.0 / 16;
// The least size that scales noise and the least predicted size: keeps a degenerate (0-wide)
// detection from making the filter certain, and a shrinking box from turning inside out.
constexpr double kMinSize = 1e-3;

double Square(double v) { return v * v; }

}  // namespace

BoxKalmanFilter::BoxKalmanFilter(const BoundingBox& box) {
  axes_[kCx].value = box.x + box.w / 2;
  axes_[kCy].value = box.y + box.h / 2;
  axes_[kW].value = box.w;
  axes_[kH].value = box.h;
  for (size_t i = 0; i < axes_.size(); ++i) {
    const double scale = Scale(i);
    const double velocity_noise = i == kCx || i == kCy ? kInitialCentreVelocityNoise : kInitialSizeVelocityNoise;
    axes_[i].var_value = Square(kInitialValueNoise * scale);
    axes_[i].var_velocity = Square(velocity_noise * scale);
  }
}

double BoxKalmanFilter::Scale(size_t i) const {
  return std::max(kMinSize, i == kCx || i == kW ? axes_[kW].value : axes_[kH].value);
}

BoundingBox BoxKalmanFilter::Predict() {
  std::array<double, 4> scale{};
  for (size_t i = 0; i < axes_.size(); ++i) scale[i] = Scale(i);  // before any axis moves
  // A size that would shrink to nothing stops shrinking instead.
  for (size_t i : {kW, kH}) {
    if (axes_[i].value + axes_[i].velocity < kMinSize) axes_[i].velocity = 0;
  }
  for (size_t i = 0; i < axes_.size(); ++i) {
    Axis& a = axes_[i];
    // x' = F x, P' = F P F^T + Q with F = [[1, 1], [0, 1]] and Q = diag(position, velocity noise).
    a.value += a.velocity;
    a.var_value += 2 * a.covariance + a.var_velocity + Square(kPositionNoise * scale[i]);
    a.covariance += a.var_velocity;
    a.var_velocity += Square(kVelocityNoise * scale[i]);
  }
  return box();
}

void BoxKalmanFilter::Update(const BoundingBox& box) {
  const std::array<double, 4> measured{box.x + box.w / 2.0, box.y + box.h / 2.0, box.w, box.h};
  std::array<double, 4> scale{};
  for (size_t i = 0; i < axes_.size(); ++i) scale[i] = Scale(i);
  for (size_t i = 0; i < axes_.size(); ++i) {
    Axis& a = axes_[i];
    // The value is measured (H = [1, 0]) with noise R; K = P H^T / (H P H^T + R).
    const double innovation_var = a.var_value + Square(kMeasurementNoise * scale[i]);
    const double gain_value = a.var_value / innovation_var;
    const double gain_velocity = a.covariance / innovation_var;
    const double innovation = measured[i] - a.value;
    a.value += gain_value * innovation;
    a.velocity += gain_velocity * innovation;
    // P' = (I - K H) P, written out for the 2x2 case (covariance is still the old one on the right).
    a.var_velocity -= gain_velocity * a.covariance;
    a.var_value *= 1 - gain_value;
    a.covariance *= 1 - gain_value;
  }
  axes_[kW].value = std::max(kMinSize, axes_[kW].value);
  axes_[kH].value = std::max(kMinSize, axes_[kH].value);
}

BoundingBox BoxKalmanFilter::box() const {
  const double w = axes_[kW].value;
  const double h = axes_[kH].value;
  return {static_cast<float>(axes_[kCx].value - w / 2), static_cast<float>(axes_[kCy].value - h / 2),
          static_cast<float>(w), static_cast<float>(h)};
}

}  // namespace vstream::detail
