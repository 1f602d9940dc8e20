// Small string helpers shared by the config parser, parameter validation and stats printing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vstream::detail {

std::string Trim(std::string_view text);
std::string ToLower(std::string_view text);
std::vector<std::string> Split(std::string_view text, char separator);
std::string Join(const std::vector<std::string>& items, std::string_view separator);
/// Shortest round-tripping text of a number ("40", "0.5", "1e-06").
std::string FormatNumber(double value);
/// The candidate nearest to `word` by edit distance, when near enough to be a likely typo; else "".
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace vstream::detail
