#include "vstream/video_frame.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>

namespace vstream {
namespace {
int BytesPerPixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::kBGR24:
    case PixelFormat::kRGB24: return 3;
    case PixelFormat::kNV12:
    case PixelFormat::kGray8: return 1;
    case PixelFormat::kNone: return 0;
  }
  return 0;
}

int RowBytes(PixelFormat format, int width, int plane) {
  if (format == PixelFormat::kNV12 && plane == 1) return (width + 1) / 2 * 2;
  return width * BytesPerPixel(format);
}

int Rows(PixelFormat format, int height, int plane) {
  if (format == PixelFormat::kNV12 && plane == 1) return (height + 1) / 2;
  return height;
}
}  // namespace

std::string_view PixelFormatName(PixelFormat format) {
  switch (format) {
    case PixelFormat::kBGR24: return "bgr24";
    case PixelFormat::kRGB24: return "rgb24";
    case PixelFormat::kNV12: return "nv12";
    case PixelFormat::kGray8: return "gray8";
    case PixelFormat::kNone: return "none";
  }
  return "none";
}

PixelFormat ParsePixelFormat(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "bgr24" || lower == "bgr") return PixelFormat::kBGR24;
  if (lower == "rgb24" || lower == "rgb") return PixelFormat::kRGB24;
  if (lower == "nv12") return PixelFormat::kNV12;
  if (lower == "gray8" || lower == "gray" || lower == "grey") return PixelFormat::kGray8;
  return PixelFormat::kNone;
}

int PlaneCount(PixelFormat format) {
  switch (format) {
    case PixelFormat::kNV12: return 2;
    case PixelFormat::kNone: return 0;
    default: return 1;
  }
}

size_t VideoFrame::PackedSize(int width, int height, PixelFormat format) {
  size_t total = 0;
  for (int p = 0; p < PlaneCount(format); ++p) {
    total += static_cast<size_t>(RowBytes(format, width, p)) * static_cast<size_t>(Rows(format, height, p));
  }
  return total;
}

VideoFrame VideoFrame::Allocate(int width, int height, PixelFormat format) {
  VideoFrame out;
  if (!Wrap(Buffer::Allocate(PackedSize(width, height, format)), width, height, format, {0, 0}, {0, 0}, &out)) return {};
  return out;
}

Status VideoFrame::Wrap(BufferPtr buffer, int width, int height, PixelFormat format,
                        std::array<int, kMaxPlanes> strides, std::array<size_t, kMaxPlanes> offsets,
                        VideoFrame* out) {
  if (buffer == nullptr) return {StatusCode::kInvalidArgument, "VideoFrame::Wrap: buffer is null"};
  if (width <= 0 || height <= 0 || format == PixelFormat::kNone) {
    return {StatusCode::kInvalidArgument, "VideoFrame::Wrap: width and height must be positive and the format known, got " +
                                              std::to_string(width) + "x" + std::to_string(height) + " " +
                                              std::string(PixelFormatName(format))};
  }
  VideoFrame frame;
  frame.width_ = width;
  frame.height_ = height;
  frame.format_ = format;
  size_t next = 0;
  for (int p = 0; p < PlaneCount(format); ++p) {
    const int row_bytes = RowBytes(format, width, p);
    const int stride = strides[p] == 0 ? row_bytes : strides[p];
    if (stride < row_bytes) {
      return {StatusCode::kInvalidArgument, "VideoFrame::Wrap: plane " + std::to_string(p) + " stride " +
                                                std::to_string(stride) + " is smaller than a row (" +
                                                std::to_string(row_bytes) + " bytes)"};
    }
    const size_t offset = (p > 0 && offsets[p] == 0) ? next : offsets[p];
    const size_t rows = static_cast<size_t>(Rows(format, height, p));
    const size_t end = offset + static_cast<size_t>(stride) * (rows - 1) + static_cast<size_t>(row_bytes);
    if (end > buffer->size()) {
      return {StatusCode::kInvalidArgument, "VideoFrame::Wrap: plane " + std::to_string(p) + " ends at byte " +
                                                std::to_string(end) + " but the buffer has " +
                                                std::to_string(buffer->size())};
    }
    frame.strides_[p] = stride;
    frame.offsets_[p] = offset;
    next = offset + static_cast<size_t>(stride) * rows;
  }
  frame.buffer_ = std::move(buffer);
  *out = std::move(frame);
  return Status::Ok();
}

int VideoFrame::plane_rows(int i) const { return Rows(format_, height_, i); }
int VideoFrame::plane_row_bytes(int i) const { return RowBytes(format_, width_, i); }

VideoFrame VideoFrame::Clone() const {
  if (empty()) return {};
  VideoFrame copy = Allocate(width_, height_, format_);
  for (int p = 0; p < plane_count(); ++p) {
    for (int r = 0; r < plane_rows(p); ++r) {
      std::memcpy(copy.plane(p) + static_cast<size_t>(r) * copy.stride(p),
                  plane(p) + static_cast<size_t>(r) * stride(p), static_cast<size_t>(plane_row_bytes(p)));
    }
  }
  return copy;
}

}  // namespace vstream
