// IpcServer: the receiving end of a ModuleIPC pair (private; IpcReceiver, ModuleIPC with ipc_type "server").
//
// Listens on the Unix socket; an accept thread checks each peer's uid and starts one reader thread
// per connection. A reader maps the client's segment (Hello), turns each Frame message into a frame
// whose buffer is the client's slot itself and transmits it (blocking while the pipeline is full:
// backpressure reaches the client through its slots). When the last reference to such a frame is
// gone, wherever that happens, the slot goes back to the client (Release), once. Frames without
// pixels (EOS, metadata only) are released the same way through a token in their user data.
// Each client's sequence numbers tell a resend after a reconnect from a new frame: repeats are
// dropped. A client that disconnects without goodbye has its open streams ended with an error.
//
// Sending never blocks a pipeline thread or the reader: each connection queues its outgoing
// messages for a writer thread of its own.
//
// Locks: mutex_ guards the connection list, the client table and the stream table; a ClientState's
// own mutex guards its segment and sequence bookkeeping; a Connection's send_mutex guards its
// outgoing queue. Nesting is only ever mutex_ -> Connection::send_mutex (queueing a release or an
// Error while the stream table is locked, or UpdateExpecting).
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

#include "ipc_socket.hpp"
#include "vstream/status.hpp"

namespace vstream {
class IpcReceiver;
}

namespace vstream::detail::ipc {

struct ServerSettings {
  std::string module;  // the module's name, for messages
  std::string socket_path;
  bool keep_serving = false;
  // Caps (ModuleIPC's parameters of the same names): a peer over one is told why and disconnected,
  // except max_streams, which drops only the frames of the streams over it.
  uint32_t max_clients = 64;
  uint32_t max_streams = 1024;
  uint32_t max_message_bytes = 4u << 20;
  uint64_t max_send_queue_bytes = 4u << 20;
  int message_timeout_ms = 10000;  // the rest of a message that has begun must come within this
};

class IpcServer {
 public:
  IpcServer(IpcReceiver* module, ServerSettings settings);
  ~IpcServer();

  Status Start();
  /// Stops accepting, says goodbye to every client and joins the threads. Frames still in the
  /// pipeline stay valid (they keep their client's segment mapped) until released.
  void Stop();
  /// Ends `stream_id` (RemoveSource). Its reader thread sends the EOS, in order with its frames.
  void RemoveStream(const std::string& stream_id);
  /// The pipeline aborts: frames released from now on were dropped, not finished, so they are not
  /// acknowledged (the client keeps them for the next server).
  void SuspendAcknowledgements();

 private:
  struct ClientState;
  struct Connection;
  struct StreamEntry;

  void AcceptLoop();
  /// Starts serving an accepted connection; false (the connection refused, with a reason) when
  /// the server is at max_clients or cannot make the connection's threads.
  bool Admit(int fd, int wake_fd, int stop_fd);
  /// Joins and drops the connections whose reader has finished.
  void ReapFinished();
  void Serve(const std::shared_ptr<Connection>& connection);
  Status HandleHello(const std::shared_ptr<Connection>& connection, const std::string& payload, int segment_fd);
  Status HandleFrame(const std::shared_ptr<Connection>& connection, const std::string& payload);
  void EndRemovedStreams(const std::shared_ptr<Connection>& connection);
  void Disconnected(const std::shared_ptr<Connection>& connection, bool clean, const std::string& why);
  void UpdateExpecting();
  void ReportOnce(Connection& connection, const std::string& stream_id, const std::string& message);

  IpcReceiver* module_;
  const ServerSettings settings_;
  Listener listener_;
  int wake_fd_ = -1;  // eventfd: ends the accept thread's wait
  std::thread accept_thread_;

  std::mutex mutex_;
  std::vector<std::shared_ptr<Connection>> connections_;         // guarded by mutex_
  std::map<uint64_t, std::shared_ptr<ClientState>> clients_;     // guarded by mutex_; by client id
  std::map<std::string, StreamEntry> streams_;                   // guarded by mutex_
  bool stopping_ = false;                                        // guarded by mutex_
  bool last_disconnect_clean_ = false;  // guarded by mutex_: false until a client has said goodbye
  std::condition_variable reader_finished_;                       // with mutex_: a Connection::finished was set
  std::shared_ptr<std::atomic<bool>> acks_suspended_;             // shared with every ClientState
};

}  // namespace vstream::detail::ipc
