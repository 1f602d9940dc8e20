// Tensor: a dense float array with a shape, batch first; what inference backends take and give.
//
//   vstream::Tensor t({2, 3, 128, 128});     // two NCHW images
//   float* second = t.item(1);               // 3 * 128 * 128 floats
#pragma once

#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace vstream {

struct Tensor {
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape_in) : shape(std::move(shape_in)), data(static_cast<size_t>(count())) {}

  /// Elements in the whole tensor.
  int64_t count() const {
    return shape.empty() ? 0 : std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
  }
  /// Elements per batch item (everything after the first dimension).
  int64_t item_size() const { return shape.size() < 2 ? count() : count() / shape[0]; }
  int64_t batch() const { return shape.empty() ? 0 : shape[0]; }
  float* item(int64_t n) { return data.data() + n * item_size(); }
  const float* item(int64_t n) const { return data.data() + n * item_size(); }
  /// "1x896x16"
  std::string ShapeText() const {
    std::string text;
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? "x" : "") + std::to_string(shape[i]);
    return text;
  }

  std::vector<int64_t> shape;
  std::vector<float> data;
};

}  // namespace vstream
