// FFmpeg helpers shared by the module families that use FFmpeg (private, never installed).
#pragma once

extern "C" {
#include <libavutil/error.h>
}

#include <string>

namespace vstream::detail {

/// FFmpeg's message for an error code ("Invalid data found when processing input").
inline std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, text, sizeof(text));
  return text;
}

}  // namespace vstream::detail
