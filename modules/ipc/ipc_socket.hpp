// Unix-domain sockets for ModuleIPC's control channel (private).
//
// A bare socket_address ("test_ipc") lives in a per-user runtime folder, created 0700 and checked
// to belong to us, so two processes started from different folders meet; an address with a '/' is
// used as a path. Sockets are 0600, the peer's uid must be ours, and a socket file left behind by a
// crashed server is replaced by the next server (a live one is reported, not replaced).
//
// A server holds an exclusive lock on "<path>.lock" while it listens: that, not a probing connect,
// tells a live server from a stale socket file, so two servers starting at once cannot both win.
// The socket is bound inside a private temporary folder, made 0600 there, and renamed into place
// (rename replaces a stale file, or a planted link, without following it); at stop the server
// removes the socket file only while it is still the one it created.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "ipc_protocol.hpp"
#include "vstream/status.hpp"

namespace vstream::detail::ipc {

/// The per-user runtime folder: $XDG_RUNTIME_DIR/vstream when that is set, else /tmp/vstream-<uid>.
Status RuntimeDir(std::string* dir);
/// Where `address` lives (see the header comment).
Status SocketPath(const std::string& address, std::string* path);

/// A listening socket and what proves it is ours.
struct Listener {
  int fd = -1;       // the listening socket (non-blocking accepts are up to the caller)
  int lock_fd = -1;  // holds the exclusive lock on "<path>.lock"
  std::string path;
  dev_t device = 0;  // the socket file's identity when we created it
  ino_t inode = 0;
};

/// Listens on `path` (mode 0600). kFailedState when another server holds the path.
Status Listen(const std::string& path, Listener* out);
/// Closes the socket; removes the socket file if it is still the one Listen made; drops the lock.
void Unlisten(Listener* listener);
/// Connects to `path` without blocking (the socket stays non-blocking). kUnavailable when nobody
/// listens there (yet) or the server's backlog is full: try again later.
Status Connect(const std::string& path, int* fd);
/// Fails unless the peer process runs as our user.
Status CheckPeer(int fd);
/// The peer's process id (SO_PEERCRED), -1 when unknown.
int PeerPid(int fd);

/// Writes all of `bytes` (no SIGPIPE: a dead peer is an error, not a signal).
Status SendAll(int fd, const std::string& bytes);
/// The same, but gives up with kFailedState as soon as `wake` is readable (a peer that does not
/// read cannot hold the caller). `pass_fd` >= 0 travels with the first bytes (SCM_RIGHTS).
Status SendAll(int fd, const std::string& bytes, int wake, int pass_fd = -1);

/// File descriptors that came with a message; closes the ones nobody took.
struct ReceivedFds {
  ReceivedFds() = default;
  ReceivedFds(const ReceivedFds&) = delete;
  ReceivedFds& operator=(const ReceivedFds&) = delete;
  ~ReceivedFds() { CloseAll(); }
  /// The first fd, now owned by the caller; -1 when none came.
  int Take();
  void CloseAll();
  std::vector<int> fds;
};

struct ReceiveOptions {
  int wake = -1;                  // readable = give up with kFailedState; -1: no wake fd
  bool wake_mid_message = false;  // also once part of a message has come (the connection is then unusable)
  int message_timeout_ms = -1;    // once its first byte came, the rest of a message must come within this
  ReceivedFds* fds = nullptr;     // where fds passed with the message go; nullptr: they are closed
  uint32_t max_payload = kMaxPayload;  // a larger message is refused from its header, before it is read
  const char* max_payload_name = "";   // named in that error (a parameter), if not empty
};

/// Reads one whole message, waiting on `fd` and, until the message's first byte arrives, on `wake`
/// (readable = give up with kFailedState; -1: no wake fd). kUnavailable when the peer closed the
/// connection; kInvalidArgument for a malformed header; kRuntimeError for a message that stalled
/// past message_timeout_ms.
Status ReceiveMessage(int fd, const ReceiveOptions& options, MessageType* type, std::string* payload);
inline Status ReceiveMessage(int fd, int wake, MessageType* type, std::string* payload) {
  ReceiveOptions options;
  options.wake = wake;
  return ReceiveMessage(fd, options, type, payload);
}

}  // namespace vstream::detail::ipc
