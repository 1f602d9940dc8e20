// IpcClient: the sending end of a ModuleIPC pair (private; IpcSender, ModuleIPC with ipc_type "client").
//
// Process() copies a frame's pixels into a free slot of the client's shared-memory segment, keeps
// the encoded frame message as unacknowledged, and sends it when connected. One I/O thread
// connects (retrying with back-off until a server listens), says Hello, resends every
// unacknowledged message in order, then reads Releases, each of which frees a slot and forgets
// its message. When the server goes away (socket closed, kill -9) the thread notices at once and
// goes back to connecting; nothing unacknowledged is lost.
//
// Locks: send_mutex_ orders sequence numbers with the bytes on the socket (held across a send,
// which the wake fd can always end); state_mutex_ guards slots and unacknowledged messages and is
// never held across I/O. A thread that holds both takes send_mutex_ first.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipc_protocol.hpp"
#include "ipc_socket.hpp"
#include "shm_segment.hpp"
#include "vstream/frame.hpp"
#include "vstream/status.hpp"

namespace vstream {
class IpcSender;
}

namespace vstream::detail::ipc {

struct ClientSettings {
  std::string module;          // the module's name, for messages
  std::string socket_path;
  uint32_t slots = 40;         // max_cachedframe_size
  int64_t close_timeout_ms = 10000;
};

class IpcClient {
 public:
  IpcClient(IpcSender* module, ClientSettings settings);
  ~IpcClient();

  Status Start();
  /// Sends `frame`. Fails when interrupted while waiting for a slot.
  Status Send(const FramePtr& frame);
  /// Makes waits in Send return (pipeline abort).
  void Interrupt();
  /// Waits (up to close_timeout_ms, not at all after Interrupt) for the server to acknowledge
  /// everything sent, says goodbye and stops the I/O thread. Returns what was lost, if anything.
  Status Stop();

 private:
  struct Pending {
    uint32_t slot;
    std::string message;
    std::string stream_id;
  };

  struct HelloToSend {
    std::string bytes;
    std::shared_ptr<ShmSegment> segment;  // its fd goes with the message; kept open while sending
  };

  Status EnsureSegment(size_t bytes);
  /// Waits for room (fewer than max_cachedframe_size frames in flight) and takes it, with a slot
  /// when the frame has an image.
  Status Reserve(bool with_slot, uint32_t* slot, uint8_t** memory);
  static void PackedLayout(const VideoFrame& image, ImageLayout* layout);
  static void CopyIn(const VideoFrame& image, uint8_t* memory, const ImageLayout& layout);
  HelloToSend HelloMessage();  // with state_mutex_ held
  Status SendHello(int fd, const HelloToSend& hello);
  void Run();
  /// Connects, says Hello, waits for Welcome and resends what is unacknowledged. False: not now.
  bool Connect(int* fd);
  /// Reads releases until the connection ends (true) or the client stops (false).
  bool ReadReleases(int fd);
  void Disconnect(int fd, const std::string& why, bool warn);
  bool WaitBackoff(int milliseconds);
  ReceiveOptions ReceiveOptionsForServer() const;
  /// The reason in an Error the server sent before closing, if one is waiting to be read.
  std::string QueuedRefusal(int fd) const;
  void EncodeUserData(const Frame& frame, FrameMessage* message);

  IpcSender* module_;
  const ClientSettings settings_;
  const uint64_t client_id_;
  int wake_fd_ = -1;  // eventfd: readable once stopping, ends the I/O thread's waits

  std::mutex send_mutex_;
  int fd_ = -1;                 // guarded by send_mutex_; -1 while not connected (handshake done)
  uint64_t next_sequence_ = 1;  // guarded by send_mutex_
  std::atomic<uint32_t> server_max_payload_{kMaxPayload};  // from the server's Welcome

  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  std::shared_ptr<ShmSegment> segment_;  // guarded by state_mutex_ (replaced only with no slot in use)
  uint64_t slot_size_ = 0;               // guarded by state_mutex_
  uint32_t slot_count_ = 0;              // guarded by state_mutex_: slots of segment_ (fewer than asked when memory is short)
  uint64_t segment_generation_ = 0;      // guarded by state_mutex_; counts segment replacements
  std::vector<uint32_t> free_slots_;     // guarded by state_mutex_
  std::map<uint64_t, Pending> unacked_;  // guarded by state_mutex_; by sequence
  bool interrupted_ = false;             // guarded by state_mutex_
  uint32_t in_flight_ = 0;               // guarded by state_mutex_: reserved or unacknowledged frames
  std::set<std::string> unsent_keys_;    // guarded by state_mutex_: user-data keys without a codec (logged once)

  std::thread io_thread_;
  bool connected_before_ = false;  // I/O thread only
  std::string last_refusal_;       // I/O thread only: the last reason a server refused us
};

}  // namespace vstream::detail::ipc
