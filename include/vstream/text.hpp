// Text helpers that vstream's own modules use and a custom module may too: trimming, splitting and
// joining, numbers printed the way configs write them, and "did you mean" suggestions for error
// messages that name a value the user mistyped.
//
//   std::string hint = vstream::ClosestMatch("Inferncer", {"Inferencer", "Tracker"});  // "Inferencer"
//   std::string list = vstream::Join({"a", "b"}, ", ");                                 // "a, b"
//   std::string shown = vstream::Printable("cam\x1b[2J\n");                    // "cam\\x1b[2J\\n"
//   std::string value = vstream::Excerpt(std::string(100000, 'a'));  // 100 a's + "… (100000 bytes in all)"
#pragma once

#include "vstream/export.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace vstream {

VSTREAM_EXPORT std::string Trim(std::string_view text);
VSTREAM_EXPORT std::string ToLower(std::string_view text);
VSTREAM_EXPORT std::vector<std::string> Split(std::string_view text, char separator);
VSTREAM_EXPORT std::string Join(const std::vector<std::string>& items, std::string_view separator);
/// Shortest round-tripping text of a number ("40", "0.5", "1e-06").
VSTREAM_EXPORT std::string FormatNumber(double value);
/// The candidate nearest to `word` by edit distance, when near enough to be a likely typo; else "".
VSTREAM_EXPORT std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);
/// `text` made safe to print in a log line or an error message, whatever its bytes: control
/// characters (C0, DEL, C1), bytes that are not valid UTF-8 and the bidirectional-override
/// characters become escapes (`\n`, `\r`, `\t`, `\xNN` per byte), quotes and backslashes are
/// escaped (`\'`, `\"`, `\\`), valid UTF-8 text stays as it is. Only the first `max_bytes` bytes of
/// `text` are shown (never half a character); the rest becomes "…(N more bytes)".
VSTREAM_EXPORT std::string Printable(std::string_view text, std::size_t max_bytes = 96);
/// A value the user supplied, as an error message shows it: Printable's escapes (but for double
/// quotes, which stay: messages quote values with '...', and JSON text keeps its own), and at most
/// `max_chars` bytes of them; a longer value is cut there (never inside a character or an escape)
/// and says how long it was: "aaaa… (100000 bytes in all)". So a message that quotes a value stays
/// one short, safe line whatever the value is. Every message that echoes a config value, a
/// parameter, an override or a command-line argument shows it through this.
VSTREAM_EXPORT std::string Excerpt(std::string_view text, std::size_t max_chars = 100);

}  // namespace vstream
