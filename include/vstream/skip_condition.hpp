// Skip conditions: frames that match a module's `skip_if` bypass its Process and go on unchanged.
//
// Built in: "no_objects" (the frame has no detected objects), "every_nth:N" (skips frames whose
// index is N-1, 2N-1, ...: every Nth frame), "except_every_nth:N" (skips all frames but 0, N, 2N,
// ...). Register your own by name and use it as "skip_if": "name". EOS frames are never skipped.
//
//   vstream::RegisterSkipCondition("night", [](const vstream::Frame& f) { return IsDark(f); });
//   // config: "classify": { "class_name": "Inferencer", "skip_if": "night", ... }
#pragma once

#include <functional>
#include <string>

#include "vstream/export.hpp"
#include "vstream/frame.hpp"
#include "vstream/status.hpp"

namespace vstream {

using SkipPredicate = std::function<bool(const Frame&)>;

/// Registers `name` (letters, digits, '_'); returns false when the name is taken or invalid.
VSTREAM_EXPORT bool RegisterSkipCondition(const std::string& name, SkipPredicate predicate);

/// Parses a skip_if value into a predicate; kInvalidConfig naming the accepted forms on error.
/// An empty `spec` gives an empty predicate (never skip).
VSTREAM_EXPORT Status ParseSkipCondition(const std::string& spec, SkipPredicate* out);

}  // namespace vstream
