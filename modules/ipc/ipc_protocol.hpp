// The ModuleIPC wire protocol (private): messages between a client process (which writes pixels
// into shared-memory slots) and a server process (which wraps the slots as frame buffers).
//
// Every message is a 12-byte header (magic "VSIP", version, type, payload length, little-endian)
// followed by the payload. Decoding never trusts the sender: every length, count and index is
// checked against what is left of the message and against fixed limits, and an image's layout is
// checked against the slot it claims to live in. A message that fails any check is rejected with
// a reason (the connection is then closed); nothing is read outside the message or the segment.
// Self-contained (headers only from vstream), so a fuzzer can build it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vstream/frame.hpp"
#include "vstream/status.hpp"

namespace vstream::detail::ipc {

constexpr uint32_t kMagic = 0x50495356;  // "VSIP"
constexpr uint16_t kVersion = 2;  // 2: the segment is a memfd passed with Hello; Welcome carries limits
constexpr size_t kHeaderSize = 12;
constexpr uint32_t kMaxPayload = 16u << 20;  // 16 MiB of metadata is already absurd
constexpr uint32_t kNoSlot = 0xffffffffu;    // a frame without pixels (EOS, metadata only)

// Limits on what one frame's metadata may hold.
constexpr size_t kMaxString = 4096;
constexpr size_t kMaxObjects = 100000;
constexpr size_t kMaxAttributes = 1024;
constexpr size_t kMaxFeatureValues = 1u << 20;
constexpr size_t kMaxUserData = 256;
constexpr size_t kMaxUserDataBytes = 8u << 20;

enum class MessageType : uint16_t {
  kHello = 1,    // client -> server: who I am, my slots (again when they change; the segment's fd rides along)
  kWelcome = 2,  // server -> client: accepted, and the server's limits
  kFrame = 3,    // client -> server: one frame (its pixels in a slot)
  kRelease = 4,  // server -> client: the frame in this slot is done; the slot is free again
  kBye = 5,      // either way: clean goodbye
  kError = 6,    // either way: why the connection is being closed
};

/// The segment itself is not named: its memfd travels with the Hello message (SCM_RIGHTS) whenever
/// slot_count is not 0, and only then.
struct Hello {
  uint32_t pid = 0;
  uint64_t client_id = 0;  // random per client process: tells a reconnect from a new client
  uint32_t slot_count = 0;  // 0 (with slot_size 0) before the first image
  uint64_t slot_size = 0;   // bytes per slot
};

/// What the server accepts, so a client refuses a frame up front rather than have it refused forever.
struct Welcome {
  uint32_t max_payload = kMaxPayload;  // the largest frame message (metadata) the server takes
};

/// Where a frame's pixels are inside the client's segment.
struct ImageLayout {
  uint32_t slot = kNoSlot;
  int32_t width = 0;
  int32_t height = 0;
  uint8_t format = 0;  // vstream::PixelFormat
  int32_t strides[2] = {0, 0};
  uint64_t offsets[2] = {0, 0};  // from the start of the slot
};

/// One user-data entry serialized by a registered codec.
struct UserDataBlob {
  std::string key;
  std::string codec;
  std::string bytes;
};

struct FrameMessage {
  uint64_t sequence = 0;  // per client, increasing: the server drops repeats after a reconnect
  std::string stream_id;
  int64_t frame_index = 0;
  int64_t pts = 0;
  int32_t time_base_num = 1;
  int32_t time_base_den = 1000000;
  uint32_t flags = 0;
  ImageLayout image;
  std::vector<DetectedObject> objects;
  std::vector<UserDataBlob> user_data;
};

struct Release {
  uint32_t slot = 0;
  uint64_t sequence = 0;
};

/// Whole messages (header + payload), ready to write.
std::string EncodeHello(const Hello& hello);
std::string EncodeWelcome(const Welcome& welcome);
std::string EncodeFrame(const FrameMessage& frame);
/// Rewrites the sequence number and slot of a message EncodeFrame made, in place: a client encodes
/// (and checks) a frame once, before it knows either.
void SetFrameSequenceAndSlot(std::string* encoded_frame, uint64_t sequence, uint32_t slot);
std::string EncodeRelease(const Release& release);
std::string EncodeBye();
std::string EncodeError(const std::string& reason);

/// Reads a header. kInvalidArgument for a wrong magic or version, an unknown type or an oversized
/// payload.
Status DecodeHeader(const uint8_t* data, size_t size, MessageType* type, uint32_t* payload_size);

Status DecodeHello(const uint8_t* payload, size_t size, Hello* out);
Status DecodeWelcome(const uint8_t* payload, size_t size, Welcome* out);
Status DecodeFrame(const uint8_t* payload, size_t size, FrameMessage* out);
Status DecodeRelease(const uint8_t* payload, size_t size, Release* out);
Status DecodeError(const uint8_t* payload, size_t size, std::string* reason);

/// Checks that an image layout fits in one slot of `slot_size` bytes of a `slot_count`-slot segment.
Status CheckLayout(const ImageLayout& layout, uint32_t slot_count, uint64_t slot_size);

}  // namespace vstream::detail::ipc
