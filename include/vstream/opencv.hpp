// OpenCV views of vstream images, and conversion to BGR or RGB from any pixel format (header-only:
// include it where you use OpenCV, which vstream's CMake package and pkg-config file already bring).
//
// ToMat returns a cv::Mat that points at the frame's pixels (no copy) for packed formats
// (BGR24, RGB24: CV_8UC3; GRAY8: CV_8UC1) and, for NV12, a single CV_8UC1 Mat of height*3/2 rows
// when the planes are contiguous (what cv::cvtColor(..., COLOR_YUV2BGR_NV12) expects). The Mat
// does not own the pixels: keep the frame (or its buffer) alive while you use it.
//
//   cv::Mat bgr = vstream::ToMat(frame->image);
//   cv::rectangle(bgr, box, cv::Scalar(0, 255, 0));   // draws into the frame itself
//   cv::Mat for_model = vstream::ToBgrMat(frame->image);  // any format; a view when already BGR
#pragma once

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "vstream/video_frame.hpp"

namespace vstream {

/// View of plane `plane` of the image as a cv::Mat (no copy).
inline cv::Mat PlaneToMat(VideoFrame& image, int plane) {
  int type = CV_8UC1;
  int cols = image.width();
  if (image.format() == PixelFormat::kBGR24 || image.format() == PixelFormat::kRGB24) {
    type = CV_8UC3;
  } else if (image.format() == PixelFormat::kNV12 && plane == 1) {
    type = CV_8UC2;  // interleaved U and V at half resolution
    cols = (image.width() + 1) / 2;
  }
  return cv::Mat(image.plane_rows(plane), cols, type, image.plane(plane),
                 static_cast<size_t>(image.stride(plane)));
}

/// View of the whole image as a cv::Mat (no copy); an empty Mat when the layout has no single-Mat
/// view (NV12 with separated planes, or an empty image).
inline cv::Mat ToMat(VideoFrame& image) {
  if (image.empty()) return {};
  if (image.format() == PixelFormat::kNV12) {
    const bool contiguous = image.stride(0) == image.stride(1) &&
                            image.offset(1) == image.offset(0) +
                                static_cast<size_t>(image.stride(0)) * image.height();
    if (!contiguous) return {};
    return cv::Mat(image.height() * 3 / 2, image.width(), CV_8UC1, image.plane(0),
                   static_cast<size_t>(image.stride(0)));
  }
  return PlaneToMat(image, 0);
}

/// Wraps a cv::Mat (BGR CV_8UC3 by default, or CV_8UC1 as GRAY8) as a VideoFrame without copying;
/// the frame keeps a reference to the Mat's data. Empty when the Mat does not fit `format`.
inline VideoFrame FromMat(const cv::Mat& mat, PixelFormat format = PixelFormat::kBGR24) {
  cv::Mat keep = mat;  // shares the Mat's reference count
  const size_t bytes = mat.empty() ? 0
                                    : keep.step[0] * static_cast<size_t>(keep.rows - 1) +
                                          static_cast<size_t>(keep.cols) * keep.elemSize();
  BufferPtr buffer = Buffer::Wrap(keep.data, bytes, [keep]() mutable { keep.release(); });
  VideoFrame out;
  if (!VideoFrame::Wrap(std::move(buffer), mat.cols, mat.rows, format, {static_cast<int>(mat.step[0]), 0}, {0, 0},
                        &out)) {
    return {};  // a Mat that does not fit `format`
  }
  return out;
}

namespace detail {
inline cv::Mat ConvertToColour(VideoFrame& image, bool rgb) {
  if (image.empty()) return {};
  cv::Mat out;
  switch (image.format()) {
    case PixelFormat::kBGR24:
      if (!rgb) return PlaneToMat(image, 0);
      cv::cvtColor(PlaneToMat(image, 0), out, cv::COLOR_BGR2RGB);
      return out;
    case PixelFormat::kRGB24:
      if (rgb) return PlaneToMat(image, 0);
      cv::cvtColor(PlaneToMat(image, 0), out, cv::COLOR_RGB2BGR);
      return out;
    case PixelFormat::kGray8:
      cv::cvtColor(PlaneToMat(image, 0), out, rgb ? cv::COLOR_GRAY2RGB : cv::COLOR_GRAY2BGR);
      return out;
    case PixelFormat::kNV12: {
      const int code = rgb ? cv::COLOR_YUV2RGB_NV12 : cv::COLOR_YUV2BGR_NV12;
      if (cv::Mat whole = ToMat(image); !whole.empty()) {
        cv::cvtColor(whole, out, code);
      } else {  // planes apart (strides or a gap between them)
        cv::cvtColorTwoPlane(PlaneToMat(image, 0), PlaneToMat(image, 1), out, code);
      }
      return out;
    }
    case PixelFormat::kNone: break;
  }
  return {};
}
}  // namespace detail

/// The image as 8-bit 3-channel BGR (CV_8UC3), from any pixel format: a view of the frame's pixels
/// when it already is BGR24 (writes then change the frame), else a converted copy. Empty for an
/// empty image. NV12 works whether or not its planes are contiguous.
inline cv::Mat ToBgrMat(VideoFrame& image) { return detail::ConvertToColour(image, false); }
/// As ToBgrMat, in RGB order (a view when the image already is RGB24).
inline cv::Mat ToRgbMat(VideoFrame& image) { return detail::ConvertToColour(image, true); }

}  // namespace vstream
