#include "ipc_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace vstream::detail::ipc {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool MakeAddress(const std::string& path, sockaddr_un* address) {
  std::memset(address, 0, sizeof(*address));
  address->sun_family = AF_UNIX;
  if (path.size() >= sizeof(address->sun_path)) return false;
  std::memcpy(address->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// Reads exactly `size` bytes, waiting on `fd` and `wake`.
Status ReadExactly(int fd, int wake, uint8_t* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
    const int ready = ::poll(fds, wake >= 0 && done == 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return {StatusCode::kRuntimeError, Errno("poll")};
    }
    // The wake fd ends only a wait between messages: once bytes of a message have arrived it is
    // read whole (a peer that stalls mid-message is ended by shutting the socket down).
    if (done == 0 && wake >= 0 && (fds[1].revents & POLLIN) != 0) return {StatusCode::kFailedState, "stopped"};
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t n = ::recv(fd, out + done, size - done, 0);
    if (n == 0) return {StatusCode::kUnavailable, "the peer closed the connection"};
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ECONNRESET) return {StatusCode::kUnavailable, "the peer closed the connection"};
      return {StatusCode::kRuntimeError, Errno("recv")};
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status RuntimeDir(std::string* dir) {
  const uid_t uid = ::geteuid();
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  *dir = xdg != nullptr && xdg[0] != '\0' ? std::string(xdg) + "/vstream" : "/tmp/vstream-" + std::to_string(uid);
  if (::mkdir(dir->c_str(), 0700) != 0 && errno != EEXIST) return {StatusCode::kRuntimeError, Errno("cannot create " + *dir)};
  struct stat info {};
  if (::lstat(dir->c_str(), &info) != 0) return {StatusCode::kRuntimeError, Errno("cannot inspect " + *dir)};
  // Somebody else's folder, a link, or one others can write to: refuse rather than meet a stranger.
  if (!S_ISDIR(info.st_mode) || info.st_uid != uid || (info.st_mode & 0077) != 0) {
    return {StatusCode::kFailedState, "the IPC runtime folder " + *dir +
                                          " is not a private folder of this user (it must be a directory owned by uid " +
                                          std::to_string(uid) + " with mode 0700); remove it or set XDG_RUNTIME_DIR"};
  }
  return Status::Ok();
}

Status SocketPath(const std::string& address, std::string* path) {
  if (address.empty()) return {StatusCode::kInvalidConfig, "socket_address is empty"};
  if (address.find('/') != std::string::npos) {
    *path = address;
  } else {
    std::string dir;
    if (Status s = RuntimeDir(&dir); !s) return s;
    *path = dir + "/" + address + ".sock";
  }
  sockaddr_un unused;
  if (!MakeAddress(*path, &unused)) {
    return {StatusCode::kInvalidConfig, "socket_address '" + *path + "' is longer than a Unix socket path may be (" +
                                            std::to_string(sizeof(unused.sun_path) - 1) + " bytes)"};
  }
  return Status::Ok();
}

Status Listen(const std::string& path, int* fd) {
  sockaddr_un address;
  if (!MakeAddress(path, &address)) return {StatusCode::kInvalidConfig, "socket path too long: " + path};
  // A socket file already there: a live server answers (refuse), a crashed one does not (remove it).
  int probe = -1;
  if (Connect(path, &probe)) {
    ::close(probe);
    return {StatusCode::kFailedState, "another ModuleIPC server already listens on '" + path +
                                          "'; give this one another socket_address"};
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0) {
    if (!S_ISSOCK(info.st_mode)) {
      return {StatusCode::kFailedState, "'" + path + "' exists and is not a socket; choose another socket_address"};
    }
    ::unlink(path.c_str());  // left by a server that is gone
  }
  *fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0) return {StatusCode::kRuntimeError, Errno("socket")};
  // Made 0600 right after bind (no umask change: that would reach files other threads create at the
  // same moment); a peer that connects in between is still refused by its uid.
  const int bound = ::bind(*fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  if (bound != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(*fd, 16) != 0) {
    const std::string why = Errno("cannot listen on '" + path + "'");
    ::close(*fd);
    *fd = -1;
    return {StatusCode::kRuntimeError, why};
  }
  return Status::Ok();
}

Status Connect(const std::string& path, int* fd) {
  sockaddr_un address;
  if (!MakeAddress(path, &address)) return {StatusCode::kInvalidConfig, "socket path too long: " + path};
  *fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0) return {StatusCode::kRuntimeError, Errno("socket")};
  if (::connect(*fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(*fd);
    *fd = -1;
    if (error == ENOENT || error == ECONNREFUSED) return {StatusCode::kUnavailable, "nobody listens on '" + path + "' yet"};
    errno = error;
    return {StatusCode::kRuntimeError, Errno("cannot connect to '" + path + "'")};
  }
  return Status::Ok();
}

Status CheckPeer(int fd) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return {StatusCode::kRuntimeError, Errno("SO_PEERCRED")};
  if (peer.uid != ::geteuid()) {
    return {StatusCode::kFailedState, "refused a peer running as uid " + std::to_string(peer.uid) + " (pid " +
                                          std::to_string(peer.pid) + "): both processes must run as uid " +
                                          std::to_string(::geteuid())};
  }
  return Status::Ok();
}

int PeerPid(int fd) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) == 0 ? peer.pid : -1;
}

Status SendAll(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET) return {StatusCode::kUnavailable, "the peer closed the connection"};
      return {StatusCode::kRuntimeError, Errno("send")};
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SendAll(int fd, const std::string& bytes, int wake) {
  size_t done = 0;
  while (done < bytes.size()) {
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return {StatusCode::kRuntimeError, Errno("poll")};
    }
    if ((fds[1].revents & POLLIN) != 0) return {StatusCode::kFailedState, "stopped"};
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == EPIPE || errno == ECONNRESET) return {StatusCode::kUnavailable, "the peer closed the connection"};
      return {StatusCode::kRuntimeError, Errno("send")};
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status ReceiveMessage(int fd, int wake, MessageType* type, std::string* payload) {
  uint8_t header[kHeaderSize];
  if (Status s = ReadExactly(fd, wake, header, sizeof(header)); !s) return s;
  uint32_t size = 0;
  if (Status s = DecodeHeader(header, sizeof(header), type, &size); !s) return s;
  payload->resize(size);
  return ReadExactly(fd, -1, reinterpret_cast<uint8_t*>(payload->data()), size);
}

}  // namespace vstream::detail::ipc
