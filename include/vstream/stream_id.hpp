// Stream ids: the names that streams carry through a pipeline (Frame::stream_id, events, stats) and
// that output paths may contain (`{stream}` in ResultSink and Encoder paths). So that an id can
// never name a path outside an output folder or put control characters on a terminal, an id is
//
//   1 to 128 bytes of ASCII letters, digits and  _ - . : @ +  not starting with '.'
//
// Every place that accepts an id from outside (AddSource, a source's `inputs`, the ModuleIPC
// server) checks it with CheckStreamId.
//
//   if (vstream::Status s = vstream::CheckStreamId(id); !s) return s;   // kInvalidArgument
#pragma once

#include "vstream/export.hpp"
#include "vstream/status.hpp"

#include <cstddef>
#include <string_view>

namespace vstream {

/// The longest stream id, in bytes.
inline constexpr std::size_t kMaxStreamIdBytes = 128;

/// The characters a stream id may contain (besides ASCII letters and digits).
inline constexpr std::string_view kStreamIdPunctuation = "_-.:@+";

/// OK when `id` is a valid stream id (see above); otherwise kInvalidArgument with a message that
/// states the rule, the offending id (escaped and clipped, see Printable) and what is wrong with it.
VSTREAM_EXPORT Status CheckStreamId(std::string_view id);

}  // namespace vstream
