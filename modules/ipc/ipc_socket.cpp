#include "ipc_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

// Takes the fds that came as ancillary data: into `into`, or closed.
void CollectFds(msghdr* message, ReceivedFds* into) {
  for (cmsghdr* c = CMSG_FIRSTHDR(message); c != nullptr; c = CMSG_NXTHDR(message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int passed = -1;
      std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (into != nullptr) {
        into->fds.push_back(passed);
      } else {
        ::close(passed);
      }
    }
  }
}

// Reads exactly `size` bytes, waiting on `fd` and `wake`. `started`: bytes of this message came
// before (the header), so the wake fd counts only with wake_mid_message.
Status ReadExactly(int fd, const ReceiveOptions& options, bool started, uint8_t* out, size_t size,
                   std::chrono::steady_clock::time_point* first_byte) {
  size_t done = 0;
  while (done < size) {
    const bool begun = started || done > 0;
    const bool watch_wake = options.wake >= 0 && (!begun || options.wake_mid_message);
    int timeout = -1;
    if (begun && options.message_timeout_ms >= 0) {
      const auto left = std::chrono::milliseconds(options.message_timeout_ms) - (std::chrono::steady_clock::now() - *first_byte);
      timeout = static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {options.wake, POLLIN, 0}};
    const int ready = ::poll(fds, watch_wake ? 2 : 1, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return {StatusCode::kRuntimeError, Errno("poll")};
    }
    if (ready == 0) {
      return {StatusCode::kRuntimeError, "a message stalled: " + std::to_string(done) + " of its " + std::to_string(size) +
                                             " bytes came within " + std::to_string(options.message_timeout_ms) + " ms"};
    }
    if (watch_wake && (fds[1].revents & POLLIN) != 0) return {StatusCode::kFailedState, "stopped"};
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    iovec chunk{out + done, size - done};
    alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
    msghdr message{};
    message.msg_iov = &chunk;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(fd, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n > 0) CollectFds(&message, options.fds);  // (fds beyond the buffer were closed by the kernel)
    if (n == 0) return {StatusCode::kUnavailable, "the peer closed the connection"};
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ECONNRESET) return {StatusCode::kUnavailable, "the peer closed the connection"};
      return {StatusCode::kRuntimeError, Errno("recv")};
    }
    if (!begun) *first_byte = std::chrono::steady_clock::now();
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Waits until `fd` can take more bytes, or `wake` is readable (false).
bool WaitWritable(int fd, int wake) {
  while (true) {
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake, POLLIN, 0}};
    if (::poll(fds, wake >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return true;  // the send that follows reports the error
    }
    return !(wake >= 0 && (fds[1].revents & POLLIN) != 0);
  }
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

Status Listen(const std::string& path, Listener* out) {
  sockaddr_un address;
  if (!MakeAddress(path, &address)) return {StatusCode::kInvalidConfig, "socket path too long: " + path};
  Listener listener;
  listener.path = path;
  auto fail = [&](StatusCode code, const std::string& why) -> Status {
    Unlisten(&listener);
    return {code, why};
  };
  // The lock says whether a server is live: one that crashed released it with its last fd.
  const std::string lock_path = path + ".lock";
  listener.lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (listener.lock_fd < 0) return fail(StatusCode::kRuntimeError, Errno("cannot open the lock file '" + lock_path + "'"));
  // In a shared folder (a socket path like /tmp/x.sock) another user could have made the lock
  // file first, to hold the lock or keep us from it: only our own private file counts.
  struct stat lock_info {};
  if (::fstat(listener.lock_fd, &lock_info) != 0 || lock_info.st_uid != ::geteuid() || (lock_info.st_mode & 0077) != 0) {
    return fail(StatusCode::kFailedState, "the lock file '" + lock_path + "' is not a private file of this user (uid " +
                                              std::to_string(::geteuid()) + ", mode 0600); remove it, or give socket_address "
                                              "a bare name or a path in a folder of your own");
  }
  if (::flock(listener.lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(StatusCode::kFailedState, "another ModuleIPC server already listens on '" + path +
                                                "'; give this one another socket_address");
    }
    return fail(StatusCode::kRuntimeError, Errno("cannot lock '" + lock_path + "'"));
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
    return fail(StatusCode::kFailedState, "'" + path + "' exists and is not a socket; choose another socket_address");
  }
  // Bound in a private folder of our own next to `path`, made 0600 there (nobody else can reach
  // that name, so chmod cannot be led elsewhere), then renamed over whatever stale file is at `path`.
  const size_t slash = path.rfind('/');
  std::string folder = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + ".vsXXXXXX";
  if (::mkdtemp(folder.data()) == nullptr) return fail(StatusCode::kRuntimeError, Errno("cannot create a folder next to '" + path + "'"));
  const std::string temporary = folder + "/s";
  sockaddr_un temporary_address;
  bool placed = false;
  std::string why;
  listener.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener.fd < 0) {
    why = Errno("socket");
  } else if (!MakeAddress(temporary, &temporary_address)) {
    why = "socket path too long: '" + path + "' leaves no room for the temporary name '" + temporary + "'; use a shorter one";
  } else if (::bind(listener.fd, reinterpret_cast<sockaddr*>(&temporary_address), sizeof(temporary_address)) != 0 ||
             ::chmod(temporary.c_str(), 0600) != 0 || ::listen(listener.fd, 64) != 0 ||
             ::lstat(temporary.c_str(), &info) != 0 || ::rename(temporary.c_str(), path.c_str()) != 0) {
    why = Errno("cannot listen on '" + path + "'");
  } else {
    placed = true;
    listener.device = info.st_dev;
    listener.inode = info.st_ino;
  }
  if (!placed) ::unlink(temporary.c_str());
  ::rmdir(folder.c_str());
  if (!placed) return fail(StatusCode::kRuntimeError, why);
  *out = std::move(listener);
  return Status::Ok();
}

void Unlisten(Listener* listener) {
  if (listener->fd >= 0) ::close(listener->fd);
  listener->fd = -1;
  // Still ours (the lock is held, so no other vstream server replaced it): remove it.
  struct stat info {};
  if (listener->inode != 0 && ::lstat(listener->path.c_str(), &info) == 0 && info.st_dev == listener->device &&
      info.st_ino == listener->inode) {
    ::unlink(listener->path.c_str());
  }
  listener->inode = 0;
  if (listener->lock_fd >= 0) ::close(listener->lock_fd);  // releases the lock; the file stays (see the header)
  listener->lock_fd = -1;
}

Status Connect(const std::string& path, int* fd) {
  sockaddr_un address;
  if (!MakeAddress(path, &address)) return {StatusCode::kInvalidConfig, "socket path too long: " + path};
  *fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (*fd < 0) return {StatusCode::kRuntimeError, Errno("socket")};
  if (::connect(*fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(*fd);
    *fd = -1;
    if (error == ENOENT || error == ECONNREFUSED) return {StatusCode::kUnavailable, "nobody listens on '" + path + "' yet"};
    // A non-blocking connect to a Unix socket whose backlog is full fails at once instead of waiting.
    if (error == EAGAIN) return {StatusCode::kUnavailable, "the server on '" + path + "' is busy accepting others"};
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

Status SendAll(int fd, const std::string& bytes) { return SendAll(fd, bytes, -1); }

Status SendAll(int fd, const std::string& bytes, int wake, int pass_fd) {
  size_t done = 0;
  while (done < bytes.size()) {
    iovec chunk{const_cast<char*>(bytes.data()) + done, bytes.size() - done};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &chunk;
    message.msg_iovlen = 1;
    if (pass_fd >= 0 && done == 0) {  // the fd rides with the first byte that goes
      message.msg_control = control;
      message.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&message);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!WaitWritable(fd, wake)) return {StatusCode::kFailedState, "stopped"};
        continue;
      }
      if (errno == EPIPE || errno == ECONNRESET) return {StatusCode::kUnavailable, "the peer closed the connection"};
      return {StatusCode::kRuntimeError, Errno("send")};
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

int ReceivedFds::Take() {
  if (fds.empty()) return -1;
  const int first = fds.front();
  fds.erase(fds.begin());
  return first;
}

void ReceivedFds::CloseAll() {
  for (int f : fds) ::close(f);
  fds.clear();
}

Status ReceiveMessage(int fd, const ReceiveOptions& options, MessageType* type, std::string* payload) {
  uint8_t header[kHeaderSize];
  auto first_byte = std::chrono::steady_clock::now();
  if (Status s = ReadExactly(fd, options, false, header, sizeof(header), &first_byte); !s) return s;
  uint32_t size = 0;
  if (Status s = DecodeHeader(header, sizeof(header), type, &size); !s) return s;
  if (size > options.max_payload) {
    const std::string name = options.max_payload_name;
    return {StatusCode::kInvalidArgument, "a " + std::to_string(size) + "-byte message is more than the limit of " +
                                              std::to_string(options.max_payload) + (name.empty() ? "" : " (its " + name + ")")};
  }
  payload->resize(size);
  return ReadExactly(fd, options, true, reinterpret_cast<uint8_t*>(payload->data()), size, &first_byte);
}

}  // namespace vstream::detail::ipc
