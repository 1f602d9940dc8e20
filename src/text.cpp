#include "vstream/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace vstream {

std::string Trim(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::vector<std::string> Split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.emplace_back(text.substr(start));
      return parts;
    }
    parts.emplace_back(text.substr(start, at - start));
    start = at + 1;
  }
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::string FormatNumber(double value) {
  char buffer[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

namespace {
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      const size_t cost = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                  std::tolower(static_cast<unsigned char>(b[j - 1]))
                              ? 0
                              : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = up;
    }
  }
  return row[b.size()];
}
}  // namespace

size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() &&
         std::tolower(static_cast<unsigned char>(a[n])) == std::tolower(static_cast<unsigned char>(b[n]))) {
    ++n;
  }
  return n;
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  // A typo: a few edits away, or a long shared beginning ("PassThru" for "PassThrough").
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    const size_t prefix = CommonPrefix(word, candidate);
    if (prefix >= 4 && prefix * 4 >= word.size() * 3) d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

namespace {
// Length of the valid UTF-8 sequence at text[i] (2..4), or 0 when the bytes there are not one
// (a stray continuation byte, a truncated sequence, an overlong form, a surrogate, > U+10FFFF).
size_t Utf8SequenceLength(std::string_view text, size_t i, uint32_t* code_point) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  uint32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    cp = b0 & 0x1fu;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    cp = b0 & 0x0fu;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    cp = b0 & 0x07u;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xc0u) != 0x80u) return 0;
    cp = (cp << 6) | (b & 0x3fu);
  }
  if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  *code_point = cp;
  return length;
}

// Characters that are valid UTF-8 but change what a terminal shows: C1 controls (U+0080..U+009F,
// some terminals read U+009B as CSI) and the bidirectional embeddings, overrides and isolates.
bool HiddenControl(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
         cp == 0x200e || cp == 0x200f || cp == 0x061c;
}

void AppendHexEscape(std::string& out, unsigned char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0x0f];
}

// Appends `text` to `out` with Printable's escapes (double quotes only when `escape_double_quotes`),
// one character (or escaped byte) at a time, while the bytes of `text` taken stay within `max_in`
// and what is appended within `max_out`; returns how many bytes of `text` it took.
size_t AppendPrintable(std::string_view text, size_t max_in, size_t max_out, bool escape_double_quotes,
                       std::string* out) {
  std::string piece;  // the escaped form of the next character
  const size_t start = out->size();
  size_t i = 0;
  while (i < text.size()) {
    piece.clear();
    const auto c = static_cast<unsigned char>(text[i]);
    size_t length = 1;
    if (c < 0x80) {
      switch (c) {
        case '\n': piece = "\\n"; break;
        case '\r': piece = "\\r"; break;
        case '\t': piece = "\\t"; break;
        case '\\': piece = "\\\\"; break;
        case '\'': piece = "\\'"; break;
        case '"': piece = escape_double_quotes ? "\\\"" : "\""; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            AppendHexEscape(piece, c);
          } else {
            piece += static_cast<char>(c);
          }
      }
    } else {
      uint32_t cp = 0;
      length = Utf8SequenceLength(text, i, &cp);
      if (length == 0) {
        length = 1;
        AppendHexEscape(piece, c);
      } else if (HiddenControl(cp)) {
        for (size_t k = 0; k < length; ++k) AppendHexEscape(piece, static_cast<unsigned char>(text[i + k]));
      } else {
        piece.append(text.substr(i, length));
      }
    }
    if (i + length > max_in || out->size() - start + piece.size() > max_out) break;
    *out += piece;
    i += length;
  }
  return i;
}
}  // namespace

std::string Printable(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  const size_t taken = AppendPrintable(text, max_bytes, std::string::npos, true, &out);
  if (taken < text.size()) out += "\u2026(" + std::to_string(text.size() - taken) + " more bytes)";
  return out;
}

std::string Excerpt(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + 24);
  const size_t taken = AppendPrintable(text, std::string::npos, max_chars, false, &out);
  if (taken < text.size()) out += "\u2026 (" + std::to_string(text.size()) + " bytes in all)";
  return out;
}

}  // namespace vstream
