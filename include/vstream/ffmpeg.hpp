// FFmpeg helpers for modules that use FFmpeg (header-only: include it where you use FFmpeg; the
// vstream library itself does not make you link FFmpeg).
//
//   if (int rc = avformat_open_input(&ctx, url, nullptr, nullptr); rc < 0) return Fail(vstream::AvError(rc));
//   AVPixelFormat want = vstream::ToAvPixelFormat(vstream::PixelFormat::kNV12);
#pragma once

extern "C" {
#include <libavutil/error.h>
#include <libavutil/pixfmt.h>
}

#include <string>

#include "vstream/video_frame.hpp"

namespace vstream {

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

}  // namespace vstream
