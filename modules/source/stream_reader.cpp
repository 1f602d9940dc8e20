#include "stream_reader.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "vstream/ffmpeg.hpp"
#include "vstream/log.hpp"
#include "vstream/modules/data_source.hpp"

namespace vstream::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr AVRational kMicroseconds{1, 1000000};


int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// Inputs open right now, so that the log callback can tell our FFmpeg contexts (their `opaque`
// points at an Input) from those of other FFmpeg users in the process (OpenCV, say).
// Never destroyed: a reader abandoned in a system call may return (and unregister its input)
// after main has returned and static destructors have run.
std::mutex& InputsMutex() {
  static auto* mutex = new std::mutex;
  return *mutex;
}
std::set<const void*>& LiveInputs() {
  static auto* inputs = new std::set<const void*>;  // guarded by InputsMutex()
  return *inputs;
}

void CountLoggedError(void* avcl);
void NotePixelLimit(void* avcl, const std::string& line);
bool ConcernsAnInput(void* avcl);

// FFmpeg's levels on vstream's: panic and fatal are errors; FFmpeg's "error" is mostly trouble it
// recovers from (a corrupt macroblock, a lost packet), so it is a warning, like FFmpeg's warnings;
// FFmpeg's info lines (encoder settings and statistics) and verbose ones are debug, its debug
// lines trace. A DataSource input's own lines (its protocol, demuxer and decoders) are at most
// info: the stream reports what they mean for it (a stream-error event, a reconnect warning).
spdlog::level::level_enum MapFfmpegLevel(int level) {
  if (level <= AV_LOG_FATAL) return spdlog::level::err;
  if (level <= AV_LOG_WARNING) return spdlog::level::warn;
  if (level <= AV_LOG_VERBOSE) return spdlog::level::debug;
  return spdlog::level::trace;
}

// A flood guard: at most this many FFmpeg lines a second at warn or error (a corrupt stream can
// make the decoder complain for every packet); the rest of that second go to debug.
constexpr int kLoudLinesPerSecond = 20;
bool TooLoud() {
  static auto* mutex = new std::mutex;  // never destroyed, like the inputs' (see above)
  static int64_t second = -1;  // guarded by mutex
  static int lines = 0;        // guarded by mutex
  const int64_t now = NowNs() / 1000000000;
  std::lock_guard<std::mutex> lock(*mutex);
  if (now != second) {
    second = now;
    lines = 0;
  }
  return ++lines > kLoudLinesPerSecond;
}

// FFmpeg's (and libx264's, through FFmpeg) log lines go to vstream's log, never straight to stderr.
// Errors logged by our decoders and demuxers are counted: that is how concealed corruption shows.
void ForwardFfmpegLog(void* avcl, int level, const char* format, va_list args) {
  if (level <= AV_LOG_ERROR && avcl != nullptr) CountLoggedError(avcl);
  // av_image_check_size2's refusal of a frame larger than AVCodecContext::max_pixels.
  const bool pixel_limit = level <= AV_LOG_ERROR && format != nullptr && std::strstr(format, "max pixel count") != nullptr;
  spdlog::level::level_enum mapped = MapFfmpegLevel(level);
  if (mapped > spdlog::level::info && ConcernsAnInput(avcl)) mapped = spdlog::level::info;
  spdlog::logger& logger = Logger();
  if (!logger.should_log(mapped) && !pixel_limit) return;
  char line[1024];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, format, args, line, sizeof(line), &print_prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  if (pixel_limit) NotePixelLimit(avcl, text);
  if (mapped < spdlog::level::warn || !TooLoud()) {
    logger.log(mapped, "ffmpeg: {}", text);
  } else {
    logger.debug("ffmpeg: {}", text);
  }
}

// Set when libvstream is loaded, before any module opens an FFmpeg encoder or decoder.
[[maybe_unused]] const bool kFfmpegLogRouted = (RouteFfmpegLog(), true);

void InitFfmpegOnce() {
  static const bool done = [] {
    avdevice_register_all();
    avformat_network_init();
    RouteFfmpegLog();
    return true;
  }();
  (void)done;
}

bool IsImageFile(const std::filesystem::path& path) {
  static const char* kExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"};
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

int ReadFeed(void* opaque, uint8_t* buffer, int size) {
  const int n = static_cast<ByteFeed*>(opaque)->Read(buffer, size);
  if (n > 0) return n;
  return n == 0 ? AVERROR_EOF : AVERROR_EXIT;
}

}  // namespace

void RouteFfmpegLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    av_log_set_callback(ForwardFfmpegLog);
    // FFmpeg drops lines above this level before the callback; the callback drops what vstream's
    // log level hides, before formatting.
    av_log_set_level(AV_LOG_VERBOSE);
  });
}

// ---------------------------------------------------------------------------------------------
// ByteFeed

bool ByteFeed::Push(const uint8_t* data, size_t size) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return cancelled_ || ended_ || buffered_ == 0 || buffered_ + size <= capacity_; });
  if (cancelled_ || ended_) return false;
  if (size == 0) return true;
  chunks_.emplace_back(data, data + size);
  buffered_ += size;
  changed_.notify_all();
  return true;
}

void ByteFeed::End() {
  std::lock_guard<std::mutex> lock(mutex_);
  ended_ = true;
  changed_.notify_all();
}

void ByteFeed::Cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelled_ = true;
  changed_.notify_all();
}

int ByteFeed::Read(uint8_t* out, int size) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return cancelled_ || ended_ || buffered_ > 0; });
  if (cancelled_) return -1;
  int copied = 0;
  while (copied < size && !chunks_.empty()) {
    std::vector<uint8_t>& front = chunks_.front();
    const size_t n = std::min(static_cast<size_t>(size - copied), front.size() - front_offset_);
    std::memcpy(out + copied, front.data() + front_offset_, n);
    copied += static_cast<int>(n);
    front_offset_ += n;
    buffered_ -= n;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  changed_.notify_all();
  return copied;  // 0 only when ended and drained
}

// ---------------------------------------------------------------------------------------------

InputKind ClassifyInput(const std::string& uri) {
  if (uri.rfind("mem://", 0) == 0) return InputKind::kMemory;
  if (uri.rfind("v4l2://", 0) == 0 || uri.rfind("/dev/video", 0) == 0) return InputKind::kCamera;
  if (uri.rfind("file://", 0) == 0) return InputKind::kFile;
  if (uri.find("://") != std::string::npos) return InputKind::kNetwork;
  if (uri.find('%') != std::string::npos) return InputKind::kImageSequence;
  std::error_code error;
  if (std::filesystem::is_directory(uri, error)) return InputKind::kImageSequence;
  return InputKind::kFile;
}

namespace {
// The input the calling thread is opening or reading (the reader thread's), for FFmpeg log lines
// whose context is not ours: avformat_find_stream_info's internal decoders.
thread_local const void* t_current_input = nullptr;
}  // namespace

struct StreamReader::Input {
  Input() {
    std::lock_guard<std::mutex> lock(InputsMutex());
    LiveInputs().insert(this);
    t_current_input = this;
  }
  ~Input() {
    {
      std::lock_guard<std::mutex> lock(InputsMutex());
      LiveInputs().erase(this);
      if (t_current_input == this) t_current_input = nullptr;
    }
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_frame_free(&transfer);
    av_packet_free(&packet);
    avcodec_free_context(&decoder);
    avformat_close_input(&format);
    if (avio != nullptr) {
      av_freep(&avio->buffer);
      avio_context_free(&avio);
    }
    if (fifo_fd >= 0) ::close(fifo_fd);
  }

  AVFormatContext* format = nullptr;
  AVIOContext* avio = nullptr;  // custom I/O for memory inputs and FIFOs
  int fifo_fd = -1;             // a FIFO opened non-blocking (see OpenFifo)
  const std::atomic<bool>* stop = nullptr;  // the reader's: the FIFO's read callback gives up when set
  AVCodecContext* decoder = nullptr;
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  AVFrame* transfer = nullptr;  // hardware frames are copied here
  SwsContext* sws = nullptr;
  AVPixelFormat hardware_format = AV_PIX_FMT_NONE;
  int stream_index = -1;
  AVRational time_base{1, 1000000};
  int64_t frame_duration_us = 40000;
  int64_t packets_expected = 0;  // from the container's index, 0 when unknown
  int64_t packets_read = 0;
  int64_t frames_decoded = 0;
  int consecutive_decode_errors = 0;
  int64_t unconverted = 0;  // decoded frames that could not be turned into output frames
  std::string last_decode_error;
  std::atomic<int64_t> logged_errors{0};  // errors FFmpeg logged for this input (any thread)
  // A frame FFmpeg refused to allocate because it is larger than max_frame_pixels (any thread).
  std::atomic<int64_t> refused_width{0};
  std::atomic<int64_t> refused_height{0};
  std::atomic<bool> refused{false};
  Status fatal;  // what ends the stream from inside EmitDecoded
  std::shared_ptr<BufferPool> pool;
  int pool_width = 0;
  int pool_height = 0;
};

namespace {
void CountLoggedError(void* avcl) {
  const AVClass* cls = *static_cast<const AVClass**>(avcl);
  void* opaque = nullptr;
  if (cls == avcodec_get_class()) {
    opaque = static_cast<AVCodecContext*>(avcl)->opaque;  // frame-thread copies share it
  } else if (cls == avformat_get_class()) {
    opaque = static_cast<AVFormatContext*>(avcl)->opaque;
  }
  if (opaque == nullptr) return;
  std::lock_guard<std::mutex> lock(InputsMutex());
  if (LiveInputs().count(opaque) != 0) static_cast<StreamReader::Input*>(opaque)->logged_errors.fetch_add(1);
}

// The input an FFmpeg log context belongs to: one of our demuxers or decoders (their `opaque`),
// a context whose parent is one (av_image_check_size2's), or else the input the logging thread
// reads (avformat_find_stream_info's own decoders and the protocols have no link to it).
// Caller holds InputsMutex().
StreamReader::Input* InputOfLocked(void* avcl) {
  void* context = avcl;
  for (int depth = 0; context != nullptr && depth < 4; ++depth) {
    const AVClass* cls = *static_cast<const AVClass**>(context);
    if (cls == nullptr) break;
    const void* opaque = nullptr;
    if (cls == avcodec_get_class()) opaque = static_cast<AVCodecContext*>(context)->opaque;
    if (cls == avformat_get_class()) opaque = static_cast<AVFormatContext*>(context)->opaque;
    if (opaque != nullptr && LiveInputs().count(opaque) != 0) {
      return static_cast<StreamReader::Input*>(const_cast<void*>(opaque));
    }
    if (cls->parent_log_context_offset <= 0) break;
    context = *reinterpret_cast<void**>(static_cast<uint8_t*>(context) + cls->parent_log_context_offset);
  }
  if (t_current_input != nullptr && LiveInputs().count(t_current_input) != 0) {
    return static_cast<StreamReader::Input*>(const_cast<void*>(t_current_input));
  }
  return nullptr;
}

bool ConcernsAnInput(void* avcl) {
  if (t_current_input != nullptr) return true;  // the reader thread's own, alive while set
  std::lock_guard<std::mutex> lock(InputsMutex());
  return InputOfLocked(avcl) != nullptr;
}

// "Picture size WxH exceeds specified max pixel count N" (av_image_check_size2, whose log
// context's parent is the codec context): marks the input it concerns.
void NotePixelLimit(void* avcl, const std::string& line) {
  unsigned width = 0;
  unsigned height = 0;
  if (const size_t at = line.find("Picture size "); at != std::string::npos) {
    std::sscanf(line.c_str() + at, "Picture size %ux%u", &width, &height);
  }
  std::lock_guard<std::mutex> lock(InputsMutex());
  StreamReader::Input* input = InputOfLocked(avcl);
  if (input == nullptr) return;
  input->refused_width = width;
  input->refused_height = height;
  input->refused = true;
}
}  // namespace

StreamReader::StreamReader(std::string stream_id, std::string uri, ReaderSettings settings,
                           std::shared_ptr<ByteFeed> feed)
    : stream_id_(std::move(stream_id)),
      uri_(std::move(uri)),
      settings_(std::move(settings)),
      kind_(ClassifyInput(uri_)),
      feed_(std::move(feed)) {
  InitFfmpegOnce();
}

StreamReader::~StreamReader() = default;

void StreamReader::Stop() {
  {
    std::lock_guard<std::mutex> lock(wait_mutex_);
    stop_ = true;
  }
  wait_cv_.notify_all();
  if (feed_) feed_->Cancel();
}

bool StreamReader::WaitFor(Clock::time_point until) {
  std::unique_lock<std::mutex> lock(wait_mutex_);
  wait_cv_.wait_until(lock, until, [this] { return stop_.load(); });
  return !stop_.load();
}

int StreamReader::Interrupt(void* opaque) {
  auto* self = static_cast<StreamReader*>(opaque);
  if (self->stopped()) return 1;
  if (self->kind_ == InputKind::kNetwork && self->settings_.stall_timeout_ms > 0) {
    // Called on the reading thread itself, inside FFmpeg's I/O: the context is safe to look at.
    // Any byte arriving counts as activity (probing reads bytes long before the first packet).
    const AVFormatContext* format = self->active_format_;
    if (format != nullptr && format->pb != nullptr && format->pb->pos != self->last_position_) {
      self->last_position_ = format->pb->pos;
      self->last_activity_ns_.store(NowNs(), std::memory_order_relaxed);
    }
    const int64_t idle_ns = NowNs() - self->last_activity_ns_.load(std::memory_order_relaxed);
    if (idle_ns > int64_t{self->settings_.stall_timeout_ms} * 1000000) {
      self->stalled_ = true;
      return 1;
    }
  }
  return 0;
}

namespace {
AVPixelFormat PickHardwareFormat(AVCodecContext* context, const AVPixelFormat* formats) {
  const AVPixelFormat wanted = static_cast<const StreamReader::Input*>(context->opaque)->hardware_format;
  for (const AVPixelFormat* f = formats; *f != AV_PIX_FMT_NONE; ++f) {
    if (*f == wanted) return *f;
  }
  return formats[0];  // the decoder falls back to software output
}
}  // namespace

namespace {
// The status code for an FFmpeg error while opening an input.
StatusCode OpenErrorCode(int rc) {
  if (rc == AVERROR(ENOENT) || rc == AVERROR_HTTP_NOT_FOUND) return StatusCode::kNotFound;
  if (rc == AVERROR(ECONNREFUSED) || rc == AVERROR(EHOSTUNREACH) || rc == AVERROR(ENETUNREACH) ||
      rc == AVERROR(ETIMEDOUT) || rc == AVERROR(EBUSY) || rc == AVERROR_PROTOCOL_NOT_FOUND ||
      rc == AVERROR_DEMUXER_NOT_FOUND) {
    return StatusCode::kUnavailable;
  }
  return StatusCode::kRuntimeError;
}

// Reads a FIFO opened with O_NONBLOCK: poll() with a short timeout, so that Stop() is seen while
// no writer is there or it is silent (a blocking open or read would ignore FFmpeg's interrupt
// callback). Linux reports no hang-up on such a FIFO until a writer has come and gone, so the
// stream waits for its writer, reads until the writer closes, then ends.
int ReadFifo(void* opaque, uint8_t* buffer, int size) {
  auto* input = static_cast<StreamReader::Input*>(opaque);
  while (true) {
    if (input->stop->load(std::memory_order_relaxed)) return AVERROR_EXIT;
    pollfd waiting{input->fifo_fd, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, 100);
    if (ready < 0 && errno != EINTR) return AVERROR(errno);
    if (ready <= 0) continue;
    const ssize_t n = ::read(input->fifo_fd, buffer, static_cast<size_t>(size));
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return AVERROR_EOF;
    if (errno != EAGAIN && errno != EINTR) return AVERROR(errno);
  }
}

// A printf pattern of an image sequence ("frames/img_%04d.png"), the way FFmpeg's image2 reads it:
// one %d or %0Nd (zero-padded to N digits), %% for a percent sign.
struct SequencePattern {
  std::filesystem::path folder;
  std::string prefix;
  std::string suffix;
  int width = 0;
  bool valid = false;

  explicit SequencePattern(const std::string& pattern) {
    const std::filesystem::path path(pattern);
    folder = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    if (folder.string().find('%') != std::string::npos) return;
    const std::string name = path.filename().string();
    std::string* part = &prefix;
    for (size_t i = 0; i < name.size(); ++i) {
      if (name[i] != '%') {
        *part += name[i];
        continue;
      }
      if (i + 1 < name.size() && name[i + 1] == '%') {
        *part += '%';
        ++i;
        continue;
      }
      if (part == &suffix) return;  // a second number
      size_t j = i + 1;
      while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j])) && width < 100) {
        width = width * 10 + (name[j++] - '0');
      }
      if (j >= name.size() || name[j] != 'd') return;
      part = &suffix;
      i = j;
    }
    valid = part == &suffix;
  }

  /// The number in `name` when the pattern makes exactly that name from it, else -1.
  int64_t NumberOf(const std::string& name) const {
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      return -1;
    }
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return -1;
    }
    const int64_t number = std::stoll(digits);
    char formatted[64];
    std::snprintf(formatted, sizeof(formatted), "%0*lld", width, static_cast<long long>(number));
    return digits == formatted ? number : -1;
  }

  /// The numbers of the files in the folder that the pattern names.
  std::set<int64_t> Scan() const {
    std::set<int64_t> numbers;
    if (!valid) return numbers;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
      if (!entry.is_regular_file(error)) continue;
      const int64_t number = NumberOf(entry.path().filename().string());
      if (number >= 0) numbers.insert(number);
    }
    return numbers;
  }
};

// "folder/*.<ext>" for the most common image extension in `folder` (read in name order), or "".
std::string ImageFolderPattern(const std::string& folder) {
  std::error_code error;
  std::map<std::string, int> extensions;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    if (entry.is_regular_file() && IsImageFile(entry.path())) ++extensions[entry.path().extension().string()];
  }
  if (extensions.empty()) return {};
  const auto best = std::max_element(extensions.begin(), extensions.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
  return (std::filesystem::path(folder) / ("*" + best->first)).string();
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& name : names) all += (all.empty() ? "" : ", ") + name;
  return all;
}
}  // namespace

// What avformat_open_input gets: the URL, a forced demuxer, demuxer options.
struct StreamReader::OpenTarget {
  OpenTarget() = default;
  OpenTarget(const OpenTarget&) = delete;
  OpenTarget& operator=(const OpenTarget&) = delete;
  ~OpenTarget() { av_dict_free(&options); }

  std::string url;
  const AVInputFormat* forced = nullptr;
  AVDictionary* options = nullptr;
};

std::unique_ptr<StreamReader::Input> StreamReader::NewInput() {
  auto input = std::make_unique<Input>();
  input->format = avformat_alloc_context();
  input->format->interrupt_callback.callback = &StreamReader::Interrupt;
  input->format->interrupt_callback.opaque = this;
  input->format->opaque = input.get();
  last_activity_ns_ = NowNs();
  stalled_ = false;
  active_format_ = input->format;
  last_position_ = -1;
  return input;
}

Status StreamReader::ResolveTarget(Input& input, OpenTarget* target) {
  const std::string name = "'" + uri_ + "'";
  target->url = uri_;
  switch (kind_) {
    case InputKind::kMemory: {
      const std::string codec = uri_.substr(6);
      target->forced = av_find_input_format(codec == "h265" ? "hevc" : codec.c_str());
      if (target->forced == nullptr || (codec != "h264" && codec != "hevc" && codec != "h265")) {
        return {StatusCode::kInvalidArgument, "memory input " + name + " must be mem://h264 or mem://hevc"};
      }
      constexpr int kAvioBuffer = 64 * 1024;
      auto* buffer = static_cast<uint8_t*>(av_malloc(kAvioBuffer));
      input.avio = avio_alloc_context(buffer, kAvioBuffer, 0, feed_.get(), &ReadFeed, nullptr, nullptr);
      input.format->pb = input.avio;
      input.format->flags |= AVFMT_FLAG_CUSTOM_IO;
      target->url = "";
      break;
    }
    case InputKind::kCamera:
      target->forced = av_find_input_format("video4linux2");
      if (target->forced == nullptr) {
        return {StatusCode::kUnavailable, "cannot open camera " + name + ": this FFmpeg build has no video4linux2 input"};
      }
      if (target->url.rfind("v4l2://", 0) == 0) target->url = target->url.substr(7);
      break;
    case InputKind::kImageSequence: {
      target->forced = av_find_input_format("image2");
      std::error_code error;
      if (std::filesystem::is_directory(target->url, error)) {
        target->url = ImageFolderPattern(target->url);
        if (target->url.empty()) {
          return {StatusCode::kNotFound, "image folder " + name + " holds no images (.jpg, .png, .bmp, .tif, .webp, ...)"};
        }
        av_dict_set(&target->options, "pattern_type", "glob", 0);
      } else {
        // image2 reads numbers in a row from the first file it finds among the first five: it
        // would stop at the first missing number and miss a sequence starting at 100. Start each
        // pass at a number whose file exists; EndOfFile continues after a gap.
        if (sequence_start_ < 0) {
          sequence_numbers_ = SequencePattern(target->url).Scan();
          if (!sequence_numbers_.empty()) sequence_start_ = *sequence_numbers_.begin();
        }
        if (sequence_start_ >= 0) {
          av_dict_set(&target->options, "start_number", std::to_string(sequence_start_).c_str(), 0);
        }
      }
      if (settings_.frame_rate > 0) {
        av_dict_set(&target->options, "framerate", std::to_string(settings_.frame_rate).c_str(), 0);
      }
      break;
    }
    case InputKind::kNetwork:
      if (target->url.rfind("rtsp://", 0) == 0) {
        av_dict_set(&target->options, "rtsp_transport", settings_.rtsp_transport.c_str(), 0);
      }
      break;
    case InputKind::kFile: {
      if (target->url.rfind("file://", 0) == 0) target->url = target->url.substr(7);
      struct stat info {};
      if (::stat(target->url.c_str(), &info) == 0 && S_ISFIFO(info.st_mode)) return OpenFifo(input, target);
      break;
    }
  }
  return Status::Ok();
}

Status StreamReader::OpenFifo(Input& input, OpenTarget* target) {
  const int fd = ::open(target->url.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return {StatusCode::kRuntimeError, "cannot open '" + uri_ + "': " + std::strerror(errno)};
  input.fifo_fd = fd;
  input.stop = &stop_;
  constexpr int kAvioBuffer = 64 * 1024;
  auto* buffer = static_cast<uint8_t*>(av_malloc(kAvioBuffer));
  if (buffer != nullptr) input.avio = avio_alloc_context(buffer, kAvioBuffer, 0, &input, &ReadFifo, nullptr, nullptr);
  if (input.avio == nullptr) {
    av_free(buffer);  // (the fd is closed with the input)
    return {StatusCode::kRuntimeError, "cannot open '" + uri_ + "': out of memory for its I/O buffer"};
  }
  input.avio->seekable = 0;
  input.format->pb = input.avio;
  input.format->flags |= AVFMT_FLAG_CUSTOM_IO;
  return Status::Ok();  // the URL stays: the demuxer is guessed from the name's extension too
}

bool StreamReader::NextSequenceNumber(int64_t after, int64_t* next) const {
  const auto it = sequence_numbers_.upper_bound(after);
  if (it == sequence_numbers_.end()) return false;
  *next = *it;
  return true;
}

Status StreamReader::CheckFrameSize(Input& input, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || width * height <= settings_.max_frame_pixels) {
    if (!input.refused) return Status::Ok();
    width = input.refused_width;  // the size FFmpeg refused to allocate
    height = input.refused_height;
  }
  permanent_failure_ = true;
  const std::string size = width > 0 && height > 0 ? " of " + std::to_string(width) + "x" + std::to_string(height) +
                                                           " (" + std::to_string(width * height) + " pixels)"
                                                     : "";
  return {StatusCode::kInvalidArgument,
          "'" + uri_ + "' has frames" + size + ", more than max_frame_pixels (" +
              std::to_string(settings_.max_frame_pixels) +
              ") allows; the stream ends before they are decoded (raise max_frame_pixels to read it)"};
}

Status StreamReader::OpenDemuxer(Input& input, OpenTarget& target) {
  const std::string name = "'" + uri_ + "'";
  int rc = avformat_open_input(&input.format, target.url.c_str(), target.forced, &target.options);
  if (rc < 0) {
    input.format = nullptr;  // freed by avformat_open_input on failure
    active_format_ = nullptr;
    if (stalled_) return {StatusCode::kUnavailable, "cannot open " + name + ": no answer within stall_timeout_ms"};
    if (kind_ == InputKind::kFile && !std::filesystem::exists(target.url)) {
      return {StatusCode::kNotFound, "cannot open " + name + ": no such file"};
    }
    return {OpenErrorCode(rc), "cannot open " + name + ": " + AvError(rc)};
  }
  // max_frame_pixels binds the decoders avformat_find_stream_info opens to probe the streams as
  // well: without it, a small file of huge dimensions is decoded (and allocated) right here.
  const std::string limit = std::to_string(settings_.max_frame_pixels);
  std::vector<AVDictionary*> probe_options(input.format->nb_streams, nullptr);
  for (AVDictionary*& options : probe_options) av_dict_set(&options, "max_pixels", limit.c_str(), 0);
  rc = avformat_find_stream_info(input.format, probe_options.empty() ? nullptr : probe_options.data());
  for (AVDictionary*& options : probe_options) av_dict_free(&options);
  if (input.refused) {
    const int index = av_find_best_stream(input.format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    const AVCodecParameters* parameters = index >= 0 ? input.format->streams[index]->codecpar : nullptr;
    const int64_t width = parameters != nullptr ? parameters->width : 0;
    const int64_t height = parameters != nullptr ? parameters->height : 0;
    // A refused probe leaves its stream's size unknown (0x0). A video stream of known size within
    // the limit means the refusal was another stream's (a cover picture, a second video track).
    if (width > 0 && height > 0 && width * height <= settings_.max_frame_pixels) {
      input.refused = false;
    } else {
      return CheckFrameSize(input, width, height);
    }
  }
  if (rc < 0) return {StatusCode::kRuntimeError, "cannot read stream information from " + name + ": " + AvError(rc)};
  return Status::Ok();
}

Status StreamReader::SelectVideoStream(Input& input, const AVCodec** codec) {
  const std::string name = "'" + uri_ + "'";
  const int rc = av_find_best_stream(input.format, AVMEDIA_TYPE_VIDEO, -1, -1, codec, 0);
  if (rc == AVERROR_STREAM_NOT_FOUND) return {StatusCode::kInvalidArgument, "no video stream in " + name};
  if (rc == AVERROR_DECODER_NOT_FOUND || *codec == nullptr) {
    const int index = av_find_best_stream(input.format, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    std::string what = "unknown";
    if (index >= 0) {
      const AVCodecParameters* parameters = input.format->streams[index]->codecpar;
      what = avcodec_get_name(parameters->codec_id);
      char tag[AV_FOURCC_MAX_STRING_SIZE] = {0};
      av_fourcc_make_string(tag, parameters->codec_tag);
      if (parameters->codec_tag != 0) what += " (fourcc " + std::string(tag) + ")";
    }
    return {StatusCode::kUnavailable,
            "unsupported video codec " + what + " in " + name + ": this FFmpeg build has no decoder for it"};
  }
  if (rc < 0) return {StatusCode::kRuntimeError, "cannot select a video stream in " + name + ": " + AvError(rc)};
  input.stream_index = rc;
  const AVStream* stream = input.format->streams[rc];
  input.time_base = stream->time_base;
  input.packets_expected = kind_ == InputKind::kFile ? stream->nb_frames : 0;
  const AVRational rate = stream->avg_frame_rate.num > 0 ? stream->avg_frame_rate : stream->r_frame_rate;
  if (rate.num > 0 && rate.den > 0) input.frame_duration_us = av_rescale_q(1, av_inv_q(rate), kMicroseconds);
  if (input.frame_duration_us <= 0) input.frame_duration_us = 40000;
  return CheckFrameSize(input, stream->codecpar->width, stream->codecpar->height);
}

void StreamReader::UseHardwareDecoder(Input& input, const AVCodec* codec) {
  std::vector<std::string> tried;
  for (int i = 0;; ++i) {
    const AVCodecHWConfig* config = avcodec_get_hw_config(codec, i);
    if (config == nullptr) break;
    if ((config->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) == 0) continue;
    const char* type_name = av_hwdevice_get_type_name(config->device_type);
    tried.emplace_back(type_name != nullptr ? type_name : "?");
    std::string device;
    if (config->device_type == AV_HWDEVICE_TYPE_CUDA) device = std::to_string(std::max(0, settings_.device_id));
    AVBufferRef* hw = nullptr;
    if (av_hwdevice_ctx_create(&hw, config->device_type, device.empty() ? nullptr : device.c_str(), nullptr, 0) == 0) {
      input.hardware_format = config->pix_fmt;
      input.decoder->hw_device_ctx = hw;
      input.decoder->get_format = PickHardwareFormat;
      VSTREAM_LOG_INFO("stream '{}': decoding {} on {} device {}", stream_id_, codec->name, tried.back(),
                       device.empty() ? "default" : device);
      return;
    }
  }
  if (!hardware_warned_) {
    hardware_warned_ = true;
    VSTREAM_LOG_WARN("stream '{}': decoder_type hw: no hardware decoder for {} works on this machine (tried: {}); "
                     "decoding on the CPU",
                     stream_id_, codec->name, tried.empty() ? "none offered" : JoinNames(tried));
  }
}

Status StreamReader::OpenDecoder(Input& input, const AVCodec* codec) {
  const AVStream* stream = input.format->streams[input.stream_index];
  input.decoder = avcodec_alloc_context3(codec);
  input.decoder->opaque = &input;
  avcodec_parameters_to_context(input.decoder, stream->codecpar);
  input.decoder->pkt_timebase = stream->time_base;
  input.decoder->thread_count = settings_.decoder_threads;
  input.decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  input.decoder->max_pixels = settings_.max_frame_pixels;  // FFmpeg refuses to allocate larger frames
  if (settings_.hardware) UseHardwareDecoder(input, codec);
  if (const int rc = avcodec_open2(input.decoder, codec, nullptr); rc < 0) {
    return {StatusCode::kRuntimeError,
            "cannot open the " + std::string(codec->name) + " decoder for '" + uri_ + "': " + AvError(rc)};
  }
  input.packet = av_packet_alloc();
  input.frame = av_frame_alloc();
  input.transfer = av_frame_alloc();
  return Status::Ok();
}

Status StreamReader::OpenInput(std::unique_ptr<Input>* out) {
  std::unique_ptr<Input> input = NewInput();
  OpenTarget target;
  if (Status s = ResolveTarget(*input, &target); !s) return s;
  if (Status s = OpenDemuxer(*input, target); !s) return s;
  const AVCodec* codec = nullptr;
  if (Status s = SelectVideoStream(*input, &codec); !s) return s;
  if (Status s = OpenDecoder(*input, codec); !s) return s;
  *out = std::move(input);
  return Status::Ok();
}

bool StreamReader::EmitDecoded(Input& input, const std::function<bool(FramePtr)>& emit) {
  AVFrame* decoded = input.frame;
  // A decoder that does not check AVCodecContext::max_pixels itself: nothing larger goes on.
  if (Status s = CheckFrameSize(input, decoded->width, decoded->height); !s) {
    input.fatal = s;
    return false;
  }
  const int64_t index = next_index_++;
  ++input.frames_decoded;
  input.consecutive_decode_errors = 0;

  // A network input that came back: the time without frames shows in pts and is reported.
  const Clock::time_point decoded_at = Clock::now();
  int64_t step_us = input.frame_duration_us;  // pts advance when a segment starts or pts is missing
  if (gap_pending_) {
    gap_pending_ = false;
    const int64_t gap_us = std::chrono::duration_cast<std::chrono::microseconds>(decoded_at - last_frame_time_).count();
    step_us = std::max(step_us, gap_us);
    gap_to_report_ms_ = gap_us / 1000;
    VSTREAM_LOG_WARN("stream '{}': '{}' is back after {} ms without frames ({} reconnect attempt(s) after: {}); "
                     "frame {} resumes the stream",
                     stream_id_, uri_, gap_to_report_ms_, gap_attempts_, gap_cause_, index);
  }
  last_frame_time_ = decoded_at;

  // Timestamps in microseconds, increasing even when the input has none or they jump back.
  int64_t pts = decoded->best_effort_timestamp;
  int64_t pts_us = pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(pts, input.time_base, kMicroseconds);
  if (pts_us != AV_NOPTS_VALUE && rebase_) {
    pts_offset_ = have_pts_ ? last_pts_ + step_us - pts_us : 0;
  }
  rebase_ = false;
  int64_t out_pts = pts_us == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : pts_us + pts_offset_;
  if (out_pts == AV_NOPTS_VALUE || (have_pts_ && out_pts <= last_pts_)) {
    out_pts = have_pts_ ? last_pts_ + step_us : 0;
  }
  last_pts_ = out_pts;
  have_pts_ = true;

  if (settings_.interval > 1 && index % settings_.interval != 0) return true;

  AVFrame* source = decoded;
  if (input.hardware_format != AV_PIX_FMT_NONE && decoded->format == input.hardware_format) {
    av_frame_unref(input.transfer);
    if (const int rc = av_hwframe_transfer_data(input.transfer, decoded, 0); rc < 0) {
      ++input.unconverted;
      input.last_decode_error = "copying a frame out of the hardware decoder failed: " + AvError(rc);
      return true;
    }
    source = input.transfer;
  }
  const int width = source->width;
  const int height = source->height;
  const AVPixelFormat target = ToAvPixelFormat(settings_.format);
  input.sws = sws_getCachedContext(input.sws, width, height, static_cast<AVPixelFormat>(source->format), width,
                                   height, target, SWS_BILINEAR, nullptr, nullptr, nullptr);
  if (input.sws == nullptr) {
    ++input.unconverted;
    input.last_decode_error = std::string("no conversion from ") +
                              av_get_pix_fmt_name(static_cast<AVPixelFormat>(source->format)) + " to the output format";
    return true;
  }

  // Rows aligned to 64 bytes so swscale's SIMD paths apply; buffers recycled through a pool.
  const int row_bytes = width * (settings_.format == PixelFormat::kBGR24 || settings_.format == PixelFormat::kRGB24 ? 3 : 1);
  const int stride = (row_bytes + 63) / 64 * 64;
  const int chroma_rows = settings_.format == PixelFormat::kNV12 ? (height + 1) / 2 : 0;
  const size_t bytes = static_cast<size_t>(stride) * static_cast<size_t>(height + chroma_rows);
  if (!input.pool || input.pool_width != width || input.pool_height != height) {
    input.pool = BufferPool::Create(bytes, kPooledFramesPerStream);
    input.pool_width = width;
    input.pool_height = height;
  }
  BufferPtr buffer = input.pool->TryAcquire();
  if (!buffer) buffer = Buffer::Allocate(bytes);  // more frames alive than the pool keeps
  VideoFrame image;
  if (!VideoFrame::Wrap(std::move(buffer), width, height, settings_.format, {stride, stride},
                        {0, static_cast<size_t>(stride) * static_cast<size_t>(height)}, &image)) {
    return true;
  }
  uint8_t* planes[4] = {image.plane(0), image.plane_count() > 1 ? image.plane(1) : nullptr, nullptr, nullptr};
  int strides[4] = {stride, image.plane_count() > 1 ? stride : 0, 0, 0};
  sws_scale(input.sws, source->data, source->linesize, 0, height, planes, strides);

  FramePtr frame = Frame::Create(stream_id_, index);
  frame->pts = out_pts;
  frame->time_base = {1, 1000000};
  frame->image = std::move(image);
  if (decoded->decode_error_flags != 0 || (decoded->flags & AV_FRAME_FLAG_CORRUPT) != 0) frame->SetFlag(kFrameInvalid);
  if (gap_to_report_ms_ >= 0) {
    frame->data.Set<int64_t>(DataSource::kGapKey, gap_to_report_ms_);
    gap_to_report_ms_ = -1;
  }

  if (settings_.frame_rate > 0) {
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / settings_.frame_rate));
    const auto now = Clock::now();
    if (next_due_ == Clock::time_point() || next_due_ + 4 * period < now) next_due_ = now;  // start, or fell behind
    if (!WaitFor(next_due_)) return false;
    next_due_ += period;
  }
  return emit(std::move(frame));
}

StreamReader::Outcome StreamReader::Decode(Input& input, const std::function<bool(FramePtr)>& emit, Status* error) {
  const std::string name = "'" + uri_ + "'";
  auto receive_all = [&]() -> Outcome {
    while (true) {
      const int rc = avcodec_receive_frame(input.decoder, input.frame);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return Outcome::kEnded;
      if (rc < 0) {
        ++input.consecutive_decode_errors;
        input.last_decode_error = AvError(rc);
        return Outcome::kEnded;
      }
      const bool keep_going = EmitDecoded(input, emit);
      // Time spent waiting for the pipeline to take a frame is not silence from the input.
      last_activity_ns_.store(NowNs(), std::memory_order_relaxed);
      av_frame_unref(input.frame);
      if (!keep_going && !input.fatal) {
        *error = input.fatal;
        return Outcome::kFailed;
      }
      if (!keep_going) return Outcome::kStopped;
    }
  };
  auto too_many_errors = [&] {
    if (input.refused) {  // the decoder would not allocate a frame above max_frame_pixels
      *error = CheckFrameSize(input, 0, 0);
      return true;
    }
    if (input.consecutive_decode_errors < settings_.max_decode_errors) return false;
    *error = {StatusCode::kRuntimeError,
              "cannot decode " + name + ": " + std::to_string(input.consecutive_decode_errors) +
                  " packets in a row were rejected by the decoder after " + std::to_string(input.frames_decoded) +
                  " frames (" + input.last_decode_error + "); the data is corrupt"};
    return true;
  };

  while (!stopped()) {
    const int rc = av_read_frame(input.format, input.packet);
    if (rc < 0) {
      if (stopped()) return Outcome::kStopped;
      // Drain the decoder: frames it still holds are part of the stream.
      avcodec_send_packet(input.decoder, nullptr);
      if (const Outcome drained = receive_all(); drained != Outcome::kEnded) return drained;
      if (input.refused) {
        *error = CheckFrameSize(input, 0, 0);
        return Outcome::kFailed;
      }
      if (rc == AVERROR_EOF || (input.avio != nullptr && rc == AVERROR(EIO))) return Outcome::kEnded;
      if (stalled_) {
        *error = {StatusCode::kUnavailable,
                  "no data from " + name + " for " + std::to_string(settings_.stall_timeout_ms) + " ms (stall_timeout_ms)"};
      } else {
        *error = {StatusCode::kRuntimeError,
                  "read error in " + name + " after " + std::to_string(input.frames_decoded) + " frames: " + AvError(rc)};
      }
      return Outcome::kFailed;
    }
    last_activity_ns_.store(NowNs(), std::memory_order_relaxed);
    if (input.packet->stream_index != input.stream_index) {
      av_packet_unref(input.packet);
      continue;
    }
    ++input.packets_read;
    const int sent = avcodec_send_packet(input.decoder, input.packet);
    av_packet_unref(input.packet);
    if (sent < 0 && sent != AVERROR(EAGAIN)) {
      ++input.consecutive_decode_errors;
      input.last_decode_error = AvError(sent);
      if (too_many_errors()) return Outcome::kFailed;
      continue;
    }
    if (const Outcome received = receive_all(); received != Outcome::kEnded) return received;
    if (too_many_errors()) return Outcome::kFailed;
  }
  return Outcome::kStopped;
}

Status StreamReader::EndOfFile(Input& input, int64_t first_index, bool* again) {
  *again = false;
  if (input.packets_expected > 0 && input.packets_read < input.packets_expected && !stopped()) {
    return {StatusCode::kRuntimeError,
            "'" + uri_ + "' ended after " + std::to_string(input.packets_read) + " of the " +
                std::to_string(input.packets_expected) +
                " frames its index announces: the file is truncated or its index is wrong"};
  }
  // After draining, every video packet should have become a frame; the rest were corrupt.
  packets_total_ += input.packets_read;
  packets_lost_ += std::max<int64_t>(0, input.packets_read - input.frames_decoded) + input.unconverted;
  errors_logged_ += input.logged_errors.load();
  if (kind_ == InputKind::kImageSequence && sequence_start_ >= 0 && !stopped()) {
    // image2 stopped at a missing number: go on with the next file there is.
    const int64_t last = sequence_start_ + std::max<int64_t>(input.packets_read, 1) - 1;
    int64_t next = 0;
    if (NextSequenceNumber(last, &next)) {
      VSTREAM_LOG_WARN("stream '{}': '{}' has no {}; going on with number {}", stream_id_, uri_,
                       next - 1 == last + 1 ? "file numbered " + std::to_string(last + 1)
                                            : "files numbered " + std::to_string(last + 1) + " to " + std::to_string(next - 1),
                       next);
      sequence_start_ = next;
      *again = true;
      return Status::Ok();
    }
    sequence_start_ = *sequence_numbers_.begin();  // a loop starts over
  }
  if (settings_.loop && kind_ != InputKind::kMemory && kind_ != InputKind::kCamera && !stopped()) {
    if (next_index_ == first_index) return {StatusCode::kRuntimeError, "'" + uri_ + "' has no frames to loop over"};
    *again = true;
    return Status::Ok();
  }
  if (next_index_ == 0 && !stopped()) {
    return {StatusCode::kRuntimeError, "'" + uri_ + "' ended without a single decodable frame"};
  }
  if (packets_lost_ > 0 || errors_logged_ > 0) {
    return {StatusCode::kRuntimeError,
            "corrupt data in '" + uri_ + "': the decoder reported " + std::to_string(errors_logged_) +
                " error(s) and " + std::to_string(packets_lost_) + " of " + std::to_string(packets_total_) +
                " video packets could not be decoded" +
                (input.last_decode_error.empty() ? "" : " (" + input.last_decode_error + ")")};
  }
  return Status::Ok();
}

Status StreamReader::Run(const std::function<bool(FramePtr)>& emit) {
  const bool network = kind_ == InputKind::kNetwork;
  int attempts = 0;  // reconnect attempts since the last frame
  Status cause;      // what went wrong first since the last frame
  Status last_problem;
  while (!stopped()) {
    std::unique_ptr<Input> input;
    Status problem = OpenInput(&input);
    Outcome outcome = Outcome::kFailed;
    if (problem) {
      const int64_t before = next_index_;
      outcome = Decode(*input, emit, &problem);
      if (next_index_ > before) attempts = 0;  // it worked for a while: a new budget
      if (outcome == Outcome::kEnded && !network) {
        bool again = false;
        Status ended = EndOfFile(*input, before, &again);
        if (!again) return ended;
        rebase_ = true;  // looping: the next segment continues the timestamps
        continue;
      }
      if (outcome == Outcome::kEnded) {
        if (settings_.reconnect == 0) return Status::Ok();  // a network stream that simply ended
        problem = {StatusCode::kUnavailable, "'" + uri_ + "' closed the connection"};  // a camera going away: try again
      }
    }
    if (stopped() || outcome == Outcome::kStopped) return Status::Ok();
    last_problem = problem;
    if (attempts == 0) cause = problem;
    if (!network || attempts >= settings_.reconnect || permanent_failure_) {
      if (network && settings_.reconnect > 0 && !permanent_failure_) {
        return {cause.code(), cause.message() + "; gave up after " + std::to_string(attempts) + " reconnect attempt(s)" +
                                  (last_problem.message() != cause.message() ? " (last: " + last_problem.message() + ")" : "")};
      }
      return last_problem;
    }
    // Back off: reconnect_delay_ms, doubling per attempt, at most 16 times that.
    const int64_t delay = int64_t{settings_.reconnect_delay_ms} << std::min(attempts, 4);
    ++attempts;
    VSTREAM_LOG_WARN("stream '{}': {}; reconnecting in {} ms (attempt {} of {})", stream_id_, last_problem.message(),
                     delay, attempts, settings_.reconnect);
    if (next_index_ > 0) {  // the stream had frames: the first one after the reconnect reports the gap
      gap_pending_ = true;
      gap_attempts_ = attempts;
      gap_cause_ = cause.message();
    }
    if (!WaitFor(Clock::now() + std::chrono::milliseconds(delay))) return Status::Ok();
    rebase_ = true;
  }
  return Status::Ok();
}

}  // namespace vstream::detail
