// Zero-copy OpenCV views of vstream images (header-only: include it where you use OpenCV).
//
// ToMat returns a cv::Mat that points at the frame's pixels (no copy) for packed formats
// (BGR24, RGB24: CV_8UC3; GRAY8: CV_8UC1) and, for NV12, a single CV_8UC1 Mat of height*3/2 rows
// when the planes are contiguous (what cv::cvtColor(..., COLOR_YUV2BGR_NV12) expects). The Mat
// does not own the pixels: keep the frame (or its buffer) alive while you use it.
//
//   cv::Mat bgr = vstream::ToMat(frame->image);
//   cv::rectangle(bgr, box, cv::Scalar(0, 255, 0));   // draws into the frame itself
#pragma once

#include <opencv2/core.hpp>

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
/// the frame keeps a reference to the Mat's data.
inline VideoFrame FromMat(const cv::Mat& mat, PixelFormat format = PixelFormat::kBGR24) {
  cv::Mat keep = mat;  // shares the Mat's reference count
  const size_t bytes = mat.empty() ? 0
                                    : keep.step[0] * static_cast<size_t>(keep.rows - 1) +
                                          static_cast<size_t>(keep.cols) * keep.elemSize();
  BufferPtr buffer = Buffer::Wrap(keep.data, bytes, [keep]() mutable { keep.release(); });
  VideoFrame out;
  VideoFrame::Wrap(std::move(buffer), mat.cols, mat.rows, format,
                   {static_cast<int>(mat.step[0]), 0}, {0, 0}, &out);
  return out;
}

}  // namespace vstream
