#include "ipc_client.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstring>
#include <random>
#include <system_error>
#include <typeindex>

#include "ipc_socket.hpp"
#include "vstream/log.hpp"
#include "vstream/modules/module_ipc.hpp"
#include "vstream/user_data_codec.hpp"

namespace vstream::detail::ipc {
namespace {

constexpr size_t kPageSize = 4096;
constexpr int kFirstBackoffMs = 5;
constexpr int kLongestBackoffMs = 200;
constexpr auto kWaitingWarning = std::chrono::seconds(3);
constexpr int kMessageTimeoutMs = 10000;  // a server that stalls mid-message this long is dropped

uint64_t RandomClientId() {
  std::random_device device;
  const uint64_t high = device();
  const uint64_t low = device();
  const uint64_t time = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return ((high << 32) ^ low ^ time ^ (static_cast<uint64_t>(::getpid()) << 17)) | 1;
}

}  // namespace

IpcClient::IpcClient(IpcSender* module, ClientSettings settings)
    : module_(module), settings_(std::move(settings)), client_id_(RandomClientId()) {}

IpcClient::~IpcClient() {
  Interrupt();
  if (Status s = Stop(); !s) VSTREAM_LOG_ERROR("module '{}': {}", settings_.module, s.message());
}

Status IpcClient::Start() {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return {StatusCode::kRuntimeError, std::string("eventfd: ") + std::strerror(errno)};
  try {
    io_thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    ::close(wake_fd_);
    wake_fd_ = -1;
    return {StatusCode::kUnavailable, std::string("cannot start the ModuleIPC client's thread: ") + e.what()};
  }
  return Status::Ok();
}

void IpcClient::Interrupt() {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    interrupted_ = true;
    state_changed_.notify_all();
  }
  // Ends a send stuck on a server that does not read, and the I/O thread's waits.
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }
}

Status IpcClient::Stop() {
  if (!io_thread_.joinable()) return Status::Ok();
  size_t lost = 0;
  bool aborted = false;
  std::set<std::string> lost_streams;
  {
    std::unique_lock<std::mutex> lock(state_mutex_);
    state_changed_.wait_for(lock, std::chrono::milliseconds(settings_.close_timeout_ms),
                            [this] { return unacked_.empty() || interrupted_; });
    lost = unacked_.size();
    aborted = interrupted_;
    for (const auto& [sequence, pending] : unacked_) lost_streams.insert(pending.stream_id);
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  io_thread_.join();
  {
    std::lock_guard<std::mutex> lock(send_mutex_);
    if (fd_ >= 0) {
      const std::string bye = EncodeBye();  // best effort: a server that does not read sees EOF instead
      (void)!::send(fd_, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd_);
      fd_ = -1;
    }
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    segment_.reset();  // the owner removes the segment's name
    unacked_.clear();
    free_slots_.clear();
  }
  if (lost == 0) return Status::Ok();
  std::string streams;
  for (const auto& id : lost_streams) streams += (streams.empty() ? "'" : ", '") + id + "'";
  if (aborted) {
    return {StatusCode::kUnavailable, "the pipeline aborted with " + std::to_string(lost) + " frame(s) of stream(s) " + streams +
                                          " not yet acknowledged by the ModuleIPC server on '" + settings_.socket_path +
                                          "'; they are lost"};
  }
  return {StatusCode::kUnavailable,
          std::to_string(lost) + " frame(s) of stream(s) " + streams + " were not acknowledged by a ModuleIPC server on '" +
              settings_.socket_path + "' within close_timeout_ms (" + std::to_string(settings_.close_timeout_ms) +
              " ms) and are lost; start the server, or raise close_timeout_ms to wait longer"};
}

Status IpcClient::EnsureSegment(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (segment_ != nullptr && bytes <= slot_size_) return Status::Ok();
  }
  // A bigger image than the slots hold (or the first image): new slots once none is in use, so
  // every unacknowledged frame always lives in the current segment.
  while (true) {
    {
      std::unique_lock<std::mutex> lock(state_mutex_);
      state_changed_.wait(lock, [this] { return free_slots_.size() == (segment_ ? slot_count_ : 0) || interrupted_; });
      if (interrupted_) return {StatusCode::kFailedState, "stopped while waiting for the server to release every slot"};
    }
    std::lock_guard<std::mutex> send_lock(send_mutex_);
    HelloToSend hello;
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      if (free_slots_.size() != (segment_ ? slot_count_ : 0)) continue;
      const uint64_t slot_size = (bytes + kPageSize - 1) / kPageSize * kPageSize;
      // All slots when the memory is there; else as many as can be reserved (halving), at least one.
      uint32_t count = settings_.slots;
      if (const size_t limit = ShmSegment::SizeLimit(); limit / slot_size < count) {
        count = static_cast<uint32_t>(std::max<uint64_t>(1, limit / slot_size));
      }
      std::unique_ptr<ShmSegment> created;
      Status made;
      while (true) {
        made = ShmSegment::Create(slot_size * count, &created);
        if (made || count == 1) break;
        count = count / 2;
      }
      if (!made) {
        return {made.code(), made.message() + ", so not even one slot of " + std::to_string(slot_size) +
                                 " bytes for this frame; give the process more memory (a container's memory limit, "
                                 "ulimit -f) or send smaller frames"};
      }
      if (count < settings_.slots) {
        VSTREAM_LOG_WARN("module '{}': only {} of the {} shared-memory slots of {} bytes could be reserved; running with {} "
                         "(lower max_cachedframe_size to {} to silence this, or give the process more memory)",
                         settings_.module, count, settings_.slots, slot_size, count, count);
      } else if (segment_ != nullptr) {
        VSTREAM_LOG_INFO("module '{}': frames grew to {} bytes; new shared-memory slots of {} bytes", settings_.module, bytes,
                         slot_size);
      }
      segment_ = std::move(created);
      slot_size_ = slot_size;
      slot_count_ = count;
      ++segment_generation_;
      free_slots_.clear();
      for (uint32_t i = count; i > 0; --i) free_slots_.push_back(i - 1);
      hello = HelloMessage();
    }
    // Under send_mutex_, so the server hears of the new slots before any frame that uses them.
    if (fd_ >= 0) (void)SendHello(fd_, hello);  // a failure shows up as EOF on the I/O thread
    return Status::Ok();
  }
}

IpcClient::HelloToSend IpcClient::HelloMessage() {
  // Called with state_mutex_ held.
  Hello hello;
  hello.pid = static_cast<uint32_t>(::getpid());
  hello.client_id = client_id_;
  if (segment_ != nullptr) {
    hello.slot_count = slot_count_;
    hello.slot_size = slot_size_;
  }
  return {EncodeHello(hello), segment_};
}

Status IpcClient::SendHello(int fd, const HelloToSend& hello) {
  return SendAll(fd, hello.bytes, wake_fd_, hello.segment != nullptr ? hello.segment->fd() : -1);
}

Status IpcClient::Reserve(bool with_slot, uint32_t* slot, uint8_t** memory) {
  std::unique_lock<std::mutex> lock(state_mutex_);
  // Every frame in flight counts, with pixels or not (an EOS too): at most max_cachedframe_size,
  // and a frame with pixels needs a slot (there may be fewer slots than that when memory was short).
  state_changed_.wait(lock, [&] {
    return interrupted_ || (in_flight_ < settings_.slots && (!with_slot || !free_slots_.empty()));
  });
  if (interrupted_) return {StatusCode::kFailedState, "stopped while waiting for the server to release a frame"};
  ++in_flight_;
  if (with_slot) {
    *slot = free_slots_.back();
    free_slots_.pop_back();
    *memory = segment_->data() + static_cast<size_t>(*slot) * slot_size_;
  }
  return Status::Ok();
}

void IpcClient::PackedLayout(const VideoFrame& image, ImageLayout* layout) {
  // Planes tightly packed one after the other from the start of the slot.
  uint64_t offset = 0;
  for (int p = 0; p < image.plane_count(); ++p) {
    layout->strides[p] = image.plane_row_bytes(p);
    layout->offsets[p] = offset;
    offset += static_cast<uint64_t>(image.plane_row_bytes(p)) * static_cast<uint64_t>(image.plane_rows(p));
  }
  layout->width = image.width();
  layout->height = image.height();
  layout->format = static_cast<uint8_t>(image.format());
}

void IpcClient::CopyIn(const VideoFrame& image, uint8_t* memory, const ImageLayout& layout) {
  // The one copy of the pixels: one memcpy per plane when the source rows are contiguous too.
  for (int p = 0; p < image.plane_count(); ++p) {
    const size_t row = static_cast<size_t>(layout.strides[p]);
    const size_t rows = static_cast<size_t>(image.plane_rows(p));
    uint8_t* out = memory + layout.offsets[p];
    if (static_cast<size_t>(image.stride(p)) == row) {
      std::memcpy(out, image.plane(p), row * rows);
    } else {
      for (size_t r = 0; r < rows; ++r) std::memcpy(out + r * row, image.plane(p) + r * image.stride(p), row);
    }
  }
}

void IpcClient::EncodeUserData(const Frame& frame, FrameMessage* message) {
  std::vector<std::string> without_codec;
  frame.data.Visit([&](const std::string& key, const std::any& value) {
    auto codec = FindUserDataCodec(std::type_index(value.type()));
    if (codec == nullptr) {
      without_codec.push_back(key);
      return;
    }
    message->user_data.push_back({key, codec->name, codec->encode(value)});
  });
  if (without_codec.empty()) return;
  std::lock_guard<std::mutex> lock(state_mutex_);
  for (const auto& key : without_codec) {
    if (unsent_keys_.insert(key).second) {
      VSTREAM_LOG_WARN("module '{}': user data '{}' has a type without a codec and stays in this process; register one with "
                  "vstream::RegisterUserDataCodec in both processes to send it",
                  settings_.module, key);
    }
  }
}

Status IpcClient::Send(const FramePtr& frame) {
  FrameMessage message;
  message.stream_id = frame->stream_id;
  message.frame_index = frame->frame_index;
  message.pts = frame->pts;
  message.time_base_num = frame->time_base.num;
  message.time_base_den = frame->time_base.den;
  message.flags = frame->flags;
  {
    auto lock = frame->LockObjects();
    message.objects = frame->objects;
  }
  EncodeUserData(*frame, &message);
  const bool with_image = !frame->IsEos() && !frame->image.empty();
  const VideoFrame& image = frame->image;
  if (with_image) PackedLayout(image, &message.image);
  // Encoded once, and checked with the decoder the server runs: a frame the server would refuse
  // must not reach the socket, where it would close the connection and be resent forever. The
  // sequence and slot are filled in below.
  std::string encoded = EncodeFrame(message);
  if (const uint32_t limit = server_max_payload_.load(); encoded.size() - kHeaderSize > limit) {
    return {StatusCode::kInvalidArgument, "the frame's metadata takes " + std::to_string(encoded.size() - kHeaderSize) +
                                              " bytes, more than the ModuleIPC server's limit of " + std::to_string(limit) +
                                              " (its max_message_bytes)"};
  }
  FrameMessage decoded;
  if (Status s = DecodeFrame(reinterpret_cast<const uint8_t*>(encoded.data()) + kHeaderSize, encoded.size() - kHeaderSize,
                             &decoded);
      !s) {
    return {StatusCode::kInvalidArgument, "the frame cannot cross to another process: " + s.message()};
  }

  if (with_image) {
    if (Status s = EnsureSegment(VideoFrame::PackedSize(image.width(), image.height(), image.format())); !s) return s;
  }
  uint32_t slot = kNoSlot;
  uint8_t* memory = nullptr;
  if (Status s = Reserve(with_image, &slot, &memory); !s) return s;
  if (with_image) CopyIn(image, memory, message.image);

  std::lock_guard<std::mutex> send_lock(send_mutex_);
  const uint64_t sequence = next_sequence_++;
  SetFrameSequenceAndSlot(&encoded, sequence, slot);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    unacked_.emplace(sequence, Pending{slot, encoded, frame->stream_id});
  }
  if (fd_ >= 0) (void)SendAll(fd_, encoded, wake_fd_);  // a failure shows up as EOF on the I/O thread, which resends
  return Status::Ok();
}

std::string IpcClient::QueuedRefusal(int fd) const {
  pollfd readable{fd, POLLIN, 0};
  if (::poll(&readable, 1, 0) <= 0) return "";
  MessageType type{};
  std::string payload;
  ReceiveOptions options;
  options.message_timeout_ms = 100;
  std::string reason;
  if (!ReceiveMessage(fd, options, &type, &payload) || type != MessageType::kError ||
      !DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason)) {
    return "";
  }
  return "the ModuleIPC server on '" + settings_.socket_path + "' refused this client: " + reason;
}

ReceiveOptions IpcClient::ReceiveOptionsForServer() const {
  ReceiveOptions options;
  options.wake = wake_fd_;
  options.wake_mid_message = true;  // the client wakes only to stop: a half-read message must not hold it
  options.message_timeout_ms = kMessageTimeoutMs;
  return options;
}

bool IpcClient::WaitBackoff(int milliseconds) {
  pollfd wake{wake_fd_, POLLIN, 0};
  return ::poll(&wake, 1, milliseconds) == 0;
}

void IpcClient::Run() {
  int backoff = kFirstBackoffMs;
  auto waiting_since = std::chrono::steady_clock::now();
  bool warned = false;
  while (true) {
    int fd = -1;
    if (!Connect(&fd)) {
      if (!warned && std::chrono::steady_clock::now() - waiting_since > kWaitingWarning) {
        VSTREAM_LOG_WARN("module '{}': waiting for a ModuleIPC server on '{}' (start the server's config)", settings_.module,
                    settings_.socket_path);
        warned = true;
      }
      if (!WaitBackoff(backoff)) return;
      backoff = std::min(backoff * 2, kLongestBackoffMs);
      continue;
    }
    backoff = kFirstBackoffMs;
    warned = false;
    if (!ReadReleases(fd)) return;  // woken to stop: Stop() says goodbye on fd_
    waiting_since = std::chrono::steady_clock::now();
  }
}

bool IpcClient::Connect(int* fd) {
  Status s = ipc::Connect(settings_.socket_path, fd);
  if (!s) {
    if (s.code() != StatusCode::kUnavailable) VSTREAM_LOG_DEBUG("module '{}': {}", settings_.module, s.message());
    return false;
  }
  auto give_up = [&](const std::string& why) {
    // Retried every 200 ms at most: the same refusal is logged once.
    if (!why.empty() && why != last_refusal_) VSTREAM_LOG_ERROR("module '{}': {}", settings_.module, why);
    if (!why.empty()) last_refusal_ = why;
    ::close(*fd);
    *fd = -1;
    return false;
  };
  if (Status peer = CheckPeer(*fd); !peer) return give_up(peer.message());
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> send_lock(send_mutex_);
    HelloToSend hello;
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      hello = HelloMessage();
      generation = segment_generation_;
    }
    // A server that refuses us may close before our Hello is out: its reason is still queued.
    if (!SendHello(*fd, hello)) return give_up(QueuedRefusal(*fd));
  }
  MessageType type{};
  std::string payload;
  Status answer = ReceiveMessage(*fd, ReceiveOptionsForServer(), &type, &payload);
  if (!answer) return give_up("");  // stopping, or the server went away again
  if (type == MessageType::kError) {
    std::string reason;
    if (!DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason)) reason = "(its error message could not be decoded)";
    return give_up("the ModuleIPC server on '" + settings_.socket_path + "' refused this client: " + reason);
  }
  if (type != MessageType::kWelcome) return give_up("the ModuleIPC server on '" + settings_.socket_path + "' did not answer Hello");
  Welcome welcome;
  if (Status decoded = DecodeWelcome(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &welcome); !decoded) {
    return give_up("the ModuleIPC server on '" + settings_.socket_path + "' sent a " + decoded.message());
  }
  server_max_payload_ = std::min(welcome.max_payload, kMaxPayload);

  std::lock_guard<std::mutex> send_lock(send_mutex_);
  std::vector<std::string> resend;
  HelloToSend hello;
  std::set<std::string> refused_streams;
  size_t refused = 0;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (segment_generation_ != generation) hello = HelloMessage();
    for (auto it = unacked_.begin(); it != unacked_.end();) {
      // Frames queued while no server was there, larger than this one takes: it would refuse them
      // forever, so they are dropped now (and reported) instead.
      if (it->second.message.size() - kHeaderSize > server_max_payload_.load()) {
        refused_streams.insert(it->second.stream_id);
        ++refused;
        if (it->second.slot != kNoSlot) free_slots_.push_back(it->second.slot);
        --in_flight_;
        it = unacked_.erase(it);
        continue;
      }
      resend.push_back(it->second.message);
      ++it;
    }
    if (refused > 0) state_changed_.notify_all();
  }
  if (refused > 0) {
    std::string streams;
    for (const auto& id : refused_streams) streams += (streams.empty() ? "'" : ", '") + id + "'";
    const std::string message = std::to_string(refused) + " frame(s) of stream(s) " + streams +
                                " have more metadata than the ModuleIPC server on '" + settings_.socket_path + "' takes (" +
                                std::to_string(server_max_payload_.load()) + " bytes, its max_message_bytes); they are dropped";
    VSTREAM_LOG_ERROR("module '{}': {}", settings_.module, message);
    module_->ReportModuleError(message);
  }
  // The I/O thread reads no release while it resends; the server queues them meanwhile (it never
  // blocks on a client that does not read), and a stop wakes these sends.
  if (!hello.bytes.empty() && !SendHello(*fd, hello)) return give_up("");
  for (const auto& message : resend) {
    if (!SendAll(*fd, message, wake_fd_)) return give_up("");
  }
  fd_ = *fd;
  last_refusal_.clear();
  const bool reconnect = connected_before_;
  connected_before_ = true;
  if (resend.empty() || !reconnect) {
    VSTREAM_LOG_INFO("module '{}': connected to the ModuleIPC server on '{}'{}", settings_.module, settings_.socket_path,
                resend.empty() ? "" : " and sent the " + std::to_string(resend.size()) + " frame(s) that waited for it");
  } else {
    VSTREAM_LOG_WARN("module '{}': connected to the ModuleIPC server on '{}' and resent {} unacknowledged frame(s)", settings_.module,
                settings_.socket_path, resend.size());
  }
  return true;
}

bool IpcClient::ReadReleases(int fd) {
  MessageType type{};
  std::string payload;
  while (true) {
    Status s = ReceiveMessage(fd, ReceiveOptionsForServer(), &type, &payload);
    if (!s && s.code() == StatusCode::kFailedState) return false;  // woken: stopping
    if (!s) {
      Disconnect(fd, s.code() == StatusCode::kUnavailable ? "the server closed the connection" : s.message(), true);
      return true;
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(payload.data());
    if (type == MessageType::kRelease) {
      Release release;
      Status decoded = DecodeRelease(bytes, payload.size(), &release);
      std::string problem = decoded ? "" : decoded.message();
      if (decoded) {
        std::lock_guard<std::mutex> lock(state_mutex_);
        auto it = unacked_.find(release.sequence);
        if (it != unacked_.end() && it->second.slot != release.slot) {
          problem = "release of frame " + std::to_string(release.sequence) + " names slot " + std::to_string(release.slot) +
                    ", not its slot " + std::to_string(it->second.slot);
        } else if (it != unacked_.end()) {
          // (A release of a frame not pending is a repeat after a resend: nothing to do.)
          if (it->second.slot != kNoSlot) free_slots_.push_back(it->second.slot);
          unacked_.erase(it);
          --in_flight_;
          state_changed_.notify_all();
        }
      }
      if (!problem.empty()) {
        {
          std::lock_guard<std::mutex> send_lock(send_mutex_);
          (void)SendAll(fd, EncodeError(problem), wake_fd_);
        }
        Disconnect(fd, "the server sent a malformed message: " + problem, true);
        return true;
      }
    } else if (type == MessageType::kBye) {
      Disconnect(fd, "the server stopped", false);
      return true;
    } else if (type == MessageType::kError) {
      std::string reason;
      if (!DecodeError(bytes, payload.size(), &reason)) reason = "(its error message could not be decoded)";
      Disconnect(fd, "the server closed the connection: " + reason, true);
      return true;
    } else {
      Disconnect(fd, "the server sent an unexpected message (type " + std::to_string(static_cast<int>(type)) + ")", true);
      return true;
    }
  }
}

void IpcClient::Disconnect(int fd, const std::string& why, bool warn) {
  size_t pending = 0;
  {
    std::lock_guard<std::mutex> send_lock(send_mutex_);
    if (fd_ == fd) fd_ = -1;
    ::close(fd);
  }
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pending = unacked_.size();
  }
  if (warn) {
    VSTREAM_LOG_WARN("module '{}': lost the ModuleIPC server on '{}' ({}); {} unacknowledged frame(s) will be resent to the next one",
                settings_.module, settings_.socket_path, why, pending);
  } else {
    VSTREAM_LOG_INFO("module '{}': the ModuleIPC server on '{}' said goodbye; {} unacknowledged frame(s) wait for the next one",
                settings_.module, settings_.socket_path, pending);
  }
}

}  // namespace vstream::detail::ipc
