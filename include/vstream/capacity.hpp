// Capacity: the most frames, and bytes, a pipeline can hold at once, worked out from its config
// alone (no module is opened, no model loaded), and the shapes that make a module wait for frames
// that cannot come.
//
// Every queue is bounded, so a config fixes how many frames can be alive at once: each worker of
// each module with its input queue and the frame in its hands, what a module keeps beyond that (an
// Inferencer's batches), and what each source keeps per stream (the frame it is handing on, its
// decoder's pictures, its buffer pool). What a class keeps it declares with a static hook next to
// Describe(), computed from its parameters:
//
//   static vstream::HeldFrames FramesHeld(const vstream::ModuleParams& params) {
//     return {.per_worker = params.GetInt("window"), .detail = "look-ahead window"};
//   }
//
// and ComputeCapacity adds it all up: `vstream check` prints the result, a memory budget compares
// against it.
//
//   std::vector<vstream::ConfigCapacity> capacity;
//   vstream::Status s = vstream::ComputeCapacity({&config}, {}, &capacity);
//   if (s) std::cout << capacity[0].Frames(/*streams=*/4) << " frames, " << capacity[0].Bytes(4) << " bytes\n";
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/params.hpp"
#include "vstream/status.hpp"
#include "vstream/video_frame.hpp"

namespace vstream {

class GraphConfig;

/// What one module keeps beyond its input queues, as its class declares it from its parameters
/// (a static `HeldFrames FramesHeld(const ModuleParams&)` next to Describe(); see registry.hpp).
/// Every field is optional: a class without the hook keeps nothing beyond its queues.
struct VSTREAM_EXPORT HeldFrames {
  /// A channel to another process that frames leave or arrive by (ModuleIPC: its socket).
  struct Channel {
    std::string name;        // what both ends of the channel agree on (empty: no channel)
    bool sends = false;      // true for the sending end, false for the receiving one
    int64_t max_frames = 0;  // sending end: the most frames in flight over it at once
    std::string limited_by;  // sending end: the parameter that sets max_frames, for messages
  };

  /// Frames each worker keeps after Process returned, beyond its input queue and the frame it is
  /// processing (an Inferencer's batch queue and running batch).
  int64_t per_worker = 0;
  /// Sources: frames each stream has in hand, made and waiting for room in the next queue.
  int64_t per_stream = 0;
  /// Sources: frames in hand whatever the number of streams (one per producer thread, say).
  int64_t per_module = 0;
  /// Sources: frame buffers each stream's pool keeps for reuse once they were in use; never more
  /// than the frames the stream had in flight at once.
  int64_t pool_per_stream = 0;
  /// Sources: pictures of the frame's size in 4:2:0 (1.5 bytes a pixel) each stream's decoder
  /// keeps (reference pictures, pictures in its threads).
  int64_t decoder_pictures_per_stream = 0;
  /// Frame-sized slots of shared memory the module maps.
  int64_t shared_memory_slots = 0;
  /// A worker that waits until this many frames are there before it works on them (a batch).
  int64_t collects = 0;
  /// How long it waits for them at most; < 0: until they come. 0 with collects means no wait.
  double collect_timeout_ms = 0;
  /// The parameter that sets `collects`, for messages ("batch_size").
  std::string collects_param;
  Channel channel;
  /// Sources: the image their frames carry, as far as the parameters fix it; 0 and kNone: the
  /// input decides (a DataSource decodes at the input's size).
  int width = 0;
  int height = 0;
  PixelFormat format = PixelFormat::kNone;
  /// Sources: frames without an image (no pixel memory at all).
  bool without_image = false;
  /// Sources: their frames' pixels are memory another module holds and counts (a ModuleIPC
  /// server's frames are its clients' shared-memory slots): they take none of their own.
  bool frames_in_shared_memory = false;
  /// A few words on what is held, for `vstream check` ("batch queue 8 + running batch 4").
  std::string detail;
};

struct VSTREAM_EXPORT CapacityOptions {
  /// The frame size assumed for sources whose config leaves it to the input (a DataSource), and
  /// for a ModuleIPC server whose clients are not among the configs.
  int assumed_width = 1920;
  int assumed_height = 1080;
  /// The pixel format assumed where no source fixes it.
  PixelFormat assumed_format = PixelFormat::kBGR24;
};

/// One module's share of the frames in flight.
struct VSTREAM_EXPORT ModuleCapacity {
  std::string name;
  std::string class_name;   // the class that runs it (IpcSender for a ModuleIPC client)
  bool is_source = false;
  int workers = 0;          // parallelism; 0 for sources
  int64_t queued = 0;       // workers x max_input_queue_size
  int64_t in_hand = 0;      // one per worker: in Process, or waiting to hand its frame on
  int64_t held = 0;         // workers x HeldFrames::per_worker; sources: HeldFrames::per_module
  HeldFrames declared;      // what the class's FramesHeld hook said (all zero without one)

  /// Frames this module can hold whatever the number of streams.
  int64_t frames() const { return queued + in_hand + held; }
};

/// The worst case of one config: frames in flight and bytes, as A + B x streams.
struct VSTREAM_EXPORT ConfigCapacity {
  std::string origin;                   // the config's file name
  std::vector<ModuleCapacity> modules;  // in config order
  int64_t frames = 0;                   // frames in flight whatever the number of streams
  int64_t frames_per_stream = 0;        // more for each stream (the most any source's stream adds)
  /// Set when every source receives from ModuleIPC clients among the configs: their slots bound the
  /// frames in this process, however many streams come.
  std::optional<int64_t> frames_limit;

  int width = 0;                        // the frame size the bytes are computed for: the largest
  int height = 0;                       //   a source makes, or the assumed one
  PixelFormat format = PixelFormat::kBGR24;
  bool size_assumed = false;            // some source leaves the size to its input (or clients)
  uint64_t frame_bytes = 0;             // VideoFrame::PackedSize of the above

  /// Memory of frames, pools, decoders and shared-memory slots whatever the number of streams
  /// (frames of a ModuleIPC server count with its clients' slots, in the clients' config).
  uint64_t bytes = 0;
  uint64_t bytes_per_stream = 0;        // more for each stream (the most any source's stream adds)
  uint64_t shared_memory_bytes = 0;     // shared-memory slots (ModuleIPC clients), also in `bytes`

  /// Shapes that make a module wait for frames that cannot come (each names the module, what it
  /// waits for, why it cannot come and what to change).
  std::vector<std::string> warnings;

  /// Frames in flight at most with `streams` streams.
  int64_t Frames(int64_t streams) const;
  /// Bytes at most with `streams` streams.
  uint64_t Bytes(int64_t streams) const;
};

/// Validates `configs` (as GraphConfig::Validate does; the first invalid one is the error) and works
/// out each one's capacity, in the same order. The configs are looked at together, as the parts of
/// one pipeline split across processes: a ModuleIPC server's frames are bounded by the slots of the
/// clients among them that send to it, and their frame size is the clients' frame size.
VSTREAM_EXPORT Status ComputeCapacity(const std::vector<const GraphConfig*>& configs, const CapacityOptions& options,
                                      std::vector<ConfigCapacity>* out);

}  // namespace vstream
