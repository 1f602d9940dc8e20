// Helpers of the config layer (private to the core): whole numbers from text, and a cap on the
// problems one error lists. (User-supplied text in a message goes through vstream::Excerpt.)
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::detail {

enum class WholeText { kOk, kNotWhole, kOutOfRange };

/// Reads a whole number: "40", or an integral decimal such as "40.0" or "4e1" (no surrounding
/// spaces). kOutOfRange when it is whole but does not fit in int64_t.
inline WholeText ParseWhole(const std::string& text, int64_t* out) {
  if (text.empty()) return WholeText::kNotWhole;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() + text.size()) {
    if (errno == ERANGE) return WholeText::kOutOfRange;
    *out = value;
    return WholeText::kOk;
  }
  char* dend = nullptr;
  const double d = std::strtod(text.c_str(), &dend);
  if (dend != text.c_str() + text.size() || std::isnan(d)) return WholeText::kNotWhole;
  if (std::isinf(d)) return WholeText::kOutOfRange;
  if (d != std::floor(d)) return WholeText::kNotWhole;
  // [-2^63, 2^63): the doubles that convert to int64_t exactly.
  if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) return WholeText::kOutOfRange;
  *out = static_cast<int64_t>(d);
  return WholeText::kOk;
}

/// Keeps the first `limit` of `problems` and says how many more there were: a config with
/// thousands of mistakes gets a readable answer, and building it stays cheap.
inline void CapProblems(std::vector<std::string>* problems, size_t limit, const std::string& prefix = "") {
  if (problems->size() <= limit) return;
  const size_t more = problems->size() - limit;
  problems->resize(limit);
  problems->push_back(prefix + "... and " + std::to_string(more) + " more problems");
}

}  // namespace vstream::detail
