#include "ipc_server.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <functional>
#include <system_error>

#include "ipc_protocol.hpp"
#include "ipc_socket.hpp"
#include "vstream/log.hpp"
#include "shm_segment.hpp"
#include "vstream/modules/module_ipc.hpp"
#include "vstream/stream_id.hpp"
#include "vstream/text.hpp"
#include "vstream/user_data_codec.hpp"

namespace vstream::detail::ipc {
namespace {

/// Runs `release(acknowledge)` when the last copy of the token goes. A frame's token is held by the
/// frame (its OnDestroy hook) and by its image buffer's release, so it goes when both are gone.
/// Set acknowledge = false, while still holding a copy, for a frame the pipeline refused.
struct ReleaseToken {
  explicit ReleaseToken(std::function<void(bool)> release_in) : release(std::move(release_in)) {}
  ~ReleaseToken() { release(acknowledge); }
  ReleaseToken(const ReleaseToken&) = delete;
  ReleaseToken& operator=(const ReleaseToken&) = delete;
  std::function<void(bool)> release;
  bool acknowledge = true;
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

// One client connection. The reader thread (Serve) reads and handles messages; a writer thread
// sends what Send() queued, so no pipeline thread ever blocks on a client that does not read.
struct IpcServer::Connection {
  int fd = -1;
  int wake_fd = -1;  // eventfd: a stream of this connection was removed, or the server stops
  int stop_fd = -1;  // eventfd: the connection closes; the writer gives what is queued 1 s more
  pid_t pid = -1;
  std::thread reader;
  std::thread writer;
  std::atomic<bool> finished{false};  // the reader is done
  std::atomic<bool> overflowed{false};  // cut off: it did not read what we sent
  uint64_t max_outbox = 4u << 20;
  // Only the reader thread touches these.
  std::shared_ptr<ClientState> client;
  std::set<std::string> reported;

  /// Queues `bytes` for the writer; false once the connection is closing or broken. Never blocks.
  /// A peer that leaves more than max_outbox bytes unread is cut off (its reader sees the end).
  bool Send(const std::string& bytes) {
    std::lock_guard<std::mutex> lock(send_mutex);
    if (!open) return false;
    if (outbox.size() + writing + bytes.size() > max_outbox) {
      overflowed = true;
      open = false;
      outbox.clear();
      ::shutdown(fd, SHUT_RDWR);
      return false;
    }
    outbox += bytes;
    send_ready.notify_one();
    return true;
  }
  /// Queues `last` (if any) as the final message; the writer sends what is queued, then shuts the
  /// socket down (the peer sees the end at once).
  void Close(const std::string& last) {
    {
      std::lock_guard<std::mutex> lock(send_mutex);
      if (open && !last.empty()) outbox += last;
      open = false;
      closing = true;
      send_ready.notify_one();
    }
    Wake(stop_fd);
  }
  bool IsOpen() {
    std::lock_guard<std::mutex> lock(send_mutex);
    return open;
  }
  void WriterLoop() {
    std::unique_lock<std::mutex> lock(send_mutex);
    while (true) {
      send_ready.wait(lock, [this] { return !outbox.empty() || closing; });
      if (outbox.empty()) break;  // closing, and everything sent
      std::string batch;
      batch.swap(outbox);
      writing = batch.size();  // still counts against max_outbox until it is out
      lock.unlock();
      const bool sent = WriteAll(batch);
      lock.lock();
      writing = 0;
      if (!sent) {  // the peer is gone or stopped reading while we close
        open = false;
        outbox.clear();
        if (closing) break;
      }
    }
    lock.unlock();
    ::shutdown(fd, SHUT_RDWR);
  }
  ~Connection() {
    for (int f : {fd, wake_fd, stop_fd}) {
      if (f >= 0) ::close(f);
    }
  }

 private:
  // The socket is non-blocking: wait for room, and once the connection closes for 1 s at most.
  bool WriteAll(const std::string& bytes) {
    size_t done = 0;
    bool closing_now = false;
    while (done < bytes.size()) {
      const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
      pollfd fds[2] = {{fd, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
      const int ready = ::poll(fds, closing_now ? 1 : 2, closing_now ? 1000 : -1);
      if (ready == 0) return false;  // closing, and the peer did not read for a second
      if (!closing_now && (fds[1].revents & POLLIN) != 0) closing_now = true;
    }
    return true;
  }

  std::mutex send_mutex;
  std::condition_variable send_ready;
  std::string outbox;    // guarded by send_mutex
  size_t writing = 0;    // guarded by send_mutex: bytes the writer took and has not sent yet
  bool open = true;      // guarded by send_mutex: Send accepts messages
  bool closing = false;  // guarded by send_mutex: the writer ends once the outbox is empty
};

struct IpcServer::ClientState {
  uint64_t id = 0;
  pid_t pid = -1;
  std::shared_ptr<std::atomic<bool>> acks_suspended;  // set when the pipeline aborts
  std::mutex mutex;
  std::shared_ptr<ShmSegment> segment;  // guarded by mutex (frames keep older ones mapped)
  uint32_t slot_count = 0;              // guarded by mutex
  uint64_t slot_size = 0;               // guarded by mutex
  uint64_t last_sequence = 0;           // guarded by mutex
  std::set<uint64_t> held;              // guarded by mutex: sequences of frames alive in this process
  std::weak_ptr<Connection> connection;  // guarded by mutex: where releases go

  /// The frame is gone; `acknowledge` false: the pipeline refused it (it aborts), so the client keeps
  /// it for the next server.
  void Release(uint64_t sequence, uint32_t slot, bool acknowledge) {
    std::shared_ptr<Connection> to;
    {
      std::lock_guard<std::mutex> lock(mutex);
      held.erase(sequence);
      to = connection.lock();
    }
    // After an abort began, a frame that goes away was dropped, not finished: the client keeps
    // it for the next server.
    if (acknowledge && to != nullptr && !acks_suspended->load()) to->Send(EncodeRelease({slot, sequence}));
  }
};

struct IpcServer::StreamEntry {
  std::shared_ptr<ClientState> owner;  // by client: its frames may come over a later connection of it
  int64_t next_index = 0;
  bool removed = false;  // RemoveSource asked; the reader ends it
  bool ended = false;    // its EOS was sent; frames of it are dropped until the client's EOS
};

IpcServer::IpcServer(IpcReceiver* module, ServerSettings settings)
    : module_(module), settings_(std::move(settings)), acks_suspended_(std::make_shared<std::atomic<bool>>(false)) {}

IpcServer::~IpcServer() { Stop(); }

void IpcServer::SuspendAcknowledgements() { acks_suspended_->store(true); }

Status IpcServer::Start() {
  if (Status s = Listen(settings_.socket_path, &listener_); !s) return s;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return {StatusCode::kRuntimeError, std::string("eventfd: ") + std::strerror(errno)};
  module_->SetExpectingStreams(true);
  try {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  } catch (const std::system_error& e) {
    module_->SetExpectingStreams(false);
    Unlisten(&listener_);
    return {StatusCode::kUnavailable, std::string("cannot start the ModuleIPC server's thread: ") + e.what()};
  }
  VSTREAM_LOG_INFO("module '{}': ModuleIPC server listening on '{}'", settings_.module, settings_.socket_path);
  return Status::Ok();
}

void IpcServer::Stop() {
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    connections = connections_;
    reader_finished_.notify_all();
  }
  if (accept_thread_.joinable()) {
    Wake(wake_fd_);
    accept_thread_.join();
  }
  Unlisten(&listener_);
  for (auto& connection : connections) {
    Wake(connection->wake_fd);
    ::shutdown(connection->fd, SHUT_RD);  // also ends a read a stalled peer left half done
  }
  for (auto& connection : connections) {
    if (connection->reader.joinable()) connection->reader.join();
    connection->Close(EncodeBye());  // frames the server did not take stay with the client
  }
  for (auto& connection : connections) {
    if (connection->writer.joinable()) connection->writer.join();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.clear();
    clients_.clear();
    streams_.clear();
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
  wake_fd_ = -1;
  module_->SetExpectingStreams(false);
}

void IpcServer::RemoveStream(const std::string& stream_id) {
  std::shared_ptr<ClientState> owner;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.ended) return;
    it->second.removed = true;
    owner = it->second.owner;
  }
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard<std::mutex> lock(owner->mutex);
    connection = owner->connection.lock();
  }
  if (connection != nullptr) Wake(connection->wake_fd);
}

void IpcServer::AcceptLoop() {
  int pause_ms = 0;  // after running out of fds or memory: wait, doubling up to 1 s, then try again
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listener_.fd, POLLIN, 0}};
    // While paused only the wake fd counts: the listening socket stays readable and would spin.
    if (::poll(fds, pause_ms > 0 ? 1 : 2, pause_ms > 0 ? pause_ms : -1) < 0) {
      if (errno == EINTR) continue;
      VSTREAM_LOG_ERROR("module '{}': poll on the listening socket failed: {}", settings_.module, std::strerror(errno));
      return;
    }
    if ((fds[0].revents & POLLIN) != 0) return;
    // Connections that ended give their fds back before we ask for more (when paused for want of
    // them, that is what ends the pause).
    ReapFinished();
    // The connection's own fds first: when they cannot be made, the client waits in the backlog.
    int fd = -1;
    const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const int stop = wake >= 0 ? ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
    if (stop >= 0) fd = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int error = errno;
      for (int f : {wake, stop}) {
        if (f >= 0) ::close(f);
      }
      if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
        if (pause_ms == 0) {
          VSTREAM_LOG_ERROR("module '{}': cannot accept a client: {}; new clients wait until this process has fds or memory "
                            "again (raise ulimit -n)",
                            settings_.module, std::strerror(error));
        }
        pause_ms = std::min(std::max(pause_ms * 2, 10), 1000);
      }
      continue;
    }
    if (pause_ms > 0) VSTREAM_LOG_INFO("module '{}': accepting clients again", settings_.module);
    pause_ms = 0;
    if (Admit(fd, wake, stop)) UpdateExpecting();
  }
}

void IpcServer::ReapFinished() {
  std::vector<std::shared_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;  // Stop joins every connection it saw itself
    for (auto it = connections_.begin(); it != connections_.end();) {
      if ((*it)->finished.load()) {
        finished.push_back(*it);
        it = connections_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& done : finished) {
    done->reader.join();
    done->writer.join();  // closed by its reader: it ends within a second
  }
  // The last reference to each goes here (or with a frame still in the pipeline): its fds close.
}

bool IpcServer::Admit(int fd, int wake_fd, int stop_fd) {
  auto connection = std::make_shared<Connection>();
  connection->pid = PeerPid(fd);
  connection->wake_fd = wake_fd;  // from here on ~Connection closes them
  connection->stop_fd = stop_fd;
  connection->max_outbox = settings_.max_send_queue_bytes;
  auto refuse = [&](const std::string& why) {
    VSTREAM_LOG_WARN("module '{}': refused a client: {}", settings_.module, why);
    const std::string refusal = EncodeError(why);
    (void)!::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    return false;
  };
  if (Status peer = CheckPeer(fd); !peer) return refuse(peer.message());
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      ::close(fd);
      return false;
    }
    full = connections_.size() >= settings_.max_clients;
    if (!full) {
      connection->fd = fd;  // from here on ~Connection closes it
      connections_.push_back(connection);
    }
  }
  if (full) {
    return refuse("this server already serves its maximum of " + std::to_string(settings_.max_clients) +
                  " client connection(s) (its max_clients); try again later or raise max_clients");
  }
  // Each connection has a reader and a writer thread; without them (the process is out of
  // threads or memory) the client is told so and the others go on.
  try {
    connection->writer = std::thread([connection] { connection->WriterLoop(); });
    connection->reader = std::thread([this, connection] { Serve(connection); });
  } catch (const std::system_error& e) {
    const std::string why = std::string("cannot start a thread for the client (") + e.what() +
                            "); the server goes on with the clients it has";
    VSTREAM_LOG_ERROR("module '{}': {}", settings_.module, why);
    connection->Close(EncodeError(why));
    if (connection->writer.joinable()) {
      connection->writer.join();
    } else {
      const std::string refusal = EncodeError(why);
      (void)!::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.erase(std::remove(connections_.begin(), connections_.end(), connection), connections_.end());
    return false;
  }
  return true;
}

void IpcServer::Serve(const std::shared_ptr<Connection>& connection) {
  MessageType type{};
  std::string payload;
  bool clean = false;
  std::string why;
  try {
    while (true) {
      EndRemovedStreams(connection);
      ReceivedFds fds;  // a segment comes with a Hello; any other fd is closed
      ReceiveOptions options;
      options.wake = connection->wake_fd;
      options.message_timeout_ms = settings_.message_timeout_ms;
      options.fds = &fds;
      options.max_payload = settings_.max_message_bytes;
      options.max_payload_name = "max_message_bytes";
      Status s = ReceiveMessage(connection->fd, options, &type, &payload);
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
      if (!fds.fds.empty() && type != MessageType::kHello) {
        handled = {StatusCode::kInvalidArgument, "a file descriptor came with a message other than Hello"};
      } else if (type == MessageType::kHello) {
        handled = HandleHello(connection, payload, fds.Take());
      } else if (type == MessageType::kFrame) {
        handled = connection->client == nullptr ? Status(StatusCode::kInvalidArgument, "a frame came before Hello")
                                                : HandleFrame(connection, payload);
      } else if (type == MessageType::kBye) {
        clean = true;
        break;
      } else if (type == MessageType::kError) {
        std::string reason;
        if (!DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason)) reason = "(its error message could not be decoded)";
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
  } catch (const std::exception& e) {
    why = std::string("serving it failed: ") + e.what();
  }
  if (connection->overflowed.load()) {
    why = "it left more than " + std::to_string(settings_.max_send_queue_bytes) +
          " bytes of acknowledgements unread (max_send_queue_bytes)";
  }
  Disconnected(connection, clean, why);
  std::lock_guard<std::mutex> lock(mutex_);
  connection->finished = true;
  reader_finished_.notify_all();
}

Status IpcServer::HandleHello(const std::shared_ptr<Connection>& connection, const std::string& payload, int segment_fd) {
  std::unique_ptr<ShmSegment> opened;
  Hello hello;
  if (Status s = DecodeHello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &hello); !s) {
    if (segment_fd >= 0) ::close(segment_fd);
    return s;
  }
  if (hello.slot_count == 0) {
    if (segment_fd >= 0) ::close(segment_fd);
  } else if (Status s = ShmSegment::Adopt(segment_fd, static_cast<size_t>(hello.slot_count) * hello.slot_size, &opened); !s) {
    return s;  // (Adopt closed the fd)
  }
  if (connection->pid > 0 && static_cast<pid_t>(hello.pid) != connection->pid) {
    return {StatusCode::kInvalidArgument, "hello says pid " + std::to_string(hello.pid) + " but the peer is pid " +
                                              std::to_string(connection->pid)};
  }
  const bool first = connection->client == nullptr;
  if (!first && connection->client->id != hello.client_id) return {StatusCode::kInvalidArgument, "the client id changed"};
  std::shared_ptr<ClientState> client = connection->client;
  if (first) {
    std::shared_ptr<Connection> previous;
    {
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
        known->acks_suspended = acks_suspended_;
      }
      client = known;
    }
    {
      std::lock_guard<std::mutex> lock(client->mutex);
      previous = client->connection.lock();
    }
    if (previous != nullptr && previous != connection) {
      // The same client again while its old connection's reader may still hand a frame to the
      // pipeline: let that reader finish first, so no stream's frames overtake each other.
      ::shutdown(previous->fd, SHUT_RD);
      Wake(previous->wake_fd);
      std::unique_lock<std::mutex> lock(mutex_);
      reader_finished_.wait(lock, [&] { return previous->finished.load() || stopping_; });
    }
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
    VSTREAM_LOG_INFO("module '{}': client process {} connected", settings_.module, hello.pid);
    if (!connection->Send(EncodeWelcome({settings_.max_message_bytes}))) return {StatusCode::kUnavailable, "the client went away"};
  }
  return Status::Ok();
}

Status IpcServer::HandleFrame(const std::shared_ptr<Connection>& connection, const std::string& payload) {
  FrameMessage message;
  if (Status s = DecodeFrame(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &message); !s) return s;
  const std::shared_ptr<ClientState>& client = connection->client;
  const uint32_t slot = message.image.slot;
  std::shared_ptr<ShmSegment> segment;
  uint64_t slot_size = 0;
  bool repeat = false;
  bool still_held = false;
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    if (slot != kNoSlot && client->segment == nullptr) {
      return {StatusCode::kInvalidArgument, "a frame names slot " + std::to_string(slot) + " before Hello announced a segment"};
    }
    if (Status s = CheckLayout(message.image, client->slot_count, client->slot_size); !s) return s;
    segment = client->segment;
    slot_size = client->slot_size;
    repeat = message.sequence <= client->last_sequence;
    still_held = client->held.count(message.sequence) != 0;
  }
  const std::string& id = message.stream_id;
  auto release_now = [&] { connection->Send(EncodeRelease({slot, message.sequence})); };
  if (repeat) {
    // A resend after a reconnect: done already, or still on its way and released later.
    if (!still_held) release_now();
    return Status::Ok();
  }
  // While the pipeline stops, a frame this server does not take stays unacknowledged: the client
  // gives it to the next server.
  const bool stopping = module_->PipelineStopping();
  const bool eos = (message.flags & kFrameEos) != 0;
  bool add = false;
  bool end = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(id);
    if (it != streams_.end() && it->second.owner != client) {
      ReportOnce(*connection, id,
                 "stream id '" + id + "' of client process " + std::to_string(connection->pid) +
                     " is already used by another client of this server; its frames are dropped (give each client's streams their own ids)");
      release_now();
      return Status::Ok();
    }
    if (eos) {
      if (it == streams_.end() || it->second.ended) {
        if (it != streams_.end()) streams_.erase(it);
        if (!stopping) release_now();
        return Status::Ok();
      }
      streams_.erase(it);
      end = true;
    } else if (it == streams_.end()) {
      // Checked when a stream would start (not per frame): an id that could leave an output
      // folder never enters the table, so each of its frames comes back here and is dropped.
      if (Status valid = CheckStreamId(id); !valid) {
        ReportOnce(*connection, "id:" + id, "client process " + std::to_string(connection->pid) +
                                                " sent a frame of an invalid stream: " + valid.message() + "; its frames are dropped");
        release_now();
        return Status::Ok();
      }
      if (streams_.size() >= settings_.max_streams) {
        ReportOnce(*connection, id, "stream '" + id + "' of client process " + std::to_string(connection->pid) +
                                        " is over this server's limit of " + std::to_string(settings_.max_streams) +
                                        " open streams (its max_streams); its frames are dropped");
        release_now();
        return Status::Ok();
      }
      streams_[id] = StreamEntry{client, message.frame_index, false, false};
      add = true;
    } else if (it->second.ended) {
      if (!stopping) release_now();  // removed here (RemoveSource): released unprocessed
      return Status::Ok();
    }
  }
  if (add) {
    Status added = module_->StartStream(id);
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
    std::lock_guard<std::mutex> lock(client->mutex);
    client->last_sequence = message.sequence;
    client->held.insert(message.sequence);
  }
  // The acknowledgement goes when the frame is gone and so is its image (a module may keep either
  // longer than the other): one token, held by the frame's OnDestroy hook and the image buffer.
  const uint64_t sequence = message.sequence;
  auto token = std::make_shared<ReleaseToken>(
      [client, sequence, slot](bool acknowledge) { client->Release(sequence, slot, acknowledge); });

  if (end) {
    FramePtr eos_frame = Frame::CreateEos(id, message.frame_index);
    eos_frame->OnDestroy([token] {});
    bool delivered = false;
    module_->EndStream(std::move(eos_frame), {}, &delivered);
    token->acknowledge = delivered;
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
    bool decoded = false;
    try {
      decoded = codec != nullptr && codec->decode(entry.bytes, &value);
    } catch (const std::exception&) {
      decoded = false;  // a codec that throws on bad bytes drops the entry, like one that says false
    }
    if (!decoded) {
      ReportOnce(*connection, "codec:" + entry.codec,
                 codec == nullptr ? "user data '" + Printable(entry.key) + "' uses codec '" + Printable(entry.codec) +
                                        "', which this process has not registered; the entry is dropped"
                                  : "user data '" + Printable(entry.key) + "' could not be decoded by codec '" +
                                        Printable(entry.codec) + "'; the entry is dropped");
      continue;
    }
    frame->data.SetAny(entry.key, std::move(value));
  }
  frame->OnDestroy([token] {});
  if (slot != kNoSlot) {
    // The frame's buffer is the slot itself; the segment stays mapped while the buffer lives.
    uint8_t* memory = segment->data() + static_cast<size_t>(slot) * slot_size;
    BufferPtr buffer = Buffer::Wrap(memory, slot_size, [token, segment] {});
    const ImageLayout& l = message.image;
    if (Status s = VideoFrame::Wrap(std::move(buffer), l.width, l.height, static_cast<PixelFormat>(l.format),
                                    {l.strides[0], l.strides[1]}, {l.offsets[0], l.offsets[1]}, &frame->image);
        !s) {
      return s;  // (CheckLayout passed, so this is not expected)
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = streams_.find(id);
    if (it != streams_.end()) it->second.next_index = message.frame_index < INT64_MAX ? message.frame_index + 1 : message.frame_index;
  }
  // Blocks while the pipeline is full; false when it aborts (the frame was not taken).
  token->acknowledge = module_->Transmit(std::move(frame));
  return Status::Ok();
}

void IpcServer::EndRemovedStreams(const std::shared_ptr<Connection>& connection) {
  if (connection->client == nullptr) return;
  std::vector<std::pair<std::string, int64_t>> to_end;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, entry] : streams_) {
      if (entry.owner == connection->client && entry.removed && !entry.ended) {
        entry.ended = true;
        to_end.emplace_back(id, entry.next_index);
      }
    }
  }
  for (const auto& [id, next_index] : to_end) module_->EndStream(id, next_index);
}

void IpcServer::Disconnected(const std::shared_ptr<Connection>& connection, bool clean, const std::string& why) {
  const std::shared_ptr<ClientState> client = connection->client;
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping = stopping_;
  }
  if (!stopping) connection->Close("");  // (Stop says goodbye on the connections it ends itself)
  if (client == nullptr) {
    // Never said Hello (a probe, a refused or broken peer): nothing of it to end.
    if (!stopping) {
      VSTREAM_LOG_DEBUG("module '{}': a connection from pid {} closed before Hello: {}", settings_.module, connection->pid, why);
      UpdateExpecting();
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(client->mutex);
    if (client->connection.lock() != connection) return;  // a newer connection of the client carries its streams
    client->connection.reset();
    client->segment.reset();  // unmapped once its frames are gone; a reconnect announces it again
  }
  std::vector<std::pair<std::string, int64_t>> open;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.owner != client) {
        ++it;
        continue;
      }
      if (!it->second.ended) open.emplace_back(it->first, it->second.next_index);
      it = streams_.erase(it);
    }
    if (clean || ProcessGone(client->pid)) clients_.erase(client->id);
    if (!stopping) {
      last_disconnect_clean_ = clean;
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
    VSTREAM_LOG_INFO("module '{}': {} said goodbye", settings_.module, who);
  } else {
    VSTREAM_LOG_ERROR("module '{}': {} disconnected: {}; {} open stream(s) ended with an error", settings_.module, who, why,
                 open.size());
  }
  UpdateExpecting();
}

void IpcServer::UpdateExpecting() {
  // Decided and published under mutex_, so two threads cannot leave the flag out of date.
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  size_t open_connections = 0;  // a connection whose reader is finishing is closed already
  for (const auto& connection : connections_) open_connections += connection->IsOpen() ? 1 : 0;
  const bool expecting =
      settings_.keep_serving || open_connections > 0 || !last_disconnect_clean_ || !streams_.empty();
  if (expecting == module_->ExpectingStreams()) return;
  module_->SetExpectingStreams(expecting);
}

void IpcServer::ReportOnce(Connection& connection, const std::string& key, const std::string& message) {
  // Bounded: a client that makes up a new bad stream id per frame must not grow this set (or the
  // log) without end.
  constexpr size_t kMostReported = 256;
  if (connection.reported.size() >= kMostReported) return;
  if (!connection.reported.insert(key).second) return;
  VSTREAM_LOG_WARN("module '{}': {}", settings_.module, message);
  module_->ReportModuleError(message);
  if (connection.reported.size() == kMostReported) {
    VSTREAM_LOG_WARN("module '{}': client process {} caused {} distinct problems; further ones are not reported",
                     settings_.module, connection.pid, kMostReported);
  }
}

}  // namespace vstream::detail::ipc
