// MaximumWeightMatching: the best one-to-one pairing of rows with columns (tracks with detections)
// by a weight (their overlap): the Hungarian algorithm.
//
// `weights` is rows x cols, row by row; a weight <= 0 means the two are never paired. The result
// pairs each row with at most one column and each column with at most one row so that the sum of
// the pairs' weights is the largest possible, and returns the pairs (row, column) by row. Unlike
// pairing the largest weight first (greedy), it does not give a track the detection that was the
// only candidate of another track when a second-best one was free for it.
//
//   // 2 tracks x 2 detections: greedy would pair (0, 1) and leave track 1 without a detection
//   auto pairs = MaximumWeightMatching({0.5f, 0.6f, 0.0f, 0.5f}, 2, 2);  // {{0, 0}, {1, 1}}
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace vstream::detail {

std::vector<std::pair<size_t, size_t>> MaximumWeightMatching(const std::vector<float>& weights, size_t rows,
                                                             size_t cols);

}  // namespace vstream::detail
