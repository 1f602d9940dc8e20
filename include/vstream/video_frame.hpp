// VideoFrame: an image (width, height, pixel format, per-plane layout) backed by a Buffer.
//
// Planes are described by an offset into the buffer and a stride in bytes, so frames coming from
// decoders with padded rows, or from shared memory, are used in place. Copying a VideoFrame copies
// the description and shares the pixels. See vstream/opencv.hpp for a zero-copy cv::Mat view.
//
//   vstream::VideoFrame image = vstream::VideoFrame::Allocate(640, 360, vstream::PixelFormat::kBGR24);
//   uint8_t* row0 = image.plane(0);           // 640 * 3 bytes, stride image.stride(0)
//   auto nv12 = vstream::VideoFrame::Allocate(640, 360, vstream::PixelFormat::kNV12);  // 2 planes
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "vstream/export.hpp"
#include "vstream/buffer.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class PixelFormat { kNone, kBGR24, kRGB24, kNV12, kGray8 };

/// "bgr24", "rgb24", "nv12", "gray8" (the names configs use).
VSTREAM_EXPORT std::string_view PixelFormatName(PixelFormat format);
/// Parses a name as above (case-insensitive; "bgr", "rgb", "gray" accepted). kNone when unknown.
VSTREAM_EXPORT PixelFormat ParsePixelFormat(std::string_view name);
VSTREAM_EXPORT int PlaneCount(PixelFormat format);

class VSTREAM_EXPORT VideoFrame {
 public:
  static constexpr int kMaxPlanes = 2;

  VideoFrame() = default;

  /// Allocates a tightly packed image on the heap (strides = width * bytes per pixel).
  static VideoFrame Allocate(int width, int height, PixelFormat format);
  /// Describes an image that lives in `buffer`. `strides`/`offsets` give each plane's layout;
  /// zero strides mean tightly packed and zero offsets mean planes follow each other.
  /// Fails (kInvalidArgument) when the layout does not fit inside the buffer.
  static Status Wrap(BufferPtr buffer, int width, int height, PixelFormat format,
                     std::array<int, kMaxPlanes> strides, std::array<size_t, kMaxPlanes> offsets,
                     VideoFrame* out);
  /// Bytes a tightly packed image of this size and format takes.
  static size_t PackedSize(int width, int height, PixelFormat format);

  bool empty() const { return buffer_ == nullptr || width_ == 0 || height_ == 0; }
  int width() const { return width_; }
  int height() const { return height_; }
  PixelFormat format() const { return format_; }
  int plane_count() const { return PlaneCount(format_); }
  /// Rows in plane `i` (the chroma plane of NV12 has half the rows).
  int plane_rows(int i) const;
  /// Bytes of pixel data in one row of plane `i` (without padding).
  int plane_row_bytes(int i) const;
  int stride(int i) const { return strides_[i]; }
  size_t offset(int i) const { return offsets_[i]; }
  uint8_t* plane(int i) { return buffer_->data() + offsets_[i]; }
  const uint8_t* plane(int i) const { return buffer_->data() + offsets_[i]; }
  const BufferPtr& buffer() const { return buffer_; }

  /// A deep copy into a new tightly packed heap buffer.
  VideoFrame Clone() const;

 private:
  BufferPtr buffer_;
  int width_ = 0;
  int height_ = 0;
  PixelFormat format_ = PixelFormat::kNone;
  std::array<int, kMaxPlanes> strides_{};
  std::array<size_t, kMaxPlanes> offsets_{};
};

}  // namespace vstream
