// StreamReader: one input's demux → decode → convert loop on FFmpeg (private to DataSource).
//
// Run() opens the input, decodes until it ends, fails or Stop() is called, and hands each frame
// to `emit`. It repairs what inputs get wrong (missing or non-increasing timestamps), reconnects
// network inputs within the budget, restarts files when looping, paces to a frame rate, and
// returns a Status: OK when the input ended normally or was stopped, else an error whose message
// names the input and the cause (the stream-error event's text) and whose code says what kind of
// failure it was: kNotFound (no such file, no images in the folder), kInvalidArgument (an input
// that cannot be video: a bad mem:// codec, no video stream, frames larger than max_frame_pixels),
// kUnavailable (a codec or device this machine lacks, a network input that is unreachable, silent
// or gone) or kRuntimeError (reading or decoding failed: corrupt, truncated or undecodable data).
//
// Reads that FFmpeg cannot interrupt: a FIFO is read through poll(), so Stop() reaches it; any
// other system call that blocks (a hung network mount, a terminal) keeps Run() from returning
// until it does. DataSource then abandons the thread after a grace period (see data_source.cpp):
// everything Run() touches is owned by the StreamReader, which that thread keeps alive.
//
//   StreamReader reader("cam1", "videos/a.mp4", settings, nullptr);
//   vstream::Status status = reader.Run([&](FramePtr frame) { return Transmit(std::move(frame)); });
//   EndStream("cam1", reader.next_index(), status.message());
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vstream/frame.hpp"
#include "vstream/status.hpp"

struct AVCodec;          // FFmpeg's, kept out of this header
struct AVFormatContext;

namespace vstream::detail {

/// Output buffers a stream's pool keeps for reuse at most; more frames of a stream alive at once
/// take memory of their own, freed with them.
inline constexpr size_t kPooledFramesPerStream = 64;
/// Pictures a decoder keeps: up to 16 reference pictures (the most H.264 and H.265 allow), and one
/// more per frame thread; FFmpeg starts at most 16 threads when it chooses the number itself.
inline constexpr int kMaxReferencePictures = 16;
inline constexpr int kMaxAutomaticDecoderThreads = 16;

struct ReaderSettings {
  PixelFormat format = PixelFormat::kBGR24;
  int decoder_threads = 0;  // 0: FFmpeg chooses
  bool hardware = false;    // try FFmpeg hardware decoders first
  int device_id = 0;
  bool loop = false;
  double frame_rate = 0;    // > 0: pace output to this rate
  int interval = 1;         // keep every Nth decoded frame
  int reconnect = 0;        // attempts after a network input fails or ends
  int reconnect_delay_ms = 500;
  int stall_timeout_ms = 10000;  // network inputs: no data for this long counts as a disconnect
  std::string rtsp_transport = "tcp";
  int max_decode_errors = 50;    // consecutive packets the decoder rejects before the stream fails
  size_t memory_buffer_bytes = 4u << 20;
  int64_t max_frame_pixels = int64_t{8192} * 8192;  // larger frames end the stream before they are decoded
};

/// Registers vstream's FFmpeg log callback (once per process; later calls do nothing): FFmpeg's
/// lines, libx264's included, go to vstream's log at the mapped level instead of stderr. Runs
/// when libvstream is loaded; StreamReader calls it again in case that was skipped.
void RouteFfmpegLog();

/// Bytes pushed from memory for a "mem://" input: a bounded FIFO that FFmpeg reads through a
/// custom AVIOContext. Push blocks while full; Read blocks while empty.
class ByteFeed {
 public:
  explicit ByteFeed(size_t capacity) : capacity_(capacity) {}
  /// False after End() or Cancel().
  bool Push(const uint8_t* data, size_t size);
  void End();
  void Cancel();
  /// Bytes read (> 0), 0 at the end of the data, -1 when cancelled.
  int Read(uint8_t* out, int size);

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::vector<uint8_t>> chunks_;  // guarded by mutex_
  size_t front_offset_ = 0;                  // bytes of chunks_.front() already read; guarded by mutex_
  size_t buffered_ = 0;                      // guarded by mutex_
  bool ended_ = false;                       // guarded by mutex_
  bool cancelled_ = false;                   // guarded by mutex_
};

enum class InputKind { kFile, kNetwork, kImageSequence, kCamera, kMemory };

/// Decides how to open `uri` (see DataSource's header for the forms).
InputKind ClassifyInput(const std::string& uri);

class StreamReader {
 public:
  StreamReader(std::string stream_id, std::string uri, ReaderSettings settings, std::shared_ptr<ByteFeed> feed);
  ~StreamReader();

  /// Decodes until the input ends or fails, or Stop(). `emit` returns false to stop (the pipeline
  /// is shutting down). Returns OK when the input ended normally or was stopped, else what failed.
  Status Run(const std::function<bool(FramePtr)>& emit);
  /// Thread-safe: interrupts blocking reads, waits and reconnect back-offs.
  void Stop();
  /// The index the next frame would get (the EOS frame's index).
  int64_t next_index() const { return next_index_; }

 public:
  struct Input;  // one opened input (FFmpeg contexts); public for FFmpeg's C callbacks

 private:
  enum class Outcome { kEnded, kStopped, kFailed };

  struct OpenTarget;  // what avformat_open_input gets

  // Opening an input, step by step: OpenInput runs the others in this order.
  Status OpenInput(std::unique_ptr<Input>* out);
  std::unique_ptr<Input> NewInput();  // a format context wired to Interrupt; resets stall detection
  Status ResolveTarget(Input& input, OpenTarget* target);  // URL, demuxer and options per InputKind
  Status OpenDemuxer(Input& input, OpenTarget& target);    // open and probe the container
  Status SelectVideoStream(Input& input, const AVCodec** codec);  // the best video stream, its timing
  Status OpenDecoder(Input& input, const AVCodec* codec);
  void UseHardwareDecoder(Input& input, const AVCodec* codec);  // the first that works, else warns once

  Status OpenFifo(Input& input, OpenTarget* target);      // a FIFO, read without blocking Stop()
  Status CheckFrameSize(Input& input, int64_t width, int64_t height);  // max_frame_pixels
  /// Image sequences by pattern: the numbers of the files that exist, so that a gap does not end
  /// the sequence. Sets `next` to the first number after `after` with a file (false: none).
  bool NextSequenceNumber(int64_t after, int64_t* next) const;

  Outcome Decode(Input& input, const std::function<bool(FramePtr)>& emit, Status* error);
  /// After a file-like input ended: checks it was complete and clean. Sets `again` (and returns OK)
  /// when looping restarts it; `first_index` is next_index_ when this pass began.
  Status EndOfFile(Input& input, int64_t first_index, bool* again);
  bool EmitDecoded(Input& input, const std::function<bool(FramePtr)>& emit);
  bool WaitFor(std::chrono::steady_clock::time_point until);  // false when stopped
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }
  static int Interrupt(void* opaque);

  const std::string stream_id_;
  const std::string uri_;
  const ReaderSettings settings_;
  const InputKind kind_;
  const std::shared_ptr<ByteFeed> feed_;

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> last_activity_ns_{0};  // steady clock; for stall detection
  std::atomic<bool> stalled_{false};
  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;  // Stop() wakes pacing and back-off waits

  // Decode-thread state.
  int64_t next_index_ = 0;       // decoded frames so far (across loops and reconnects)
  int64_t last_pts_ = 0;         // last pts handed out, in the output time base
  bool have_pts_ = false;
  bool rebase_ = false;          // the next frame starts a new segment (loop or reconnect)
  int64_t pts_offset_ = 0;       // added to the input's pts in the current segment
  int64_t packets_total_ = 0;    // video packets read from a file input (all loops)
  int64_t packets_lost_ = 0;     // of those, packets that produced no frame
  int64_t errors_logged_ = 0;    // errors FFmpeg logged while decoding file inputs
  const AVFormatContext* active_format_ = nullptr;  // the input being opened or read
  int64_t last_position_ = -1;   // its byte position when the interrupt callback last looked
  std::chrono::steady_clock::time_point next_due_;
  bool hardware_warned_ = false;
  // Network inputs: the gap a reconnect left, reported with the first frame after it.
  std::chrono::steady_clock::time_point last_frame_time_;
  bool gap_pending_ = false;   // reconnected: the next decoded frame ends a gap
  int64_t gap_to_report_ms_ = -1;  // the gap, for the next frame handed out
  int gap_attempts_ = 0;
  std::string gap_cause_;
  // Image sequences by printf pattern: the numbers whose files exist, and where this pass starts.
  std::set<int64_t> sequence_numbers_;
  int64_t sequence_start_ = -1;
  bool permanent_failure_ = false;  // reconnecting cannot help (frames above max_frame_pixels)
};

}  // namespace vstream::detail
