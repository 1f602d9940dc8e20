#include "ipc_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "ipc_protocol.hpp"
#include "ipc_socket.hpp"
#include "log_internal.hpp"
#include "shm_segment.hpp"
#include "vstream/modules/module_ipc.hpp"
#include "vstream/user_data_codec.hpp"

namespace vstream::detail::ipc {
namespace {

thread_local bool t_adding_stream = false;

/// Runs `release` when the last copy of the token goes: the acknowledgement of a frame without
/// pixels travels in its user data (key "vstream.ipc.release"), so it follows the frame's lifetime.
struct ReleaseToken {
  explicit ReleaseToken(std::function<void()> release_in) : release(std::move(release_in)) {}
  ~ReleaseToken() {
    if (release) release();
  }
  ReleaseToken(const ReleaseToken&) = delete;
  ReleaseToken& operator=(const ReleaseToken&) = delete;
  std::function<void()> release;
};

bool ProcessGone(pid_t pid) { return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH; }

void Wake(int fd) {
  const uint64_t one = 1;
  (void)!::write(fd, &one, sizeof(one));
}

void Drain(int fd) {
  uint64_t count = 0;
  (void)!::read(fd, &count, sizeof(count));
}

}  // namespace

struct IpcServer::Connection {
  int fd = -1;
  int wake_fd = -1;  // eventfd: a stream of this connection was removed, or the server stops
  pid_t pid = -1;
  std::mutex send_mutex;
  bool open = true;  // guarded by send_mutex
  std::thread reader;
  std::atomic<bool> finished{false};
  // Only the reader thread touches these.
  std::shared_ptr<ClientState> client;
  std::set<std::string> reported;

  bool Send(const std::string& bytes) {
    std::lock_guard<std::mutex> lock(send_mutex);
    return open && SendAll(fd, bytes).ok();
  }
  ~Connection() {
    if (fd >= 0) ::close(fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }
};

struct IpcServer::ClientState {
  uint64_t id = 0;
  pid_t pid = -1;
  std::mutex mutex;
  std::shared_ptr<ShmSegment> segment;  // guarded by mutex (frames keep older ones mapped)
  uint32_t slot_count = 0;              // guarded by mutex
  uint64_t slot_size = 0;               // guarded by mutex
  uint64_t last_sequence = 0;           // guarded by mutex
  std::set<uint64_t> held;              // guarded by mutex: sequences of frames alive in this process
  std::weak_ptr<Connection> connection;  // guarded by mutex: where releases go

  void Release(uint64_t sequence, uint32_t slot) {
    std::shared_ptr<Connection> to;
    {
      std::lock_guard<std::mutex> lock(mutex);
      held.erase(sequence);
      to = connection.lock();
    }
    if (to != nullptr) to->Send(EncodeRelease({slot, sequence}));
  }
};

struct IpcServer::StreamEntry {
  std::shared_ptr<Connection> owner;
  int64_t next_index = 0;
  bool removed = false;  // RemoveSource asked; the reader ends it
  bool ended = false;    // its EOS was sent; frames of it are dropped until the client's EOS
};

IpcServer::IpcServer(ModuleIPC* module, ServerSettings settings) : module_(module), settings_(std::move(settings)) {}

IpcServer::~IpcServer() { Stop(); }

bool IpcServer::AddingStream() { return t_adding_stream; }

Status IpcServer::Start() {
  ShmSegment::RemoveStale();
  if (Status s = Listen(settings_.socket_path, &listen_fd_); !s) return s;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return {StatusCode::kRuntimeError, std::string("eventfd: ") + std::strerror(errno)};
  module_->SetExpectingStreams(true);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  VS_LOG_INFO("module '{}': ModuleIPC server listening on '{}'", settings_.module, settings_.socket_path);
  return Status::Ok();
}

void IpcServer::Stop() {
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    connections = connections_;
  }
  if (accept_thread_.joinable()) {
    Wake(wake_fd_);
    accept_thread_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(settings_.socket_path.c_str());
    listen_fd_ = -1;
  }
  for (auto& connection : connections) {
    Wake(connection->wake_fd);
    ::shutdown(connection->fd, SHUT_RD);  // also ends a read a stalled peer left half done
  }
  for (auto& connection : connections) {
    if (connection->reader.joinable()) connection->reader.join();
    std::lock_guard<std::mutex> lock(connection->send_mutex);
    if (connection->open) (void)SendAll(connection->fd, EncodeBye());
    connection->open = false;
    ::shutdown(connection->fd, SHUT_RDWR);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.clear();
    clients_.clear();
    streams_.clear();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  ShmSegment::RemoveStale();
  module_->SetExpectingStreams(false);
}

void IpcServer::RemoveStream(const std::string& stream_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = streams_.find(stream_id);
  if (it == streams_.end() || it->second.ended) return;
  it->second.removed = true;
  Wake(it->second.owner->wake_fd);
}

void IpcServer::AcceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      VS_LOG_ERROR("module '{}': poll on the listening socket failed: {}", settings_.module, std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (Status peer = CheckPeer(fd); !peer) {
      VS_LOG_WARN("module '{}': {}", settings_.module, peer.message());
      (void)SendAll(fd, EncodeError(peer.message()));
      ::close(fd);
      continue;
    }
    auto connection = std::make_shared<Connection>();
    connection->fd = fd;
    connection->pid = PeerPid(fd);
    connection->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    std::vector<std::shared_ptr<Connection>> finished;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ || connection->wake_fd < 0) continue;  // the connection's destructor closes it
      for (auto it = connections_.begin(); it != connections_.end();) {
        if ((*it)->finished.load()) {
          finished.push_back(*it);
          it = connections_.erase(it);
        } else {
          ++it;
        }
      }
      connections_.push_back(connection);
    }
    for (auto& done : finished) done->reader.join();
    connection->reader = std::thread([this, connection] { Serve(connection); });
    UpdateExpecting();
  }
}

void IpcServer::Serve(const std::shared_ptr<Connection>& connection) {
  MessageType type{};
  std::string payload;
  bool clean = false;
  std::string why;
  while (true) {
    EndRemovedStreams(connection);
    Status s = ReceiveMessage(connection->fd, connection->wake_fd, &type, &payload);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    if (!s && s.code() == StatusCode::kFailedState) {
      Drain(connection->wake_fd);
      continue;
    }
    if (!s) {
      why = s.code() == StatusCode::kUnavailable ? "it closed the connection without saying goodbye" : s.message();
      if (s.code() != StatusCode::kUnavailable) connection->Send(EncodeError(s.message()));
      break;
    }
    Status handled;
    if (type == MessageType::kHello) {
      handled = HandleHello(connection, payload);
    } else if (type == MessageType::kFrame) {
      handled = connection->client == nullptr ? Status(StatusCode::kInvalidArgument, "a frame came before Hello")
                                              : HandleFrame(connection, payload);
    } else if (type == MessageType::kBye) {
      clean = true;
      break;
    } else if (type == MessageType::kError) {
      std::string reason;
      DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason);
      why = "it reported an error: " + reason;
      break;
    } else {
      handled = {StatusCode::kInvalidArgument, "unexpected message type " + std::to_string(static_cast<int>(type))};
    }
    if (!handled) {
      why = "it sent a malformed message (" + handled.message() + ")";
      connection->Send(EncodeError(handled.message()));
      break;
    }
  }
  Disconnected(connection, clean, why);
  connection->finished = true;
}

Status IpcServer::HandleHello(const std::shared_ptr<Connection>& connection, const std::string& payload) {
  Hello hello;
  if (Status s = DecodeHello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &hello); !s) return s;
  if (connection->pid > 0 && static_cast<pid_t>(hello.pid) != connection->pid) {
    return {StatusCode::kInvalidArgument, "hello says pid " + std::to_string(hello.pid) + " but the peer is pid " +
                                              std::to_string(connection->pid)};
  }
  const bool first = connection->client == nullptr;
  if (!first && connection->client->id != hello.client_id) return {StatusCode::kInvalidArgument, "the client id changed"};
  std::unique_ptr<ShmSegment> opened;
  if (!hello.segment.empty()) {
    if (ShmSegment::OwnerOf(hello.segment) != static_cast<pid_t>(hello.pid)) {
      return {StatusCode::kInvalidArgument, "segment '" + hello.segment + "' does not belong to the peer"};
    }
    if (Status s = ShmSegment::Open(hello.segment, static_cast<size_t>(hello.slot_count) * hello.slot_size, &opened); !s) return s;
  }
  std::shared_ptr<ClientState> client = connection->client;
  if (first) {
    ShmSegment::RemoveStale();
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      it = ProcessGone(it->second->pid) ? clients_.erase(it) : std::next(it);
    }
    auto& known = clients_[hello.client_id];
    if (known != nullptr && known->pid != static_cast<pid_t>(hello.pid)) {
      return {StatusCode::kInvalidArgument, "client id already used by pid " + std::to_string(known->pid)};
    }
    if (known == nullptr) {
      known = std::make_shared<ClientState>();
      known->id = hello.client_id;
      known->pid = static_cast<pid_t>(hello.pid);
    }
    client = known;
  }
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    if (opened != nullptr) {
      client->segment = std::move(opened);
      client->slot_count = hello.slot_count;
      client->slot_size = hello.slot_size;
    }
    client->connection = connection;
  }
  connection->client = client;
  if (first) {
    VS_LOG_INFO("module '{}': client process {} connected", settings_.module, hello.pid);
    if (!connection->Send(EncodeWelcome())) return {StatusCode::kUnavailable, "the client went away"};
  }
  return Status::Ok();
}

Status IpcServer::HandleFrame(const std::shared_ptr<Connection>& connection, const std::string& payload) {
  FrameMessage message;
  if (Status s = DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &message); !s) return s;
  ClientState& client = *connection->client;
  const uint32_t slot = message.image.slot;
  std::shared_ptr<ShmSegment> segment;
  uint64_t slot_size = 0;
  bool repeat = false;
  bool still_held = false;
  {
    std::lock_guard<std::mutex> lock(client.mutex);
    if (slot != kNoSlot && client.segment == nullptr) {
      return {StatusCode::kInvalidArgument, "a frame names slot " + std::to_string(slot) + " before Hello announced a segment"};
    }
    if (Status s = CheckLayout(message.image, client.slot_count, client.slot_size); !s) return s;
    segment = client.segment;
    slot_size = client.slot_size;
    repeat = message.sequence <= client.last_sequence;
    still_held = client.held.count(message.sequence) != 0;
  }
  const std::string& id = message.stream_id;
  auto release_now = [&] { connection->Send(EncodeRelease({slot, message.sequence})); };
  if (repeat) {
    // A resend after a reconnect: done already, or still on its way and released later.
    if (!still_held) release_now();
    return Status::Ok();
  }
  const bool eos = (message.flags & kFrameEos) != 0;
  bool add = false;
  bool end = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(id);
    if (it != streams_.end() && it->second.owner != connection) {
      ReportOnce(*connection, id,
                 "stream id '" + id + "' of client process " + std::to_string(connection->pid) +
                     " is already used by another client of this server; its frames are dropped (give each client's streams their own ids)");
      release_now();
      return Status::Ok();
    }
    if (eos) {
      if (it == streams_.end() || it->second.ended) {
        if (it != streams_.end()) streams_.erase(it);
        release_now();
        return Status::Ok();
      }
      streams_.erase(it);
      end = true;
    } else if (it == streams_.end()) {
      streams_[id] = StreamEntry{connection, message.frame_index, false, false};
      add = true;
    } else if (it->second.ended) {
      // Removed here. While the pipeline stops the frame stays unacknowledged, so the client
      // gives it to the next server; otherwise it is released unprocessed.
      if (!module_->PipelineStopping()) release_now();
      return Status::Ok();
    }
  }
  if (add) {
    t_adding_stream = true;
    Status added = module_->AddSource(id, "ipc://" + std::to_string(connection->pid), {});
    t_adding_stream = false;
    if (!added) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        streams_.erase(id);
      }
      if (added.code() == StatusCode::kFailedState) return Status::Ok();  // stopping: left for the next server
      ReportOnce(*connection, id, "cannot start stream '" + id + "' of client process " + std::to_string(connection->pid) + ": " +
                                      added.message());
      release_now();
      return Status::Ok();
    }
  }
  {
    std::lock_guard<std::mutex> lock(client.mutex);
    client.last_sequence = message.sequence;
    if (slot != kNoSlot) client.held.insert(message.sequence);
  }
  std::shared_ptr<ClientState> owner = connection->client;
  const uint64_t sequence = message.sequence;
  auto release = [owner, sequence, slot] { owner->Release(sequence, slot); };

  if (end) {
    FramePtr eos_frame = Frame::CreateEos(id, message.frame_index);
    eos_frame->data.Set("vstream.ipc.release", std::make_shared<ReleaseToken>(release));
    module_->EndStream(std::move(eos_frame));
    return Status::Ok();
  }

  FramePtr frame = Frame::Create(id, message.frame_index);
  frame->pts = message.pts;
  frame->time_base = {message.time_base_num, message.time_base_den};
  frame->flags = message.flags & (kFrameInvalid | kFrameSkipped);
  frame->objects = std::move(message.objects);
  for (auto& entry : message.user_data) {
    auto codec = FindUserDataCodec(entry.codec);
    std::any value;
    if (codec == nullptr || !codec->decode(entry.bytes, &value)) {
      ReportOnce(*connection, "codec:" + entry.codec,
                 codec == nullptr ? "user data '" + entry.key + "' uses codec '" + entry.codec +
                                        "', which this process has not registered; the entry is dropped"
                                  : "user data '" + entry.key + "' could not be decoded by codec '" + entry.codec +
                                        "'; the entry is dropped");
      continue;
    }
    frame->data.SetAny(entry.key, std::move(value));
  }
  if (slot != kNoSlot) {
    // The frame's buffer is the slot itself; the segment stays mapped while the buffer lives.
    uint8_t* memory = segment->data() + static_cast<size_t>(slot) * slot_size;
    BufferPtr buffer = Buffer::Wrap(memory, slot_size, [release, segment] { release(); });
    const ImageLayout& l = message.image;
    if (Status s = VideoFrame::Wrap(std::move(buffer), l.width, l.height, static_cast<PixelFormat>(l.format),
                                    {l.strides[0], l.strides[1]}, {l.offsets[0], l.offsets[1]}, &frame->image);
        !s) {
      return s;  // (CheckLayout passed, so this is not expected) the buffer's release already ran
    }
  } else {
    frame->data.Set("vstream.ipc.release", std::make_shared<ReleaseToken>(release));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second.next_index = message.frame_index + 1;
  }
  module_->Transmit(std::move(frame));  // blocks while the pipeline is full; false while stopping (released)
  return Status::Ok();
}

void IpcServer::EndRemovedStreams(const std::shared_ptr<Connection>& connection) {
  std::vector<std::pair<std::string, int64_t>> to_end;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, entry] : streams_) {
      if (entry.owner == connection && entry.removed && !entry.ended) {
        entry.ended = true;
        to_end.emplace_back(id, entry.next_index);
      }
    }
  }
  for (const auto& [id, next_index] : to_end) module_->EndStream(id, next_index);
}

void IpcServer::Disconnected(const std::shared_ptr<Connection>& connection, bool clean, const std::string& why) {
  std::vector<std::pair<std::string, int64_t>> open;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping = stopping_;
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.owner != connection) {
        ++it;
        continue;
      }
      if (!it->second.ended) open.emplace_back(it->first, it->second.next_index);
      it = streams_.erase(it);
    }
    if (connection->client != nullptr && clean) clients_.erase(connection->client->id);
    if (!stopping) {
      last_disconnect_clean_ = clean;
      had_goodbye_ = had_goodbye_ || clean;
    }
  }
  if (connection->client != nullptr) {
    std::lock_guard<std::mutex> lock(connection->client->mutex);
    if (connection->client->connection.lock() == connection) connection->client->connection.reset();
  }
  {
    std::lock_guard<std::mutex> lock(connection->send_mutex);
    if (!stopping) {  // (Stop says goodbye on the connections it ends itself)
      connection->open = false;
      ::shutdown(connection->fd, SHUT_RDWR);  // the peer sees the end now, not when this object goes
    }
  }
  const std::string who = "client process " + std::to_string(connection->pid);
  for (const auto& [id, next_index] : open) {
    const std::string error = stopping ? std::string()
                              : clean  ? who + " said goodbye before ending stream '" + id + "'"
                                       : who + " disconnected before ending stream '" + id + "' (" + why +
                                            "); frames it had not sent are lost";
    module_->EndStream(id, next_index, error);
  }
  if (stopping) return;
  if (clean) {
    VS_LOG_INFO("module '{}': {} said goodbye", settings_.module, who);
  } else {
    VS_LOG_ERROR("module '{}': {} disconnected: {}; {} open stream(s) ended with an error", settings_.module, who, why,
                 open.size());
    if (connection->client != nullptr && ProcessGone(connection->client->pid)) ShmSegment::RemoveStale();
  }
  UpdateExpecting();
}

void IpcServer::UpdateExpecting() {
  bool expecting = true;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    // A connection whose reader is finishing is closed already (Disconnected) and not counted.
    size_t open_connections = 0;
    for (const auto& connection : connections_) {
      std::lock_guard<std::mutex> send_lock(connection->send_mutex);
      open_connections += connection->open ? 1 : 0;
    }
    expecting = settings_.keep_serving || open_connections > 0 || !had_goodbye_ || !last_disconnect_clean_ || !streams_.empty();
    if (expecting == expecting_) return;
    expecting_ = expecting;
  }
  module_->SetExpectingStreams(expecting);
}

void IpcServer::ReportOnce(Connection& connection, const std::string& key, const std::string& message) {
  if (!connection.reported.insert(key).second) return;
  VS_LOG_WARN("module '{}': {}", settings_.module, message);
  module_->ReportModuleError(message);
}

}  // namespace vstream::detail::ipc
