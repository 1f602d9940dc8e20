#include "assignment.hpp"

#include <algorithm>
#include <limits>

namespace vstream::detail {
namespace {

// The minimum-cost assignment of every one of n rows to a different one of m >= n columns (cost(r, c),
// 0-based), as column -> row + 1 (0: the column is free), by shortest augmenting paths with
// potentials: rows join one at a time; each new row takes the column reached by the cheapest
// alternating path (in reduced costs, which the potentials keep non-negative), moving the rows on
// that path to their next columns. O(n^2 m).
template <typename Cost>
std::vector<size_t> MinimumCostAssignment(size_t n, size_t m, const Cost& cost) {
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  // Index 0 of the column arrays is a virtual column holding the row being added.
  std::vector<double> row_potential(n + 1, 0);
  std::vector<double> column_potential(m + 1, 0);
  std::vector<size_t> row_of(m + 1, 0);    // column -> its row (1-based), 0: free
  std::vector<size_t> reached_from(m + 1, 0);  // column -> the column before it on the cheapest path
  std::vector<double> slack(m + 1);
  std::vector<bool> on_path(m + 1);
  for (size_t added = 1; added <= n; ++added) {
    row_of[0] = added;
    std::fill(slack.begin(), slack.end(), kInfinity);
    std::fill(on_path.begin(), on_path.end(), false);
    size_t column = 0;
    do {  // grow the tree of alternating paths by its cheapest column until it reaches a free one
      on_path[column] = true;
      const size_t row = row_of[column];
      double step = kInfinity;
      size_t next = 0;
      for (size_t c = 1; c <= m; ++c) {
        if (on_path[c]) continue;
        const double reduced = cost(row - 1, c - 1) - row_potential[row] - column_potential[c];
        if (reduced < slack[c]) {
          slack[c] = reduced;
          reached_from[c] = column;
        }
        if (slack[c] < step) {
          step = slack[c];
          next = c;
        }
      }
      for (size_t c = 0; c <= m; ++c) {
        if (on_path[c]) {
          row_potential[row_of[c]] += step;
          column_potential[c] -= step;
        } else {
          slack[c] -= step;
        }
      }
      column = next;
    } while (row_of[column] != 0);
    while (column != 0) {  // shift every row on the path to the column after it
      const size_t before = reached_from[column];
      row_of[column] = row_of[before];
      column = before;
    }
  }
  return row_of;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> MaximumWeightMatching(const std::vector<float>& weights, size_t rows,
                                                             size_t cols) {
  // Rows and columns without a single candidate cannot be paired: leave them out (most lost tracks
  // are far from every detection), so the cubic part only sees the contested ones.
  std::vector<size_t> live_rows;
  std::vector<size_t> live_cols;
  std::vector<bool> col_live(cols, false);
  for (size_t r = 0; r < rows; ++r) {
    bool any = false;
    for (size_t c = 0; c < cols; ++c) {
      if (weights[r * cols + c] > 0) any = col_live[c] = true;
    }
    if (any) live_rows.push_back(r);
  }
  for (size_t c = 0; c < cols; ++c) {
    if (col_live[c]) live_cols.push_back(c);
  }
  if (live_rows.empty()) return {};

  // Maximum weight = minimum cost with cost -weight. A pair that may not be made costs 0, as
  // leaving both unpaired does, so forcing a complete assignment changes nothing; such pairs are
  // dropped from the result. The assignment needs rows <= columns: transpose when there are more.
  const bool transposed = live_rows.size() > live_cols.size();
  const std::vector<size_t>& small = transposed ? live_cols : live_rows;
  const std::vector<size_t>& large = transposed ? live_rows : live_cols;
  auto weight = [&](size_t s, size_t l) {
    return transposed ? weights[large[l] * cols + small[s]] : weights[small[s] * cols + large[l]];
  };
  auto cost = [&](size_t s, size_t l) { return weight(s, l) > 0 ? -static_cast<double>(weight(s, l)) : 0.0; };
  const std::vector<size_t> row_of = MinimumCostAssignment(small.size(), large.size(), cost);

  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t l = 1; l < row_of.size(); ++l) {
    if (row_of[l] == 0) continue;
    const size_t s = row_of[l] - 1;
    if (weight(s, l - 1) <= 0) continue;
    pairs.emplace_back(transposed ? large[l - 1] : small[s], transposed ? small[s] : large[l - 1]);
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

}  // namespace vstream::detail
