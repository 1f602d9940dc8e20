#include "vstream/modules/encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vstream/ffmpeg.hpp"
#include "vstream/log.hpp"
#include "vstream/opencv.hpp"
#include "vstream/registry.hpp"

namespace vstream {
namespace detail {

// One stream's open file: muxer, encoder, converter.
struct EncodeSession {
  ~EncodeSession() {
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    if (format != nullptr) {
      if ((format->oformat->flags & AVFMT_NOFILE) == 0) avio_closep(&format->pb);
      avformat_free_context(format);
    }
  }

  Status Start(const std::string& file, const std::string& codec_name, int width, int height, double frame_rate,
               int crf, int bitrate_kbps, const std::string& preset) {
    path = file;
    if (frame_rate > 0) duration_us = static_cast<int64_t>(1e6 / frame_rate);
    std::error_code ignored;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    int rc = avformat_alloc_output_context2(&format, nullptr, nullptr, path.c_str());
    if (rc < 0 || format == nullptr) {
      return {StatusCode::kInvalidArgument, "cannot tell the container of '" + path + "' from its extension (use .mp4, .mkv, .avi, .mov)"};
    }
    const AVCodec* encoder = avcodec_find_encoder_by_name(codec_name.c_str());
    if (encoder == nullptr) return {StatusCode::kUnavailable, "this FFmpeg has no encoder '" + codec_name + "'"};
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
    if (format->oformat->flags & AVFMT_GLOBALHEADER) codec->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* options = nullptr;
    if (codec_name == "libx264" || codec_name == "libx265") {
      av_dict_set(&options, "preset", preset.c_str(), 0);
      if (bitrate_kbps == 0) av_dict_set(&options, "crf", std::to_string(crf).c_str(), 0);
    }
    rc = avcodec_open2(codec, encoder, &options);
    av_dict_free(&options);
    if (rc < 0) return {StatusCode::kRuntimeError, "cannot open encoder " + codec_name + " for " + path + ": " + AvError(rc)};
    stream = avformat_new_stream(format, nullptr);
    avcodec_parameters_from_context(stream->codecpar, codec);
    stream->time_base = codec->time_base;
    if ((format->oformat->flags & AVFMT_NOFILE) == 0) {
      rc = avio_open(&format->pb, path.c_str(), AVIO_FLAG_WRITE);
      if (rc < 0) return {StatusCode::kRuntimeError, "cannot write '" + path + "': " + AvError(rc)};
    }
    rc = avformat_write_header(format, nullptr);
    if (rc < 0) return {StatusCode::kRuntimeError, "cannot write the header of '" + path + "': " + AvError(rc)};
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
    if (s && rc < 0) s = Status(StatusCode::kRuntimeError, "cannot finish '" + path + "': " + AvError(rc));
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
      if (rc < 0) return {StatusCode::kRuntimeError, "writing '" + path + "' failed: " + AvError(rc)};
    }
    return Status::Ok();
  }

  std::string path;
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
           ParamSpec::Int("jpeg_quality", 90, "JPEG output quality").Range(1, 100)},
          R"(Each stream gets its own file, opened at its first frame (the frame's size is the video's size)
and completed at the stream's EOS (the encoder is flushed and the trailer written), so a finished
stream leaves a playable file even while the pipeline runs on; streams still open when the
pipeline stops are completed in Close. Frames are converted to the encoder's pixel format
(yuv420p for H.264). A frame whose size differs from its stream's first frame is a frame error.)"};
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
    return Fail("codec: this FFmpeg has no encoder '" + codec_ + "' (ffmpeg -encoders lists them)");
  }
  if (!jpeg_ && av_guess_format(nullptr, path_.c_str(), nullptr) == nullptr) {
    return Fail("path: no container for '" + path_ + "' (use .mp4, .mkv, .avi, .mov, or .jpg for images)");
  }
  crf_ = static_cast<int>(params.GetInt("crf"));
  bitrate_kbps_ = static_cast<int>(params.GetInt("bitrate_kbps"));
  preset_ = params.GetString("preset");
  frame_rate_ = params.GetDouble("frame_rate");
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
  if (const size_t at = path.find("{stream}"); at != std::string::npos) path.replace(at, 8, stream_id);
  if (const size_t at = path.find("{index}"); at != std::string::npos) {
    char digits[32];
    std::snprintf(digits, sizeof(digits), "%06lld", static_cast<long long>(index));
    path.replace(at, 7, digits);
  }
  return path;
}

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
  if (jpeg_) {
    const std::string path = PathFor(frame->stream_id, frame->frame_index);
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    VideoFrame& image = frame->image;
    const cv::Mat bgr = image.format() == PixelFormat::kGray8 ? ToMat(image) : ToBgrMat(image);  // JPEG takes gray as is
    if (!cv::imwrite(path, bgr, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality_})) {
      return Fail("cannot write '" + path + "'");
    }
    return {};
  }
  auto& session = sessions_[frame->stream_id];
  if (!session) {
    session = std::make_unique<detail::EncodeSession>();
    const std::string path = PathFor(frame->stream_id, frame->frame_index);
    if (Status s = session->Start(path, codec_, frame->image.width(), frame->image.height(), frame_rate_, crf_,
                                  bitrate_kbps_, preset_);
        !s) {
      sessions_.Erase(frame->stream_id);
      return Fail(s.message());
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

VSTREAM_REGISTER_MODULE(Encoder);

}  // namespace vstream
