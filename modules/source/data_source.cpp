#include "vstream/modules/data_source.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include "vstream/log.hpp"
#include "stream_reader.hpp"
#include "vstream/text.hpp"
#include "vstream/registry.hpp"

namespace vstream {

struct DataSource::Stream {
  std::string id;
  std::string uri;
  std::shared_ptr<detail::ByteFeed> feed;  // memory inputs only
  std::unique_ptr<detail::StreamReader> reader;
  std::thread thread;
  std::atomic<bool> done{false};
};

DataSource::~DataSource() { Close(); }

ModuleDescription DataSource::Describe() {
  return {
      "Decodes video files, network streams, image sequences, V4L2 cameras and in-memory H.264/H.265 with FFmpeg.",
      {ParamSpec::List("inputs", "",
                       "streams started at Open: URIs or paths, each optionally 'id=URI' (ids default to stream_<n>); "
                       "a single entry ending in .txt or .list is a file with one input per line"),
       ParamSpec::Enum("source_type", "ffmpeg", {"ffmpeg"}, "demuxer and decoder library (CNStream setting)"),
       ParamSpec::Enum("pixel_format", "bgr24", {"bgr24", "rgb24", "nv12", "gray8"}, "pixel format of output frames"),
       ParamSpec::Enum("decoder_type", "cpu", {"cpu", "hw", "mlu"},
                       "cpu, or hw: an FFmpeg hardware decoder (CUDA, VAAPI, QSV, ...) when the machine has one, "
                       "else the CPU with a warning; CNStream's mlu means hw"),
       ParamSpec::Enum("output_type", "cpu", {"cpu", "mlu"},
                       "where output frames live; frames are always in CPU memory (mlu is accepted with a warning)"),
       ParamSpec::Int("device_id", 0, "hardware decoder device (decoder_type hw); -1 means CPU").Range(-1, 64),
       ParamSpec::Bool("reuse_cndec_buf", false,
                       "CNStream setting, accepted for compatibility: decoded frames are always copied out of the "
                       "decoder's buffers"),
       ParamSpec::Int("decoder_threads", 0, "decoder threads per stream; 0 lets FFmpeg choose").Range(0, 64),
       ParamSpec::Bool("loop", false, "restart files and image sequences at their end (frame_index keeps counting)"),
       ParamSpec::Double("frame_rate", 0,
                         "0: as fast as the pipeline takes frames; > 0: paced to this many frames per second, like a "
                         "camera")
           .Min(0),
       ParamSpec::Int("interval", 1, "keep every Nth decoded frame (frame_index still counts every decoded frame)")
           .Range(1, 100000),
       ParamSpec::Int("reconnect", 0,
                      "network inputs: attempts to reconnect after a disconnect, a stall or the end of the stream "
                      "(0: a network stream ends when its connection does)")
           .Range(0, 1000000),
       ParamSpec::Int("reconnect_delay_ms", 500, "first reconnect back-off; doubles per attempt, up to 16 times")
           .Range(1, 600000),
       ParamSpec::Int("stall_timeout_ms", 10000,
                      "network inputs: no data for this long counts as a disconnect; 0 waits forever")
           .Range(0, 3600000),
       ParamSpec::Enum("rtsp_transport", "tcp", {"tcp", "udp"}, "RTSP transport"),
       ParamSpec::Int("max_decode_errors", 50,
                      "packets in a row the decoder may reject before the stream ends with an error")
           .Range(1, 1000000),
       ParamSpec::Int("memory_buffer_kb", 4096, "mem:// inputs: bytes buffered before PushBytes blocks")
           .Range(16, 1048576)},
      R"(Each stream decodes on its own thread: demux, decode, convert to `pixel_format` into pooled
buffers (rows aligned to 64 bytes), and hand the frame downstream, waiting while the next module's
queue is full. `frame_index` counts decoded frames from 0 (also across loops and reconnects); `pts`
is in microseconds and always increases, even when the input has no timestamps or they jump back.

## Inputs

| URI | read as |
|---|---|
| `videos/a.mp4`, `file:///abs/a.mkv` | a file of any container and codec FFmpeg reads (relative paths in `inputs` start at the config's folder) |
| `rtsp://`, `rtmp://`, `http(s)://`, `tcp://`, `udp://`, `srt://` ... | a network stream (`reconnect`, `stall_timeout_ms`, `rtsp_transport` apply) |
| `frames/img_%04d.png`, or a folder | an image sequence: a printf pattern, or every image in the folder in name order (the most common extension) |
| `/dev/video0`, `v4l2:///dev/video0` | a V4L2 camera |
| `mem://h264`, `mem://hevc` | Annex-B bytes pushed from C++: `DataSource::PushBytes(id, data, size)`, then `EndBytes(id)` |

Streams come from `inputs` (entries `URI` or `ID=URI`; ids default to `stream_<n>`), from
`Pipeline::AddSource(id, uri, options)` and from `vstream run --input [ID=]URI`. Per-stream
`options` override these parameters for one stream: `loop`, `frame_rate`, `interval`, `reconnect`,
`reconnect_delay_ms`, `stall_timeout_ms`, `decoder_threads`, `rtsp_transport`.

## When an input is bad

A bad input ends its own stream with one stream-error event that names the input and the cause,
then the stream's EOS; other streams go on:

| input | message starts with / contains |
|---|---|
| missing file | `cannot open 'x.mp4': no such file` |
| not a video, or garbage | `cannot open 'x.mp4': Invalid data found when processing input` |
| audio only | `no video stream in 'x.wav'` |
| a codec FFmpeg cannot decode | `unsupported video codec ... in 'x.avi'` |
| truncated file | `read error in 'x.mp4' after N frames: ...` or `'x.avi' ended after N of the M frames its index announces` |
| corrupt data | `corrupt data in 'x.ts': the decoder reported N error(s) and M of P video packets could not be decoded`, at the end of the stream; `max_decode_errors` rejected packets in a row end it at once |
| a stream with no frame | `'x' ended without a single decodable frame` |
| network stream lost | with `reconnect` > 0 it reconnects with back-off (the stream goes on, frame_index and pts keep increasing); when the budget runs out: `<cause>; gave up after N reconnect attempt(s) (last: ...)` |
| network stream silent | `no data from 'tcp://...' for N ms (stall_timeout_ms)`, then reconnecting as above |

Frames the decoder concealed errors in carry the `kFrameInvalid` flag.

## CNStream compatibility

CNStream's `source_type: ffmpeg`, `reuse_cndec_buf`, `output_type` and `decoder_type` are accepted
as its configs spell them. `decoder_type: mlu` (a Cambricon decoder) means `hw`, and
`output_type: mlu` keeps frames in CPU memory; both say so in the log. `decoder_type: hw` uses the
first FFmpeg hardware decoder that works on the machine (CUDA on `device_id`, VAAPI, QSV, VDPAU, ...)
and otherwise logs a warning and decodes on the CPU.)"};
}

namespace {
// Applies per-stream options (same names as the module's parameters) to a copy of the defaults.
Status ApplyOptions(const StreamOptions& options, detail::ReaderSettings* settings) {
  for (const auto& [key, value] : options) {
    auto as_int = [&](int64_t lo, int64_t hi, int64_t* out) {
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v < lo || v > hi) return false;
      *out = v;
      return true;
    };
    int64_t n = 0;
    bool ok = true;
    if (key == "loop") {
      auto b = ParseBool(value);
      ok = b.has_value();
      if (ok) settings->loop = *b;
    } else if (key == "frame_rate") {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      ok = !value.empty() && *end == '\0' && v >= 0;
      if (ok) settings->frame_rate = v;
    } else if (key == "interval") {
      ok = as_int(1, 100000, &n);
      if (ok) settings->interval = static_cast<int>(n);
    } else if (key == "reconnect") {
      ok = as_int(0, 1000000, &n);
      if (ok) settings->reconnect = static_cast<int>(n);
    } else if (key == "reconnect_delay_ms") {
      ok = as_int(1, 600000, &n);
      if (ok) settings->reconnect_delay_ms = static_cast<int>(n);
    } else if (key == "stall_timeout_ms") {
      ok = as_int(0, 3600000, &n);
      if (ok) settings->stall_timeout_ms = static_cast<int>(n);
    } else if (key == "decoder_threads") {
      ok = as_int(0, 64, &n);
      if (ok) settings->decoder_threads = static_cast<int>(n);
    } else if (key == "rtsp_transport") {
      ok = value == "tcp" || value == "udp";
      if (ok) settings->rtsp_transport = value;
    } else {
      return {StatusCode::kInvalidArgument,
              "unknown stream option '" + key +
                  "'; options: loop, frame_rate, interval, reconnect, reconnect_delay_ms, stall_timeout_ms, "
                  "decoder_threads, rtsp_transport"};
    }
    if (!ok) return {StatusCode::kInvalidArgument, "stream option " + key + "='" + value + "' is out of range or malformed"};
  }
  return Status::Ok();
}

// Expands `inputs`: "id=uri" entries, a .txt/.list file of inputs, relative paths against `base`.
Status ExpandInputs(const std::vector<std::string>& entries, const std::filesystem::path& base,
                    std::vector<std::pair<std::string, std::string>>* out) {
  std::vector<std::string> lines = entries;
  std::filesystem::path list_base = base;
  if (entries.size() == 1) {
    const std::string& only = entries[0];
    const std::string ext = std::filesystem::path(only).extension().string();
    if (ext == ".txt" || ext == ".list") {
      std::filesystem::path list = only;
      if (list.is_relative()) list = base / list;
      std::ifstream in(list);
      if (!in) return {StatusCode::kNotFound, "inputs: cannot read the input list '" + list.string() + "'"};
      lines.clear();
      for (std::string line; std::getline(in, line);) {
        line = vstream::Trim(line);
        if (!line.empty() && line[0] != '#') lines.push_back(line);
      }
      list_base = list.parent_path();
    }
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string id = "stream_" + std::to_string(i);
    std::string uri = lines[i];
    const size_t equals = uri.find('=');
    if (equals != std::string::npos && equals > 0 && uri.find("://") > equals && uri.find('/') > equals) {
      id = uri.substr(0, equals);
      uri = uri.substr(equals + 1);
    }
    if (uri.find("://") == std::string::npos && uri.rfind("/dev/", 0) != 0) {
      std::filesystem::path p = uri;
      if (p.is_relative()) uri = (list_base / p).lexically_normal().string();
    }
    out->emplace_back(id, uri);
  }
  return Status::Ok();
}
}  // namespace

Status DataSource::Open(const ModuleParams& params) {
  auto settings = std::make_unique<detail::ReaderSettings>();
  settings->format = ParsePixelFormat(params.GetString("pixel_format"));
  settings->decoder_threads = static_cast<int>(params.GetInt("decoder_threads"));
  settings->device_id = static_cast<int>(params.GetInt("device_id"));
  const std::string decoder_type = params.GetString("decoder_type");
  if (decoder_type == "mlu") {
    VSTREAM_LOG_WARN("module '{}': decoder_type 'mlu' is CNStream's Cambricon decoder; using the best available "
                "decoder instead (decoder_type hw: a hardware decoder if this machine has one, else the CPU)",
                name());
  }
  settings->hardware = decoder_type != "cpu" && settings->device_id >= 0;
  if (params.GetString("output_type") == "mlu") {
    VSTREAM_LOG_WARN("module '{}': output_type 'mlu' is not available: frames are delivered in CPU memory", name());
  }
  settings->loop = params.GetBool("loop");
  settings->frame_rate = params.GetDouble("frame_rate");
  settings->interval = static_cast<int>(params.GetInt("interval"));
  settings->reconnect = static_cast<int>(params.GetInt("reconnect"));
  settings->reconnect_delay_ms = static_cast<int>(params.GetInt("reconnect_delay_ms"));
  settings->stall_timeout_ms = static_cast<int>(params.GetInt("stall_timeout_ms"));
  settings->rtsp_transport = params.GetString("rtsp_transport");
  settings->max_decode_errors = static_cast<int>(params.GetInt("max_decode_errors"));
  settings->memory_buffer_bytes = static_cast<size_t>(params.GetInt("memory_buffer_kb")) * 1024;
  defaults_ = std::move(settings);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = false;
  }
  if (params.Has("inputs")) {
    std::vector<std::pair<std::string, std::string>> inputs;
    if (Status s = ExpandInputs(params.GetList("inputs"), params.base_dir(), &inputs); !s) return Fail(s.message());
    for (const auto& [id, uri] : inputs) {
      if (Status s = AddSource(id, uri); !s) return Fail("inputs: " + s.message());
    }
  }
  return {};
}

void DataSource::Close() {
  std::map<std::string, std::shared_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    streams.swap(streams_);
  }
  for (auto& [id, stream] : streams) stream->reader->Stop();
  for (auto& [id, stream] : streams) {
    if (stream->thread.joinable()) stream->thread.join();
  }
}

void DataSource::Reap() {
  std::vector<std::shared_ptr<Stream>> finished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second->done) {
        finished.push_back(it->second);
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& stream : finished) stream->thread.join();
}

std::shared_ptr<DataSource::Stream> DataSource::Find(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(stream_id);
  return it == streams_.end() ? nullptr : it->second;
}

Status DataSource::OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) {
  if (!defaults_) return {StatusCode::kFailedState, "module '" + name() + "' is not open"};
  if (uri.empty()) return {StatusCode::kInvalidArgument, "stream '" + stream_id + "': the input URI is empty"};
  detail::ReaderSettings settings = *defaults_;
  if (Status s = ApplyOptions(options, &settings); !s) {
    return {StatusCode::kInvalidArgument, "stream '" + stream_id + "': " + s.message()};
  }
  Reap();
  // A stream that just ended under the same id may still be finishing its thread. Take it out of
  // the map first, so that no Reap or Close joins the same thread.
  std::shared_ptr<Stream> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = streams_.find(stream_id); it != streams_.end()) {
      old = it->second;
      streams_.erase(it);
    }
  }
  if (old) {
    old->reader->Stop();
    if (old->thread.joinable()) old->thread.join();
  }
  auto stream = std::make_shared<Stream>();
  stream->id = stream_id;
  stream->uri = uri;
  if (detail::ClassifyInput(uri) == detail::InputKind::kMemory) {
    stream->feed = std::make_shared<detail::ByteFeed>(settings.memory_buffer_bytes);
  }
  stream->reader = std::make_unique<detail::StreamReader>(stream_id, uri, settings, stream->feed);
  std::lock_guard<std::mutex> lock(mutex_);
  if (closing_) return {StatusCode::kFailedState, "module '" + name() + "' is closing"};
  streams_[stream_id] = stream;
  stream->thread = std::thread([this, stream] { Run(stream); });
  return Status::Ok();
}

void DataSource::Run(const std::shared_ptr<Stream>& stream) {
  const Status status = stream->reader->Run([this](FramePtr frame) { return Transmit(std::move(frame)); });
  if (stream->feed) stream->feed->Cancel();  // a PushBytes waiting on a full buffer must not wait forever
  EndStream(stream->id, stream->reader->next_index(), status.message());  // "" (no error event) when OK
  stream->done = true;
}

void DataSource::OnRemoveSource(const std::string& stream_id) {
  if (std::shared_ptr<Stream> stream = Find(stream_id)) stream->reader->Stop();
}

Status DataSource::PushBytes(const std::string& stream_id, const uint8_t* data, size_t size) {
  std::shared_ptr<Stream> stream = Find(stream_id);
  if (!stream || stream->done) return {StatusCode::kNotFound, "module '" + name() + "': no active stream '" + stream_id + "'"};
  if (!stream->feed) {
    return {StatusCode::kInvalidArgument, "stream '" + stream_id + "' reads '" + stream->uri +
                                              "'; PushBytes needs a stream added as mem://h264 or mem://hevc"};
  }
  if (!stream->feed->Push(data, size)) {
    return {StatusCode::kFailedState, "stream '" + stream_id + "' takes no more bytes (EndBytes was called, or it ended)"};
  }
  return Status::Ok();
}

Status DataSource::EndBytes(const std::string& stream_id) {
  std::shared_ptr<Stream> stream = Find(stream_id);
  if (!stream) return {StatusCode::kNotFound, "module '" + name() + "': no active stream '" + stream_id + "'"};
  if (!stream->feed) return {StatusCode::kInvalidArgument, "stream '" + stream_id + "' is not a memory input"};
  stream->feed->End();
  return Status::Ok();
}

VSTREAM_REGISTER_MODULE(DataSource);

}  // namespace vstream
