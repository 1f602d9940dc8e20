// AppSource (app_source.hpp): streams whose frames the program pushes.
//
// Locking: mutex_ guards the stream map and each Stream's fields, the EOS queue, in_flight_ and
// closed_. A push claims its stream (`pushing`) under the lock, hands the frame on without it, and
// gives the stream back under it; a stream ended meanwhile gets its EOS queued by that push, so the
// EOS always follows the last frame. EOS frames are sent by the module's own thread, because
// ending a stream (EndStream, RemoveSource, a graceful Stop) must not wait for room downstream.
#include "vstream/modules/app_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "vstream/registry.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace {

constexpr int kMaxSide = 32768;
// Ids of streams whose EOS has left, kept so that a late push hears "ended" rather than "unknown".
constexpr size_t kRememberedEnds = 1024;

int BytesPerPixel(PixelFormat format) {
  return format == PixelFormat::kBGR24 || format == PixelFormat::kRGB24 ? 3 : 1;
}

// Rows of bytes an image of this format spans: NV12's UV rows follow its Y rows.
size_t TotalRows(PixelFormat format, int height) {
  const auto rows = static_cast<size_t>(height);
  return format == PixelFormat::kNV12 ? rows + rows / 2 : rows;
}

}  // namespace

struct AppSource::Stream {
  Stream(std::string id_in, double frame_rate_in) : id(std::move(id_in)), frame_rate(frame_rate_in) {}
  const std::string id;
  const double frame_rate;  // for derived pts; 0: the clock
  // Guarded by AppSource::mutex_:
  int64_t next_index = 0;
  int64_t last_pts = 0;  // the pts of frame next_index - 1
  std::chrono::steady_clock::time_point first_push;
  bool pushing = false;     // a push is handing a frame of this stream on
  bool ended = false;       // no more frames: EndStream, RemoveSource, or the pipeline refused one
  bool eos_queued = false;  // its EOS is in `ending_` (or sent)
};

AppSource::~AppSource() { Close(); }

ModuleDescription AppSource::Describe() {
  return {
      "Frames the program pushes: images in memory, cv::Mat, numpy arrays from Python (Push, pipeline.push).",
      {ParamSpec::List("streams", "",
                       "streams started at Open, by id; more come with AddSource(id, \"app://\") while it runs"),
       ParamSpec::Enum("pixel_format", "any", {"any", "bgr24", "rgb24", "nv12", "gray8"},
                       "the format every pushed image must have (others are refused); any: frames keep the format "
                       "they were pushed in"),
       ParamSpec::Int("width", 0, "the width every pushed image must have (others are refused); 0 = any")
           .Range(0, kMaxSide),
       ParamSpec::Int("height", 0, "the height every pushed image must have (others are refused); 0 = any")
           .Range(0, kMaxSide),
       ParamSpec::Double("frame_rate", 25,
                         "derived pts advance by 1/frame_rate seconds a frame; 0 = from the clock (microseconds "
                         "since the stream's first push)")
           .Min(0)},
      R"(A program pushes images into the streams of an AppSource, from any of its threads, instead of
a source reading them itself: frames from a camera SDK's callback, images made in memory, numpy
arrays from Python. Streams start from `streams` or with `Pipeline::AddSource(id, "app://")` (the
only uri it takes; option `frame_rate` overrides the parameter for one stream), and end with
`EndStream(id)`, `RemoveSource(id)`, or when the pipeline stops.

```cpp
auto* app = pipeline.GetModule<vstream::AppSource>("source");     // "streams": ["cam1"]
app->Push("cam1", mat);                                            // CV_8UC3 (BGR) or CV_8UC1: copied
app->PushZeroCopy("cam1", {data, 640, 360, stride, vstream::PixelFormat::kBGR24}, release);
app->EndStream("cam1");                                            // its EOS follows the last frame
```

From Python: `pipeline.push(stream_id, array)`, `pipeline.end_stream(stream_id)` (see
[python.md](../python.md#pushing-frames-from-python)).

## Frames

- `frame_index` counts each stream's frames from 0; `pts` is in microseconds. A pts given must be
  later than the stream's previous one. Without one (`AppSource::kAutoPts`), it is the previous
  pts + 1/`frame_rate` (0 for the first frame), or with `frame_rate` 0 the microseconds since the
  stream's first push (and still later than the previous pts).
- `Push` copies the image. `PushZeroCopy` does not: the frame's pixels are the caller's memory,
  which the pipeline only reads (a module that writes pixels copies them first,
  `Module::MakeWritable`), and the caller's `release` runs once when the last frame using it is
  gone (or at once when the push fails). A `cv::Mat` pushed without a copy is kept by reference.
- Images: `bgr24`, `rgb24`, `gray8`, or `nv12` (Y rows, then the interleaved UV rows, one stride;
  even width and height), rows `stride` bytes apart.
- A push waits while the next module's queue is full, like any source. Pushes to one stream from
  several threads go on one at a time, in index order; different streams go on in parallel.

## Errors

- `kNotFound`: a stream the module does not have (`no stream 'x'; start it with the streams
  parameter or AddSource(id, "app://")`).
- `kInvalidArgument`: a bad image (null data, size, stride, format), one that `pixel_format`,
  `width` or `height` refuse, or a pts not after the previous one; the message names the field
  and both values.
- `kFailedState`: a push after the stream ended, or ending it twice (`stream 'x' has ended`); a
  push before `Start` or after `Stop` (`is not running`); a push waiting for room when the
  pipeline stops or aborts (`the pipeline is stopping; frame N of stream 'x' was not taken`).

A graceful `Stop` ends every stream (pushes waiting for room still hand their frame on first); an
abort refuses the frames of pushes under way, which then return an error.)"};
}

HeldFrames AppSource::FramesHeld(const ModuleParams& params) {
  HeldFrames held;
  held.per_stream = 1;  // a pushed frame waiting for room in the next queue
  held.width = static_cast<int>(params.GetInt("width"));
  held.height = static_cast<int>(params.GetInt("height"));
  if (held.width == 0 || held.height == 0) held.width = held.height = 0;  // the pushed images decide
  const std::string format = params.GetString("pixel_format");
  held.format = format == "any" ? PixelFormat::kNone : ParsePixelFormat(format);
  held.detail = "per stream: 1 pushed frame waiting for room";
  return held;
}

Status AppSource::Open(const ModuleParams& params) {
  required_format_ = params.GetString("pixel_format");
  required_width_ = static_cast<int>(params.GetInt("width"));
  required_height_ = static_cast<int>(params.GetInt("height"));
  frame_rate_ = params.GetDouble("frame_rate");
  owner_pid_ = static_cast<int>(::getpid());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    streams_.clear();
    ending_.clear();
    recently_ended_.clear();
    in_flight_ = 0;
  }
  ender_ = std::thread([this] { SendEnds(); });
  for (const auto& id : params.GetList("streams")) {
    if (Status s = AddSource(id, kUri); !s) return Fail(s.message(), s.code());
  }
  return {};
}

void AppSource::Close() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    closed_ = true;
    changed_.notify_all();
    ender_wake_.notify_all();
    // Close comes once the pipeline refuses frames (an abort) or after every stream ended (a
    // graceful stop), so a push under way returns soon.
    changed_.wait(lock, [this] { return in_flight_ == 0; });
  }
  if (ender_.joinable()) ender_.join();
  // Streams an abort left: their ids are freed (the EOS is refused by then).
  std::vector<std::shared_ptr<Stream>> left;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, stream] : streams_) left.push_back(stream);
    streams_.clear();
    ending_.clear();
    recently_ended_.clear();
  }
  for (const auto& stream : left) SourceModule::EndStream(stream->id, stream->next_index);
}

Status AppSource::OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) {
  if (uri != kUri) {
    return {StatusCode::kInvalidArgument,
            "module '" + name() + "' (AppSource) takes the frames the program pushes: add stream '" + stream_id +
                "' with the uri \"app://\", not '" + Printable(uri) +
                "' (a DataSource reads files and network streams)"};
  }
  double frame_rate = frame_rate_;
  for (const auto& [key, value] : options) {
    if (key != "frame_rate") {
      return {StatusCode::kInvalidArgument,
              "module '" + name() + "': stream '" + stream_id + "': unknown option '" + Printable(key) +
                  "'; AppSource takes only frame_rate"};
    }
    char* end = nullptr;
    frame_rate = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !std::isfinite(frame_rate) || frame_rate < 0) {
      return {StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': option frame_rate='" +
                                                Printable(value) + "' must be a number >= 0"};
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return {StatusCode::kFailedState, "module '" + name() + "' is not open"};
  streams_[stream_id] = std::make_shared<Stream>(stream_id, frame_rate);
  recently_ended_.erase(std::remove(recently_ended_.begin(), recently_ended_.end(), stream_id), recently_ended_.end());
  return Status::Ok();
}

void AppSource::OnRemoveSource(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it != streams_.end() && !it->second->ended) EndLocked(it->second);
}

Status AppSource::EndStream(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(stream_id);
  const bool ended = it == streams_.end() ? std::find(recently_ended_.begin(), recently_ended_.end(), stream_id) !=
                                                recently_ended_.end()
                                          : it->second->ended;
  if (ended) return {StatusCode::kFailedState, "module '" + name() + "': stream '" + stream_id + "' has already ended"};
  if (it == streams_.end()) {
    return {StatusCode::kNotFound, "module '" + name() + "': no stream '" + stream_id + "' to end"};
  }
  EndLocked(it->second);
  return Status::Ok();
}

void AppSource::EndLocked(const std::shared_ptr<Stream>& stream) {
  stream->ended = true;
  if (!stream->pushing) QueueEosLocked(stream);
  changed_.notify_all();  // pushes waiting for their turn on this stream fail now
}

void AppSource::QueueEosLocked(const std::shared_ptr<Stream>& stream) {
  stream->eos_queued = true;
  ending_.push_back(stream);
  ender_wake_.notify_one();
}

void AppSource::SendEnds() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ender_wake_.wait(lock, [this] { return closed_ || !ending_.empty(); });
    if (ending_.empty()) return;  // closed, and every EOS sent (or refused by an abort)
    std::shared_ptr<Stream> stream = ending_.front();
    ending_.pop_front();
    const int64_t next_index = stream->next_index;
    lock.unlock();
    SourceModule::EndStream(stream->id, next_index);  // may wait for room downstream
    lock.lock();
    // The id may already belong to a new stream of the same name, added once this EOS had left.
    if (auto it = streams_.find(stream->id); it != streams_.end() && it->second == stream) {
      streams_.erase(it);
      recently_ended_.push_back(stream->id);
      if (recently_ended_.size() > kRememberedEnds) recently_ended_.pop_front();
    }
  }
}

Status AppSource::ImageBytes(const std::string& stream_id, const Image& image, size_t* bytes) const {
  auto bad = [&](const std::string& what) {
    return Status(StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': " + what);
  };
  if (image.format == PixelFormat::kNone) {
    return bad("the image's pixel format is not set (bgr24, rgb24, nv12 or gray8)");
  }
  const std::string size = std::to_string(image.width) + "x" + std::to_string(image.height);
  if (image.width <= 0 || image.height <= 0 || image.width > kMaxSide || image.height > kMaxSide) {
    return bad("the image is " + size + "; width and height must be 1 to " + std::to_string(kMaxSide));
  }
  if (image.format == PixelFormat::kNV12 && (image.width % 2 != 0 || image.height % 2 != 0)) {
    return bad("an nv12 image needs an even width and height, got " + size);
  }
  if (image.data == nullptr) return bad("the image's data pointer is null");
  const int row_bytes = image.width * BytesPerPixel(image.format);
  if (image.stride != 0 && image.stride < row_bytes) {
    return bad("stride " + std::to_string(image.stride) + " is less than one row of the " + size + " " +
               std::string(PixelFormatName(image.format)) + " image (" + std::to_string(row_bytes) +
               " bytes); give the bytes from one row to the next, or 0 for packed rows");
  }
  const size_t stride = static_cast<size_t>(image.stride == 0 ? row_bytes : image.stride);
  *bytes = stride * (TotalRows(image.format, image.height) - 1) + static_cast<size_t>(row_bytes);
  return CheckRequirements(stream_id, image.width, image.height, image.format);
}

Status AppSource::CheckRequirements(const std::string& stream_id, int width, int height, PixelFormat format) const {
  auto bad = [&](const std::string& what) {
    return Status(StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': " + what);
  };
  const std::string format_name(PixelFormatName(format));
  if (required_format_ != "any" && format_name != required_format_) {
    return bad("the image is " + format_name + " but the module's pixel_format parameter asks for " + required_format_ +
               " (convert the image, or set pixel_format to any)");
  }
  if ((required_width_ != 0 && width != required_width_) || (required_height_ != 0 && height != required_height_)) {
    return bad("the image is " + std::to_string(width) + "x" + std::to_string(height) +
               " but the module's width and height parameters ask for " +
               (required_width_ != 0 ? std::to_string(required_width_) : std::string("any")) + "x" +
               (required_height_ != 0 ? std::to_string(required_height_) : std::string("any")));
  }
  return Status::Ok();
}

Status AppSource::WrapImage(const Image& image, BufferPtr buffer, VideoFrame* out) {
  const int stride = image.stride == 0 ? image.width * BytesPerPixel(image.format) : image.stride;
  // NV12's UV plane follows the Y plane (offset 0: right after it), with the same stride.
  return VideoFrame::Wrap(std::move(buffer), image.width, image.height, image.format, {stride, stride}, {0, 0}, out);
}

Status AppSource::Push(const std::string& stream_id, const Image& image, int64_t pts) {
  if (Status s = CheckUsable(); !s) return s;  // first: a bad image of a stopped module is no news
  size_t bytes = 0;
  if (Status s = ImageBytes(stream_id, image, &bytes); !s) return s;
  VideoFrame copy = VideoFrame::Allocate(image.width, image.height, image.format);
  const auto* source = static_cast<const uint8_t*>(image.data);
  const int row_bytes = image.width * BytesPerPixel(image.format);
  const size_t stride = static_cast<size_t>(image.stride == 0 ? row_bytes : image.stride);
  size_t row = 0;  // rows of the source, across planes
  for (int p = 0; p < copy.plane_count(); ++p) {
    for (int r = 0; r < copy.plane_rows(p); ++r, ++row) {
      std::memcpy(copy.plane(p) + static_cast<size_t>(r) * copy.stride(p), source + row * stride,
                  static_cast<size_t>(copy.plane_row_bytes(p)));
    }
  }
  return PushFrame(stream_id, std::move(copy), pts);
}

Status AppSource::PushZeroCopy(const std::string& stream_id, const Image& image, std::function<void()> release,
                               int64_t pts) {
  size_t bytes = 0;
  Status checked = CheckUsable();
  if (checked) checked = ImageBytes(stream_id, image, &bytes);
  if (!checked) {
    if (release) release();
    return checked;
  }
  // From here the buffer owns `release`: it runs when the last frame (or copy) sharing it is gone.
  VideoFrame frame;
  if (Status s = WrapImage(image, Buffer::WrapReadOnly(image.data, bytes, std::move(release)), &frame); !s) {
    return {StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': " + s.message()};
  }
  return PushFrame(stream_id, std::move(frame), pts);
}

Status AppSource::MatImage(const std::string& stream_id, const cv::Mat& mat, PixelFormat format, Image* out) const {
  auto bad = [&](const std::string& what) {
    return Status(StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': " + what);
  };
  if (mat.empty()) return bad("the cv::Mat is empty");
  if (mat.dims != 2 || mat.depth() != CV_8U || (mat.channels() != 3 && mat.channels() != 1)) {
    return bad("a cv::Mat of 8-bit pixels with 3 channels (CV_8UC3) or 1 (CV_8UC1) is needed, got " +
               std::to_string(mat.dims) + " dimension(s), depth " + std::to_string(mat.depth()) + " and " +
               std::to_string(mat.channels()) + " channel(s)");
  }
  if (mat.step[0] > static_cast<size_t>(INT_MAX)) return bad("the cv::Mat's rows are too far apart");
  Image image;
  image.data = mat.data;
  image.width = mat.cols;
  image.height = mat.rows;
  image.stride = static_cast<int>(mat.step[0]);
  if (mat.channels() == 3) {
    image.format = format == PixelFormat::kNone ? PixelFormat::kBGR24 : format;
    if (image.format != PixelFormat::kBGR24 && image.format != PixelFormat::kRGB24) {
      return bad("a 3-channel cv::Mat is bgr24 or rgb24, not " + std::string(PixelFormatName(format)));
    }
  } else {
    image.format = format == PixelFormat::kNone ? PixelFormat::kGray8 : format;
    if (image.format == PixelFormat::kNV12) {
      if (mat.rows % 3 != 0) {
        return bad("an nv12 cv::Mat has height * 3 / 2 rows (Y, then UV), a multiple of 3; got " +
                   std::to_string(mat.rows));
      }
      image.height = mat.rows / 3 * 2;
    } else if (image.format != PixelFormat::kGray8) {
      return bad("a 1-channel cv::Mat is gray8 or nv12, not " + std::string(PixelFormatName(format)));
    }
  }
  *out = image;
  return Status::Ok();
}

Status AppSource::Push(const std::string& stream_id, const cv::Mat& image, int64_t pts, PixelFormat format) {
  if (Status s = CheckUsable(); !s) return s;
  Image view;
  if (Status s = MatImage(stream_id, image, format, &view); !s) return s;
  return Push(stream_id, view, pts);
}

Status AppSource::PushZeroCopy(const std::string& stream_id, const cv::Mat& image, int64_t pts, PixelFormat format) {
  if (Status s = CheckUsable(); !s) return s;
  Image view;
  if (Status s = MatImage(stream_id, image, format, &view); !s) return s;
  cv::Mat keep = image;  // a reference: the Mat's pixels live until the last frame lets go
  return PushZeroCopy(stream_id, view, [keep]() mutable { keep.release(); }, pts);
}

Status AppSource::Push(const std::string& stream_id, VideoFrame image, int64_t pts) {
  if (Status s = CheckUsable(); !s) return s;
  if (image.empty()) {
    return {StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream_id + "': the image is empty"};
  }
  if (Status s = CheckRequirements(stream_id, image.width(), image.height(), image.format()); !s) return s;
  return PushFrame(stream_id, std::move(image), pts);
}

Status AppSource::NotRunning() const {
  return {StatusCode::kFailedState, "module '" + name() +
                                        "' is not running: frames are pushed between the pipeline's Start and Stop"};
}

Status AppSource::Claim(const std::string& stream_id, std::unique_lock<std::mutex>& lock,
                        std::shared_ptr<Stream>* out) {
  if (closed_) return NotRunning();
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    if (std::find(recently_ended_.begin(), recently_ended_.end(), stream_id) != recently_ended_.end()) {
      return {StatusCode::kFailedState, "module '" + name() + "': stream '" + stream_id +
                                            "' has ended; add it again (AddSource) to push more frames"};
    }
    return {StatusCode::kNotFound, "module '" + name() + "': no stream '" + stream_id +
                                       "'; start it with the streams parameter or AddSource(id, \"app://\")"};
  }
  std::shared_ptr<Stream> stream = it->second;
  // One frame of a stream at a time, so that frames leave in index order.
  changed_.wait(lock, [&] { return !stream->pushing || stream->ended || closed_; });
  if (closed_) return NotRunning();
  if (stream->ended) {
    return {StatusCode::kFailedState, "module '" + name() + "': stream '" + stream_id +
                                          "' has ended; add it again (AddSource) to push more frames"};
  }
  *out = std::move(stream);
  return Status::Ok();
}

Status AppSource::NextPts(Stream& stream, int64_t pts, int64_t* out) const {
  const bool first = stream.next_index == 0;
  if (pts != kAutoPts) {
    if (!first && pts <= stream.last_pts) {
      return {StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream.id + "': pts " +
                                                std::to_string(pts) + " is not after the previous frame's pts " +
                                                std::to_string(stream.last_pts) +
                                                "; pts must increase (or leave it out to have it derived)"};
    }
    *out = pts;
    return Status::Ok();
  }
  // A frame rate so low that one frame's step is beyond an hour is taken as an hour (llround of
  // 1e6 / 1e-20 would not fit); after a given pts near the end of int64, derived ones cannot follow.
  constexpr double kLongestStep = 3600e6;
  const int64_t step =
      stream.frame_rate > 0 ? std::max<int64_t>(1, std::llround(std::min(1e6 / stream.frame_rate, kLongestStep))) : 1;
  if (first) {
    *out = 0;
  } else if (stream.last_pts > std::numeric_limits<int64_t>::max() - step) {
    return {StatusCode::kInvalidArgument, "module '" + name() + "': stream '" + stream.id +
                                              "': the next pts would pass the largest one after pts " +
                                              std::to_string(stream.last_pts) + "; give pts explicitly"};
  } else if (stream.frame_rate > 0) {
    *out = stream.last_pts + step;
  } else {
    const auto since_first = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - stream.first_push);
    *out = std::max<int64_t>(stream.last_pts + 1, since_first.count());
  }
  return Status::Ok();
}

Status AppSource::CheckUsable() const {
  // A forked child has a copy of this module but none of the pipeline's threads: a push would wait
  // for room that never comes (and the copied lock may be held).
  if (const int owner = owner_pid_.load(); owner != 0 && static_cast<int>(::getpid()) != owner) {
    return {StatusCode::kFailedState, "module '" + name() + "' cannot be used in process " +
                                          std::to_string(::getpid()) + ", a child forked from process " +
                                          std::to_string(owner) + " that runs its pipeline"};
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_ ? NotRunning() : Status::Ok();
}

Status AppSource::PushFrame(const std::string& stream_id, VideoFrame image, int64_t pts) {
  if (Status s = CheckUsable(); !s) return s;
  std::shared_ptr<Stream> stream;
  int64_t index = 0;
  int64_t frame_pts = 0;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (Status s = Claim(stream_id, lock, &stream); !s) return s;
    if (Status s = NextPts(*stream, pts, &frame_pts); !s) return s;
    if (stream->next_index == 0) stream->first_push = std::chrono::steady_clock::now();
    index = stream->next_index++;
    stream->last_pts = frame_pts;
    stream->pushing = true;
    ++in_flight_;
  }
  FramePtr frame = Frame::Create(stream_id, index);
  frame->pts = frame_pts;
  frame->image = std::move(image);
  const bool taken = Transmit(std::move(frame));  // waits while the next queue is full
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stream->pushing = false;
    --in_flight_;
    if (!taken) {
      stream->ended = true;  // the pipeline takes no frames any more; Close frees the id
    } else if (stream->ended && !stream->eos_queued) {
      QueueEosLocked(stream);  // ended while this frame was on its way: the EOS follows it
    }
    changed_.notify_all();
  }
  if (!taken) {
    return {StatusCode::kFailedState, "module '" + name() + "': the pipeline is stopping; frame " +
                                          std::to_string(index) + " of stream '" + stream_id + "' was not taken"};
  }
  return Status::Ok();
}

VSTREAM_REGISTER_MODULE(AppSource);

}  // namespace vstream
