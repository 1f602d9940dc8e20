#include "vstream/modules/data_source.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <thread>

#include "vstream/log.hpp"
#include "stream_reader.hpp"
#include "vstream/text.hpp"
#include "vstream/registry.hpp"

namespace vstream {

// One stream: its reader and the thread that runs it. The thread holds a reference, so an
// abandoned thread (see Abandon) keeps everything it still uses alive on its own.
struct DataSource::Stream {
  std::string id;
  std::string uri;
  std::shared_ptr<detail::ByteFeed> feed;  // memory inputs only
  std::unique_ptr<detail::StreamReader> reader;
  std::thread thread;
  std::atomic<bool> done{false};  // the thread is about to exit: Reap may join it (never set when abandoned)

  // Between the reader thread and one that gives up on it.
  std::mutex mutex;
  std::condition_variable changed;
  bool in_module = false;  // the thread is inside Transmit; guarded by mutex
  bool finished = false;   // the reader returned; the thread ends the stream itself; guarded by mutex
  bool abandoned = false;  // the thread calls nothing of the module any more; guarded by mutex
  int64_t next_index = 0;  // after the last frame handed out; guarded by mutex
};

DataSource::~DataSource() { Close(); }

ModuleDescription DataSource::Describe() {
  return {
      "Decodes video files, network streams, image sequences, V4L2 cameras and in-memory H.264/H.265 with FFmpeg.",
      {ParamSpec::List("inputs", "",
                       "streams started at Open: URIs or paths, each optionally 'id=URI' (ids default to stream_<n>); "
                       "a single entry ending in .txt or .list is a file with one input per line"),
       ParamSpec::Enum("pixel_format", "bgr24", {"bgr24", "rgb24", "nv12", "gray8"}, "pixel format of output frames"),
       ParamSpec::Enum("decoder_type", "cpu", {"cpu", "hw"},
                       "cpu, or hw: an FFmpeg hardware decoder (CUDA, VAAPI, QSV, ...) when the machine has one, "
                       "else the CPU with a warning (CNStream's mlu reads as hw)"),
       ParamSpec::Int("device_id", 0, "hardware decoder device (decoder_type hw); -1 means CPU").Range(-1, 64),
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
           .Range(16, 1048576),
       ParamSpec::Int("max_frame_pixels", int64_t{8192} * 8192,
                      "frames of more pixels (width x height; the default is 8192x8192) end their stream with an "
                      "error before they are decoded: a small file can declare a huge image")
           .Min(1),
       ParamSpec::Int("stop_timeout_ms", 2000,
                      "a stream not stopped this long after it was asked to (its reader is blocked in a system "
                      "call: a hung network mount, a device that sends nothing) is abandoned: it ends with an "
                      "error and its thread is left to exit on its own")
           .Range(10, 600000)},
      R"(Each stream decodes on its own thread: demux, decode, convert to `pixel_format` into pooled
buffers (rows aligned to 64 bytes), and hand the frame downstream, waiting while the next module's
queue is full. `frame_index` counts decoded frames from 0 (also across loops and reconnects); `pts`
is in microseconds and always increases, even when the input has no timestamps or they jump back.

## Inputs

| URI | read as |
|---|---|
| `videos/a.mp4`, `file:///abs/a.mkv` | a file of any container and codec FFmpeg reads (relative paths in `inputs` start at the config's folder) |
| `rtsp://`, `rtmp://`, `http(s)://`, `tcp://`, `udp://`, `srt://` ... | a network stream (`reconnect`, `stall_timeout_ms`, `rtsp_transport` apply) |
| `frames/img_%04d.png`, or a folder | an image sequence: a printf pattern (every file it names, in number order, from the lowest number; a missing number is skipped with a warning), or every image in the folder in name order (the most common extension) |
| a FIFO (`mkfifo`) | read as it comes (the container is probed from the data); the stream waits for a writer and ends when the writer closes it |
| `/dev/video0`, `v4l2:///dev/video0` | a V4L2 camera |
| `mem://h264`, `mem://hevc` | Annex-B bytes pushed from C++: `DataSource::PushBytes(id, data, size)`, then `EndBytes(id)` |

Streams come from `inputs` (entries `URI` or `ID=URI`; ids default to `stream_<n>`), from
`Pipeline::AddSource(id, uri, options)` and from `vstream run --input [ID=]URI`. Per-stream
`options` override these parameters for one stream: `loop`, `frame_rate`, `interval`, `reconnect`,
`reconnect_delay_ms`, `stall_timeout_ms`, `decoder_threads`, `rtsp_transport`, `max_frame_pixels`.

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
| frames too large | `'x.png' has frames of WxH (N pixels), more than max_frame_pixels (M) allows`: checked on the container's header, on the decoders FFmpeg probes with and on every frame, so the large frame is never allocated |
| a reader stuck in a system call | `'x' did not stop within N ms (stop_timeout_ms)`, when the stream was asked to stop (see below) |

Frames the decoder concealed errors in carry the `kFrameInvalid` flag.

## Reconnects leave a gap

When a network stream comes back after a reconnect, the log says so (`'rtsp://...' is back after
N ms without frames (K reconnect attempt(s) after: <cause>)`), the first frame after the gap carries
the gap in its user data (`DataSource::kGapKey`, `"source.gap_ms"`: an `int64_t` of milliseconds,
which crosses ModuleIPC too), and its `pts` is later than the previous frame's by the gap (at least
one frame duration), so timestamps keep following real time.

## Stopping is bounded

Stopping a stream (`RemoveSource`, a graceful stop, an abort) interrupts its reader at once: FFmpeg's
interrupt callback ends network waits and reconnect back-offs, and FIFOs are read with `poll()`, so a
FIFO that no one writes to stops at once too. A reader blocked in a system call that nothing can
interrupt (a hung network mount, a terminal or device that sends nothing) is given
`stop_timeout_ms`; then the stream is abandoned: it ends at once (a stream-error event, then its EOS)
and its thread is left behind. That thread owns everything it still uses (the stream's FFmpeg
contexts and reader), calls nothing of the module or the pipeline again, and exits when the system
call returns. So `Pipeline::Stop` returns within about `stop_timeout_ms` whatever the inputs do; a
process that unloads libvstream while such a thread is still blocked must not count on it.

## FFmpeg's log

FFmpeg's own lines (libx264's included) go through vstream's log, never straight to stderr, from the
moment libvstream is loaded, whichever module uses FFmpeg first. They start with
`ffmpeg: [<component> @ 0x...]`. Levels: FFmpeg's panic and fatal lines are errors, its errors and
warnings are warnings (at most 20 a second; more go to debug), its info and verbose lines debug,
its debug lines trace. Lines about a stream's own input (its protocol, demuxer and decoders) are at
most info: the stream reports what they mean for it (a stream-error event, a reconnect warning),
so `--log-level warn` shows that and not FFmpeg's detail.

## Hardware decoding and CNStream

`decoder_type: hw` uses the first FFmpeg hardware decoder that works on the machine (CUDA on
`device_id`, VAAPI, QSV, VDPAU, ...) and otherwise logs a warning and decodes on the CPU. CNStream's
DataSource settings (`decoder_type: mlu`, which reads as `hw`, `output_type`, `reuse_cndec_buf`,
`source_type`, `output_buf_number`, `bufpool_size`, ...) are translated when a config is read:
see the CNStream table in [config.md](../config.md#cnstream-configs).)"};
}

HeldFrames DataSource::FramesHeld(const ModuleParams& params) {
  const int64_t threads = params.GetInt("decoder_threads");
  HeldFrames held;
  held.per_stream = 1;  // converted, waiting for room in the next queue
  held.pool_per_stream = static_cast<int64_t>(detail::kPooledFramesPerStream);
  held.decoder_pictures_per_stream =
      detail::kMaxReferencePictures + (threads > 0 ? threads : detail::kMaxAutomaticDecoderThreads);
  held.format = ParsePixelFormat(params.GetString("pixel_format"));  // the size is the input's
  held.detail = "per stream: 1 frame handed on, a pool of up to " + std::to_string(held.pool_per_stream) +
                " buffers, " + std::to_string(held.decoder_pictures_per_stream) + " decoder pictures";
  return held;
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
    } else if (key == "max_frame_pixels") {
      ok = as_int(1, INT64_MAX, &n);
      if (ok) settings->max_frame_pixels = n;
    } else {
      return {StatusCode::kInvalidArgument,
              "unknown stream option '" + Excerpt(key) +
                  "'; options: loop, frame_rate, interval, reconnect, reconnect_delay_ms, stall_timeout_ms, "
                  "decoder_threads, rtsp_transport, max_frame_pixels"};
    }
    if (!ok) {
      return {StatusCode::kInvalidArgument, "stream option " + key + "='" + Excerpt(value) + "' is out of range or malformed"};
    }
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
  settings->hardware = params.GetString("decoder_type") == "hw" && settings->device_id >= 0;
  settings->loop = params.GetBool("loop");
  settings->frame_rate = params.GetDouble("frame_rate");
  settings->interval = static_cast<int>(params.GetInt("interval"));
  settings->reconnect = static_cast<int>(params.GetInt("reconnect"));
  settings->reconnect_delay_ms = static_cast<int>(params.GetInt("reconnect_delay_ms"));
  settings->stall_timeout_ms = static_cast<int>(params.GetInt("stall_timeout_ms"));
  settings->rtsp_transport = params.GetString("rtsp_transport");
  settings->max_decode_errors = static_cast<int>(params.GetInt("max_decode_errors"));
  settings->memory_buffer_bytes = static_cast<size_t>(params.GetInt("memory_buffer_kb")) * 1024;
  settings->max_frame_pixels = params.GetInt("max_frame_pixels");
  stop_timeout_ = std::chrono::milliseconds(params.GetInt("stop_timeout_ms"));
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  watchdog_wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();  // it may be abandoning a stream: let it finish
  std::map<std::string, std::shared_ptr<Stream>> streams;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    streams.swap(streams_);
    stopping_.clear();
  }
  for (auto& [id, stream] : streams) stream->reader->Stop();
  // One deadline for all: a stopped reader returns within milliseconds, unless a system call
  // that nothing interrupts holds it.
  const Clock::time_point deadline = Clock::now() + stop_timeout_;
  for (auto& [id, stream] : streams) {
    {
      std::unique_lock<std::mutex> lock(stream->mutex);
      if (stream->abandoned) continue;
      stream->changed.wait_until(lock, deadline, [&] { return stream->finished; });
      // Inside Transmit, which refuses frames while the pipeline stops: it returns at once. A
      // host that closes the module while its pipeline still runs may keep it there: say so.
      if (!stream->changed.wait_until(lock, deadline + stop_timeout_, [&] { return stream->finished || !stream->in_module; })) {
        VSTREAM_LOG_WARN("module '{}': stream '{}' is still handing a frame on; waiting for the pipeline to take or refuse it",
                         name(), stream->id);
        stream->changed.wait(lock, [&] { return stream->finished || !stream->in_module; });
      }
      // Just out of Transmit, on its way out: a moment more before it counts as stuck.
      stream->changed.wait_for(lock, std::chrono::milliseconds(100), [&] { return stream->finished; });
    }
    if (!Abandon(stream) && stream->thread.joinable()) stream->thread.join();
  }
}

bool DataSource::Abandon(const std::shared_ptr<Stream>& stream) {
  int64_t next_index = 0;
  {
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (stream->finished || stream->in_module || stream->abandoned) return false;
    stream->abandoned = true;
    next_index = stream->next_index;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = streams_.find(stream->id); it != streams_.end() && it->second == stream) streams_.erase(it);
  }
  stream->thread.detach();
  const std::string message = "'" + stream->uri + "' did not stop within " + std::to_string(stop_timeout_.count()) +
                              " ms (stop_timeout_ms): its reader is blocked in a system call (a hung network "
                              "mount, a device or pipe that sends nothing); the stream ends without it, and its "
                              "thread exits when that call returns";
  VSTREAM_LOG_WARN("module '{}': stream '{}': {}", name(), stream->id, message);
  EndStream(stream->id, next_index, message);
  return true;
}

void DataSource::Watch() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!closing_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point wake = Clock::time_point::max();
    std::vector<std::shared_ptr<Stream>> expired;
    for (auto it = stopping_.begin(); it != stopping_.end();) {
      if (it->first->done) {
        it = stopping_.erase(it);
      } else if (it->second <= now) {
        expired.push_back(it->first);
        it = stopping_.erase(it);
      } else {
        wake = std::min(wake, it->second);
        ++it;
      }
    }
    if (!expired.empty()) {
      lock.unlock();
      std::vector<std::shared_ptr<Stream>> busy;
      for (const auto& stream : expired) {
        bool retry = false;
        {
          std::lock_guard<std::mutex> stream_lock(stream->mutex);
          retry = !stream->finished && !stream->abandoned && stream->in_module;
        }
        if (!retry) {
          Abandon(stream);  // does nothing when the reader finished after all
        } else {
          busy.push_back(stream);  // inside Transmit (a full queue downstream): not stuck in the input
        }
      }
      lock.lock();
      for (auto& stream : busy) stopping_.emplace_back(std::move(stream), Clock::now() + std::chrono::milliseconds(100));
      continue;
    }
    if (wake == Clock::time_point::max()) {
      watchdog_wake_.wait(lock);
    } else {
      watchdog_wake_.wait_until(lock, wake);
    }
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
  // Frames go to the module only while the stream is not abandoned, and the abandoning side
  // waits for a Transmit under way: once abandoned, this thread touches only `stream`.
  const Status status = stream->reader->Run([this, &stream](FramePtr frame) {
    {
      std::lock_guard<std::mutex> lock(stream->mutex);
      if (stream->abandoned) return false;
      stream->in_module = true;
      stream->next_index = frame->frame_index + 1;
    }
    const bool taken = Transmit(std::move(frame));
    std::lock_guard<std::mutex> lock(stream->mutex);
    stream->in_module = false;
    stream->changed.notify_all();
    return taken;
  });
  if (stream->feed) stream->feed->Cancel();  // a PushBytes waiting on a full buffer must not wait forever
  {
    std::lock_guard<std::mutex> lock(stream->mutex);
    if (stream->abandoned) {
      VSTREAM_LOG_DEBUG("stream '{}': the abandoned reader of '{}' returned at last", stream->id, stream->uri);
      return;
    }
    stream->finished = true;
    stream->changed.notify_all();
  }
  EndStream(stream->id, stream->reader->next_index(), status.message());  // "" (no error event) when OK
  stream->done = true;
}

void DataSource::OnRemoveSource(const std::string& stream_id) {
  std::shared_ptr<Stream> stream = Find(stream_id);
  if (!stream) return;
  stream->reader->Stop();
  // Most readers return within milliseconds; the watchdog ends the stream of one that does not.
  std::lock_guard<std::mutex> lock(mutex_);
  if (closing_) return;  // Close waits for it
  stopping_.emplace_back(stream, Clock::now() + stop_timeout_);
  if (!watchdog_.joinable()) watchdog_ = std::thread([this] { Watch(); });
  watchdog_wake_.notify_all();
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
