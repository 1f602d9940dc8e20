// FFmpeg helpers shared by the module families that use FFmpeg (private, never installed).
#pragma once

extern "C" {
#include <libavutil/error.h>
#include <libavutil/pixfmt.h>
}

#include <string>

#include "vstream/video_frame.hpp"

namespace vstream::detail {

/// FFmpeg's message for an error code ("Invalid data found when processing input").
inline std::string AvError(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, text, sizeof(text));
  return text;
}

/// FFmpeg's pixel format for a vstream one (AV_PIX_FMT_NONE for kNone).
inline AVPixelFormat ToAvPixelFormat(PixelFormat format) {
  switch (format) {
    case PixelFormat::kBGR24: return AV_PIX_FMT_BGR24;
    case PixelFormat::kRGB24: return AV_PIX_FMT_RGB24;
    case PixelFormat::kNV12: return AV_PIX_FMT_NV12;
    case PixelFormat::kGray8: return AV_PIX_FMT_GRAY8;
    case PixelFormat::kNone: break;
  }
  return AV_PIX_FMT_NONE;
}

}  // namespace vstream::detail
