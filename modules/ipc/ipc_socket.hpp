// Unix-domain sockets for ModuleIPC's control channel (private).
//
// A bare socket_address ("test_ipc") lives in a per-user runtime folder, created 0700 and checked
// to belong to us, so two processes started from different folders meet; an address with a '/' is
// used as a path. Sockets are 0600, the peer's uid must be ours, and a socket file left behind by a
// crashed server is removed by the next server (a live one is reported, not replaced).
#pragma once

#include <string>

#include "ipc_protocol.hpp"
#include "vstream/status.hpp"

namespace vstream::detail::ipc {

/// The per-user runtime folder: $XDG_RUNTIME_DIR/vstream when that is set, else /tmp/vstream-<uid>.
Status RuntimeDir(std::string* dir);
/// Where `address` lives (see the header comment).
Status SocketPath(const std::string& address, std::string* path);

/// Listens on `path` (mode 0600).
Status Listen(const std::string& path, int* fd);
/// Connects to `path`. kUnavailable when nobody listens there (yet).
Status Connect(const std::string& path, int* fd);
/// Fails unless the peer process runs as our user.
Status CheckPeer(int fd);
/// The peer's process id (SO_PEERCRED), -1 when unknown.
int PeerPid(int fd);

/// Writes all of `bytes` (no SIGPIPE: a dead peer is an error, not a signal).
Status SendAll(int fd, const std::string& bytes);
/// The same, but gives up with kFailedState as soon as `wake` is readable (a peer that does not
/// read cannot hold the caller).
Status SendAll(int fd, const std::string& bytes, int wake);
/// Reads one whole message, waiting on `fd` and, until the message's first byte arrives, on `wake`
/// (readable = give up with kFailedState; -1: no wake fd). kUnavailable when the peer closed the
/// connection; kInvalidArgument for a malformed header.
Status ReceiveMessage(int fd, int wake, MessageType* type, std::string* payload);

}  // namespace vstream::detail::ipc
