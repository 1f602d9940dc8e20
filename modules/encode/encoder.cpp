#include "vstream/modules/encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vstream/ffmpeg.hpp"
#include "vstream/log.hpp"
#include "vstream/opencv.hpp"
#include "vstream/registry.hpp"
#include "vstream/stream_id.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace detail {

// Opens an output file for writing without following a symbolic link planted at `path`
// (O_NOFOLLOW: the check and the open are one system call). Returns the fd, or -1 with `error`.
int OpenOutputFile(const std::string& path, Status* error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd >= 0) return fd;
  const int code = errno;
  if (code == ELOOP) {
    *error = Status(StatusCode::kInvalidArgument, "'" + Printable(path, 512) +
                                                      "' is a symbolic link; the Encoder does not write through "
                                                      "links (remove it or choose another path)");
  } else {
    *error = Status(StatusCode::kRuntimeError, "cannot write '" + Printable(path, 512) + "': " + std::strerror(code));
  }
  return -1;
}

// FFmpeg writes the container through these callbacks to a file descriptor vstream opened itself
// (avio_open would open by path and follow a link).
#if LIBAVFORMAT_VERSION_MAJOR >= 61
using AvioWriteBuffer = const uint8_t*;
#else
using AvioWriteBuffer = uint8_t*;
#endif

// Writes all `size` bytes; 0, or a negative errno.
int WriteAll(int fd, const uint8_t* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

int WriteToFd(void* opaque, AvioWriteBuffer data, int size) {
  const int rc = WriteAll(*static_cast<int*>(opaque), data, static_cast<size_t>(size));
  return rc < 0 ? AVERROR(-rc) : size;
}

int64_t SeekFd(void* opaque, int64_t offset, int whence) {
  const int fd = *static_cast<int*>(opaque);
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) return AVERROR(errno);
    return info.st_size;
  }
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return AVERROR(EINVAL);
  const off_t at = ::lseek(fd, static_cast<off_t>(offset), whence);
  return at < 0 ? AVERROR(errno) : static_cast<int64_t>(at);
}

// One stream's open file: muxer, encoder, converter.
struct EncodeSession {
  ~EncodeSession() {
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    if (format != nullptr) {
      format->pb = nullptr;  // ours (custom I/O), freed below
      avformat_free_context(format);
    }
    if (io != nullptr) {
      av_freep(&io->buffer);
      avio_context_free(&io);
    }
    if (fd >= 0) ::close(fd);
  }

  Status Start(const std::string& file, const std::string& codec_name, int width, int height, double frame_rate,
               int crf, int bitrate_kbps, const std::string& preset, int gop_size) {
    path = file;
    if (frame_rate > 0) duration_us = static_cast<int64_t>(1e6 / frame_rate);
    std::error_code ignored;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    int rc = avformat_alloc_output_context2(&format, nullptr, nullptr, path.c_str());
    if (rc < 0 || format == nullptr) {
      return {StatusCode::kInvalidArgument, "cannot tell the container of '" + Printable(path, 512) + "' from its extension (use .mp4, .mkv, .avi, .mov)"};
    }
    const AVCodec* encoder = avcodec_find_encoder_by_name(codec_name.c_str());
    if (encoder == nullptr) {
      return {StatusCode::kUnavailable, "this FFmpeg has no encoder '" + Printable(codec_name) + "'"};
    }
    codec = avcodec_alloc_context3(encoder);
    codec->width = width;
    codec->height = height;
    codec->time_base = {1, 1000000};  // frame pts are in microseconds
    const int rate = frame_rate > 0 ? static_cast<int>(frame_rate + 0.5) : 25;
    codec->framerate = {rate, 1};
    codec->pix_fmt = AV_PIX_FMT_YUV420P;
    if (encoder->pix_fmts != nullptr) {
      bool has_420 = false;
      for (const AVPixelFormat* f = encoder->pix_fmts; *f != AV_PIX_FMT_NONE; ++f) has_420 |= *f == AV_PIX_FMT_YUV420P;
      if (!has_420) codec->pix_fmt = encoder->pix_fmts[0];
    }
    if (bitrate_kbps > 0) codec->bit_rate = int64_t{bitrate_kbps} * 1000;
    if (gop_size > 0) codec->gop_size = gop_size;
    if (format->oformat->flags & AVFMT_GLOBALHEADER) codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* options = nullptr;
    if (codec_name == "libx264" || codec_name == "libx265") {
      av_dict_set(&options, "preset", preset.c_str(), 0);
      if (bitrate_kbps == 0) av_dict_set(&options, "crf", std::to_string(crf).c_str(), 0);
    }
    rc = avcodec_open2(codec, encoder, &options);
    av_dict_free(&options);
    if (rc < 0) {
      return {StatusCode::kRuntimeError,
              "cannot open encoder " + Printable(codec_name) + " for " + Printable(path, 512) + ": " + AvError(rc)};
    }
    stream = avformat_new_stream(format, nullptr);
    avcodec_parameters_from_context(stream->codecpar, codec);
    stream->time_base = codec->time_base;
    if ((format->oformat->flags & AVFMT_NOFILE) == 0) {
      Status opened;
      fd = OpenOutputFile(path, &opened);
      if (fd < 0) return opened;
      constexpr int kBufferSize = 64 * 1024;
      auto* buffer = static_cast<unsigned char*>(av_malloc(kBufferSize));
      if (buffer == nullptr) return {StatusCode::kRuntimeError, "out of memory opening '" + Printable(path, 512) + "'"};
      io = avio_alloc_context(buffer, kBufferSize, 1, &fd, nullptr, WriteToFd, SeekFd);
      if (io == nullptr) {
        av_free(buffer);
        return {StatusCode::kRuntimeError, "out of memory opening '" + Printable(path, 512) + "'"};
      }
      format->pb = io;
      format->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    rc = avformat_write_header(format, nullptr);
    if (rc < 0) return {StatusCode::kRuntimeError, "cannot write the header of '" + Printable(path, 512) + "': " + AvError(rc)};
    frame = av_frame_alloc();
    frame->format = codec->pix_fmt;
    frame->width = width;
    frame->height = height;
    av_frame_get_buffer(frame, 32);
    packet = av_packet_alloc();
    return Status::Ok();
  }

  Status Write(const VideoFrame& image, int64_t pts_us) {
    if (image.width() != codec->width || image.height() != codec->height) {
      return {StatusCode::kInvalidArgument, "frame size changed from " + std::to_string(codec->width) + "x" +
                                                std::to_string(codec->height) + " to " + std::to_string(image.width()) +
                                                "x" + std::to_string(image.height()) + " within one stream"};
    }
    sws = sws_getCachedContext(sws, image.width(), image.height(), ToAvPixelFormat(image.format()), codec->width,
                               codec->height, codec->pix_fmt, SWS_BILINEAR, nullptr, nullptr, nullptr);
    av_frame_make_writable(frame);
    const uint8_t* planes[4] = {image.plane(0), image.plane_count() > 1 ? image.plane(1) : nullptr, nullptr, nullptr};
    const int strides[4] = {image.stride(0), image.plane_count() > 1 ? image.stride(1) : 0, 0, 0};
    sws_scale(sws, planes, strides, 0, image.height(), frame->data, frame->linesize);
    if (pts_us <= last_pts) pts_us = last_pts + 1;  // the muxer needs increasing timestamps
    // Every packet carries a duration: without one the last frame falls outside the MP4's edit
    // list and players drop it.
    if (last_pts != INT64_MIN) duration_us = pts_us - last_pts;
    last_pts = pts_us;
    frame->pts = pts_us;
    return Send(frame);
  }

  Status Finish() {
    Status s = Send(nullptr);
    const int rc = av_write_trailer(format);
    if (s && rc < 0) s = Status(StatusCode::kRuntimeError, "cannot finish '" + Printable(path, 512) + "': " + AvError(rc));
    if (io != nullptr) {
      avio_flush(io);
      if (s && io->error < 0) {
        s = Status(StatusCode::kRuntimeError, "writing '" + Printable(path, 512) + "' failed: " + AvError(io->error));
      }
    }
    if (fd >= 0 && ::close(fd) != 0 && s) {
      s = Status(StatusCode::kRuntimeError, "writing '" + Printable(path, 512) + "' failed: " + std::strerror(errno));
    }
    fd = -1;
    return s;
  }

  Status Send(AVFrame* input) {
    int rc = avcodec_send_frame(codec, input);
    if (rc < 0 && rc != AVERROR_EOF) return {StatusCode::kRuntimeError, "encoding failed: " + AvError(rc)};
    while ((rc = avcodec_receive_packet(codec, packet)) == 0) {
      if (packet->duration <= 0) packet->duration = duration_us;
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      rc = av_interleaved_write_frame(format, packet);
      if (rc < 0) return {StatusCode::kRuntimeError, "writing '" + Printable(path, 512) + "' failed: " + AvError(rc)};
    }
    return Status::Ok();
  }

  std::string path;
  int fd = -1;                 // the output file, opened without following links
  AVIOContext* io = nullptr;   // FFmpeg's writer on fd
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;
  AVPacket* packet = nullptr;
  int64_t last_pts = INT64_MIN;
  int64_t duration_us = 40000;  // of one frame: the last gap between frames (25 fps until known)
  int64_t frames = 0;
};

}  // namespace detail

Encoder::~Encoder() { Close(); }

ModuleDescription Encoder::Describe() {
  return {"Writes each stream to a video file (FFmpeg) or to JPEG images.",
          {ParamSpec::String("path", "output/{stream}.mp4",
                             "output per stream: {stream} becomes the stream id; the extension picks the container "
                             "(.mp4, .mkv, .avi, .mov) or JPEG images (.jpg, .jpeg, with {index} for the frame "
                             "index); relative paths start at the config's folder"),
           ParamSpec::String("codec", "libx264", "FFmpeg video encoder (libx264, libx265, mpeg4, libvpx-vp9, ...)"),
           ParamSpec::Int("crf", 23, "libx264/libx265 constant quality (lower is better) when bitrate_kbps is 0")
               .Range(0, 51),
           ParamSpec::Int("bitrate_kbps", 0, "target bitrate; 0 uses crf").Range(0, 1000000),
           ParamSpec::String("preset", "veryfast", "libx264/libx265 speed preset"),
           ParamSpec::Double("frame_rate", 0,
                             "0: timestamps from the frames' pts; > 0: frames are evenly spaced at this rate")
               .Min(0),
           ParamSpec::Int("gop_size", 0, "frames from one key frame to the next; 0: the encoder's default")
               .Range(0, 100000),
           ParamSpec::Int("jpeg_quality", 90, "JPEG output quality").Range(1, 100)},
          R"(Each stream gets its own file, opened at its first frame (the frame's size is the video's size)
and completed at the stream's EOS (the encoder is flushed and the trailer written), so a finished
stream leaves a playable file even while the pipeline runs on; streams still open when the
pipeline stops are completed in Close. Frames are converted to the encoder's pixel format
(yuv420p for H.264). A frame whose size differs from its stream's first frame is a frame error.

Output files are opened without following links: a symbolic link at an output path is a frame
error (`'PATH' is a symbolic link ...`), and nothing is written where it points. Stream ids
cannot leave the output folder (see the stream id rules in config.md); a frame whose id would is
a frame error.

CNStream's `cnstream::Encode` and `cnstream::VEncode` name this class; their `file_name`
(`out/output.mp4` writes `out/output_<stream>.mp4`), `bit_rate`, `gop_size` and the rest are
translated when a config is read (see the CNStream table in [config.md](../config.md#cnstream-configs)).)"};
}

Status Encoder::Open(const ModuleParams& params) {
  path_ = params.GetString("path");
  if (std::filesystem::path(path_).is_relative()) path_ = (params.base_dir() / path_).string();
  std::string ext = std::filesystem::path(path_).extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  jpeg_ = ext == ".jpg" || ext == ".jpeg";
  if (jpeg_ && path_.find("{index}") == std::string::npos) {
    return Fail("path: JPEG output writes one image per frame, so the path needs {index} (e.g. out/{stream}/{index}.jpg)");
  }
  codec_ = params.GetString("codec");
  if (!jpeg_ && avcodec_find_encoder_by_name(codec_.c_str()) == nullptr) {
    return Fail("codec: this FFmpeg has no encoder '" + Printable(codec_) + "' (ffmpeg -encoders lists them)");
  }
  if (!jpeg_ && av_guess_format(nullptr, path_.c_str(), nullptr) == nullptr) {
    return Fail("path: no container for '" + Printable(path_, 512) + "' (use .mp4, .mkv, .avi, .mov, or .jpg for images)");
  }
  crf_ = static_cast<int>(params.GetInt("crf"));
  bitrate_kbps_ = static_cast<int>(params.GetInt("bitrate_kbps"));
  preset_ = params.GetString("preset");
  frame_rate_ = params.GetDouble("frame_rate");
  gop_size_ = static_cast<int>(params.GetInt("gop_size"));
  jpeg_quality_ = static_cast<int>(params.GetInt("jpeg_quality"));
  sessions_.Reset(parallelism());
  return {};
}

void Encoder::Close() {
  sessions_.ForEach([this](const std::string&, std::unique_ptr<detail::EncodeSession>& session) {
    if (Status s = session->Finish(); !s) VSTREAM_LOG_WARN("module '{}': {}", name(), s.message());
  });
  sessions_.Clear();
}

std::string Encoder::PathFor(const std::string& stream_id, int64_t index) const {
  std::string path = path_;
  for (size_t at; (at = path.find("{stream}")) != std::string::npos;) path.replace(at, 8, stream_id);
  if (const size_t at = path.find("{index}"); at != std::string::npos) {
    char digits[32];
    std::snprintf(digits, sizeof(digits), "%06lld", static_cast<long long>(index));
    path.replace(at, 7, digits);
  }
  return path;
}

namespace {
// Writes a JPEG image to `path` without following a symbolic link planted there.
Status WriteJpeg(const std::string& path, const cv::Mat& image, int quality) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".jpg", image, bytes, {cv::IMWRITE_JPEG_QUALITY, quality})) {
    return {StatusCode::kRuntimeError, "cannot encode a JPEG image for '" + Printable(path, 512) + "'"};
  }
  Status opened;
  const int fd = detail::OpenOutputFile(path, &opened);
  if (fd < 0) return opened;
  const int written = detail::WriteAll(fd, bytes.data(), bytes.size());
  const int closed = ::close(fd) == 0 ? 0 : errno;
  if (written < 0 || closed != 0) {
    return {StatusCode::kRuntimeError,
            "cannot write '" + Printable(path, 512) + "': " + std::strerror(written < 0 ? -written : closed)};
  }
  return Status::Ok();
}
}  // namespace

Status Encoder::Process(FramePtr frame) {
  if (frame->IsEos()) {
    auto* ending = sessions_.Find(frame->stream_id);
    if (ending == nullptr) return {};
    Status s = (*ending)->Finish();
    sessions_.Erase(frame->stream_id);
    if (!s) {
      return Fail(s.message());
    }
    return {};
  }
  if (frame->image.empty()) return {};
  // Stream ids are checked where streams start; this keeps an id from elsewhere (a frame made by a
  // custom module) from naming a file outside the output folder all the same.
  if (path_.find("{stream}") != std::string::npos) {
    if (Status s = CheckStreamId(frame->stream_id); !s) return Fail(s.message(), s.code());
  }
  if (jpeg_) {
    const std::string path = PathFor(frame->stream_id, frame->frame_index);
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    VideoFrame& image = frame->image;
    const cv::Mat bgr = image.format() == PixelFormat::kGray8 ? ToMat(image) : ToBgrMat(image);  // JPEG takes gray as is
    if (Status s = WriteJpeg(path, bgr, jpeg_quality_); !s) return Fail(s.message(), s.code());
    return {};
  }
  auto& session = sessions_[frame->stream_id];
  if (!session) {
    session = std::make_unique<detail::EncodeSession>();
    const std::string path = PathFor(frame->stream_id, frame->frame_index);
    if (Status s = session->Start(path, codec_, frame->image.width(), frame->image.height(), frame_rate_, crf_,
                                  bitrate_kbps_, preset_, gop_size_);
        !s) {
      sessions_.Erase(frame->stream_id);
      return Fail(s.message(), s.code());
    }
  }
  const int64_t pts = frame_rate_ > 0 ? static_cast<int64_t>(static_cast<double>(session->frames) * 1e6 / frame_rate_)
                                      : static_cast<int64_t>(frame->timestamp() * 1e6);
  ++session->frames;
  if (Status s = session->Write(frame->image, pts); !s) {
    return Fail(s.message());
  }
  return {};
}

VSTREAM_REGISTER_MODULE_WITH_ALIASES(Encoder, "Encode", "VEncode");  // CNStream's names for it

}  // namespace vstream
