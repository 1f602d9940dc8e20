// The control channel and the shared memory under ModuleIPC: private folders and 0600 sockets,
// stale sockets replaced and live servers not, planted links not followed, only our own socket
// removed, peers of another uid refused, blocked and half-read messages interruptible, fds passed
// with a message; segments that are memfds with reserved, sealed memory.
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ipc_socket.hpp"
#include "shm_segment.hpp"

extern char** environ;

namespace vstream::detail::ipc {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
  return info.st_mode & 0777;
}

// A unique socket name per test run, in the per-user runtime folder.
std::string UniqueName(const std::string& tag) { return "test-" + tag + "-" + std::to_string(::getpid()); }

int RunProcess(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(IpcSocket, BareNamesLiveInAPrivateFolder) {
  std::string path;
  ASSERT_TRUE(SocketPath("test_ipc", &path));
  const std::string dir = std::filesystem::path(path).parent_path().string();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(std::filesystem::path(path).filename(), "test_ipc.sock");
  ASSERT_TRUE(SocketPath("/tmp/some/where.sock", &path));
  EXPECT_EQ(path, "/tmp/some/where.sock");
  EXPECT_NE(SocketPath(std::string(200, 'x') + "/s", &path).message().find("longer than a Unix socket path"),
            std::string::npos);
}

TEST(IpcSocket, RefusesARuntimeFolderOthersCanWrite) {
  const std::string base = "/tmp/vstream_xdg_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(base + "/vstream");
  ::chmod((base + "/vstream").c_str(), 0777);
  const char* previous = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = previous ? previous : "";
  ::setenv("XDG_RUNTIME_DIR", base.c_str(), 1);
  std::string path;
  Status s = SocketPath("x", &path);
  if (previous) ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1); else ::unsetenv("XDG_RUNTIME_DIR");
  std::filesystem::remove_all(base);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("is not a private folder of this user"), std::string::npos) << s.message();
}

TEST(IpcSocket, MessagesCrossAndTheSocketIsOwnerOnly) {
  std::string path;
  ASSERT_TRUE(SocketPath(UniqueName("cross"), &path));
  Listener server;
  ASSERT_TRUE(Listen(path, &server));
  EXPECT_EQ(ModeOf(path), 0600u);
  int client = -1;
  ASSERT_TRUE(Connect(path, &client));
  const int accepted = ::accept(server.fd, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  EXPECT_TRUE(CheckPeer(accepted));
  ASSERT_TRUE(SendAll(client, EncodeHello({42, 7, 4, 1024})));
  MessageType type{};
  std::string payload;
  ASSERT_TRUE(ReceiveMessage(accepted, -1, &type, &payload));
  EXPECT_EQ(type, MessageType::kHello);
  Hello hello;
  ASSERT_TRUE(DecodeHello(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &hello));
  EXPECT_EQ(hello.pid, 42u);
  // Garbage over the wire is a malformed header, named as such.
  ASSERT_TRUE(SendAll(client, std::string(12, 'x')));
  Status s = ReceiveMessage(accepted, -1, &type, &payload);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bad magic"), std::string::npos) << s.message();
  // The peer going away is kUnavailable, whatever was half sent.
  ASSERT_TRUE(SendAll(client, EncodeFrame(FrameMessage{}).substr(0, 20)));
  ::close(client);
  EXPECT_EQ(ReceiveMessage(accepted, -1, &type, &payload).code(), StatusCode::kUnavailable);
  EXPECT_EQ(SendAll(accepted, EncodeBye()).code(), StatusCode::kUnavailable);  // no SIGPIPE
  ::close(accepted);
  Unlisten(&server);
  EXPECT_FALSE(std::filesystem::exists(path)) << "the server removes its own socket";
}

TEST(IpcSocket, AFileDescriptorTravelsWithItsMessageAndStraysAreClosed) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  std::unique_ptr<ShmSegment> segment;
  ASSERT_TRUE(ShmSegment::Create(4096, &segment));
  segment->data()[100] = 0x42;
  ASSERT_TRUE(SendAll(pair[0], EncodeHello({42, 7, 1, 4096}), -1, segment->fd()));
  ASSERT_TRUE(SendAll(pair[0], EncodeBye(), -1, segment->fd()));
  MessageType type{};
  std::string payload;
  ReceivedFds fds;
  ReceiveOptions options;
  options.fds = &fds;
  ASSERT_TRUE(ReceiveMessage(pair[1], options, &type, &payload));
  EXPECT_EQ(type, MessageType::kHello);
  ASSERT_EQ(fds.fds.size(), 1u) << "exactly the fd sent with the Hello, not the one sent with the next message";
  std::unique_ptr<ShmSegment> adopted;
  ASSERT_TRUE(ShmSegment::Adopt(fds.Take(), 4096, &adopted));
  EXPECT_EQ(adopted->data()[100], 0x42);
  // Without somewhere to put them, fds that come are closed, not leaked.
  const auto open_fds = [] { return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), {}); };
  const auto before = open_fds();
  ASSERT_TRUE(ReceiveMessage(pair[1], -1, &type, &payload));
  EXPECT_EQ(type, MessageType::kBye);
  EXPECT_EQ(open_fds(), before);
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST(IpcSocket, AHalfReadMessageDoesNotHoldAStop) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int wake[2];
  ASSERT_EQ(::pipe(wake), 0);
  const std::string half = EncodeFrame(FrameMessage{}).substr(0, 20);  // a peer that stalls mid-message
  ASSERT_TRUE(SendAll(pair[0], half));
  std::thread waker([&] { ASSERT_EQ(::write(wake[1], "x", 1), 1); });
  MessageType type{};
  std::string payload;
  ReceiveOptions options;
  options.wake = wake[0];
  options.wake_mid_message = true;
  EXPECT_EQ(ReceiveMessage(pair[1], options, &type, &payload).code(), StatusCode::kFailedState);
  waker.join();
  // Without a wake fd, the message timeout ends the wait with a named error.
  ASSERT_TRUE(SendAll(pair[0], half));
  ReceiveOptions timed;
  timed.message_timeout_ms = 50;
  Status s = ReceiveMessage(pair[1], timed, &type, &payload);
  EXPECT_EQ(s.code(), StatusCode::kRuntimeError);
  EXPECT_NE(s.message().find("a message stalled"), std::string::npos) << s.message();
  for (int fd : {pair[0], pair[1], wake[0], wake[1]}) ::close(fd);
}

TEST(IpcSocket, ABlockedReadCanBeInterrupted) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int wake[2];
  ASSERT_EQ(::pipe(wake), 0);
  std::thread waker([&] { ASSERT_EQ(::write(wake[1], "x", 1), 1); });
  MessageType type{};
  std::string payload;
  EXPECT_EQ(ReceiveMessage(pair[0], wake[0], &type, &payload).code(), StatusCode::kFailedState);
  waker.join();
  for (int fd : {pair[0], pair[1], wake[0], wake[1]}) ::close(fd);
}

TEST(IpcSocket, AStaleSocketIsReplacedALiveOneIsNot) {
  std::string path;
  ASSERT_TRUE(SocketPath(UniqueName("stale"), &path));
  Listener first;
  ASSERT_TRUE(Listen(path, &first));
  Listener second;
  Status s = Listen(path, &second);
  EXPECT_EQ(s.code(), StatusCode::kFailedState);
  EXPECT_NE(s.message().find("another ModuleIPC server already listens"), std::string::npos) << s.message();
  EXPECT_TRUE(std::filesystem::exists(path)) << "a refused server leaves the live one's socket alone";
  ::close(first.fd);  // "crashed": the socket file stays behind, the lock goes with the process
  ::close(first.lock_fd);
  ASSERT_TRUE(std::filesystem::exists(path));
  ASSERT_TRUE(Listen(path, &second)) << "a socket file nobody listens on must be replaced";
  int client = -1;
  ASSERT_TRUE(Connect(path, &client));
  ::close(client);
  Unlisten(&second);
  EXPECT_EQ(Connect(path, &client).code(), StatusCode::kUnavailable);
}

TEST(IpcSocket, ConnectingToAServerThatDoesNotAcceptNeverBlocks) {
  // A server whose backlog is full (hung, or flooded): connect must come back, or a client's stop
  // would wait on it forever.
  std::string path;
  ASSERT_TRUE(SocketPath(UniqueName("backlog"), &path));
  const int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(server, 1), 0);
  std::vector<int> waiting;
  Status s;
  for (int i = 0; i < 64 && s.ok(); ++i) {
    int fd = -1;
    s = Connect(path, &fd);
    if (s) waiting.push_back(fd);
  }
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("busy"), std::string::npos) << s.message();
  for (int fd : waiting) ::close(fd);
  ::close(server);
  ::unlink(path.c_str());
}

TEST(IpcSocket, ListenNeitherFollowsNorRemovesWhatIsNotItsOwn) {
  const std::string dir = "/tmp/vstream_listen_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string target = dir + "/victim";
  { std::ofstream(target) << "precious"; }
  ::chmod(target.c_str(), 0644);
  // A link planted where the socket goes is not followed (and not replaced: it is no socket).
  const std::string path = dir + "/s.sock";
  std::filesystem::create_symlink(target, path);
  Listener server;
  Status s = Listen(path, &server);
  EXPECT_EQ(s.code(), StatusCode::kFailedState);
  EXPECT_NE(s.message().find("is not a socket"), std::string::npos) << s.message();
  EXPECT_EQ(ModeOf(target), 0644u) << "chmod went through the link";
  std::filesystem::remove(path);
  // Whatever replaced our socket file while we listened is not ours to remove at stop.
  ASSERT_TRUE(Listen(path, &server));
  std::filesystem::remove(path);
  { std::ofstream(path) << "someone else's"; }
  Unlisten(&server);
  EXPECT_TRUE(std::filesystem::exists(path)) << "Stop removed a file it did not create";
  std::filesystem::remove(path);
  // A lock file others may open (made first by someone else, in a shared folder) is not ours.
  ::chmod((path + ".lock").c_str(), 0644);
  Status s2 = Listen(path, &server);
  EXPECT_EQ(s2.code(), StatusCode::kFailedState);
  EXPECT_NE(s2.message().find("is not a private file of this user"), std::string::npos) << s2.message();
  std::filesystem::remove_all(dir);
}

TEST(IpcSocket, APeerWithAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a peer as another user";
  if (RunProcess({"sh", "-c", "command -v setpriv >/dev/null"}) != 0) GTEST_SKIP() << "setpriv (util-linux) is missing";
  const std::string dir = "/tmp/vstream_uid_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  const std::string path = dir + "/s.sock";
  Listener server;
  ASSERT_TRUE(Listen(path, &server));
  const std::vector<std::string> connect_as_nobody = {
      "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
      "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect('" + path +
          "')\nexcept PermissionError:\n sys.exit(3)\nsys.exit(0)"};
  // The socket is 0600: the kernel refuses the other user outright.
  EXPECT_EQ(RunProcess(connect_as_nobody), 3);
  // Even when the file's mode lets them in, the uid check refuses them.
  ::chmod(path.c_str(), 0666);
  std::thread peer([&] { EXPECT_EQ(RunProcess(connect_as_nobody), 0); });
  const int accepted = ::accept(server.fd, nullptr, nullptr);
  peer.join();
  ASSERT_GE(accepted, 0);
  Status s = CheckPeer(accepted);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("refused a peer running as uid 65534"), std::string::npos) << s.message();
  ::close(accepted);
  Unlisten(&server);
  std::filesystem::remove_all(dir);
}

TEST(ShmSegment, AnonymousReservedAndSealed) {
  std::unique_ptr<ShmSegment> owner;
  ASSERT_TRUE(ShmSegment::Create(1 << 20, &owner));
  // No name anybody could open, pre-create or delete: nothing of ours in /dev/shm.
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
    EXPECT_EQ(entry.path().filename().string().rfind("vstream-" + std::to_string(::geteuid()) + "-" + std::to_string(::getpid()), 0),
              std::string::npos);
  }
  // Every page is reserved up front (st_blocks counts 512-byte blocks actually allocated).
  struct stat info {};
  ASSERT_EQ(::fstat(owner->fd(), &info), 0);
  EXPECT_GE(static_cast<uint64_t>(info.st_blocks) * 512, uint64_t{1} << 20);
  // Sealed: the owner itself cannot shrink it under a reader's mappings.
  EXPECT_NE(::ftruncate(owner->fd(), 4096), 0);
  EXPECT_EQ(errno, EPERM);
  std::memset(owner->data(), 0x5a, owner->size());
  std::unique_ptr<ShmSegment> other;
  ASSERT_TRUE(ShmSegment::Adopt(::fcntl(owner->fd(), F_DUPFD_CLOEXEC, 0), 1 << 20, &other));
  EXPECT_NE(other->data(), owner->data());  // a second mapping of the same memory
  EXPECT_EQ(other->data()[12345], 0x5a);
  other->data()[0] = 0x11;
  EXPECT_EQ(owner->data()[0], 0x11);
  std::unique_ptr<ShmSegment> too_big;
  Status s = ShmSegment::Adopt(::fcntl(owner->fd(), F_DUPFD_CLOEXEC, 0), 2 << 20, &too_big);
  EXPECT_NE(s.message().find("fewer than"), std::string::npos) << s.message();
}

TEST(ShmSegment, OnlyMemoryFilesSealedAgainstShrinkingAreAdopted) {
  std::unique_ptr<ShmSegment> refused;
  // An unsealed memfd: its owner could truncate it under our mappings (SIGBUS on the next read).
  const int unsealed = ::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_EQ(::ftruncate(unsealed, 8192), 0);
  Status s = ShmSegment::Adopt(unsealed, 8192, &refused);
  EXPECT_NE(s.message().find("not sealed against shrinking"), std::string::npos) << s.message();
  // A file that cannot carry seals at all.
  const std::string path = "/tmp/vstream_not_memfd_" + std::to_string(::getpid());
  const int plain = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_EQ(::ftruncate(plain, 8192), 0);
  ::unlink(path.c_str());
  s = ShmSegment::Adopt(plain, 8192, &refused);
  EXPECT_NE(s.message().find("not a memfd"), std::string::npos) << s.message();
  s = ShmSegment::Adopt(-1, 8192, &refused);
  EXPECT_NE(s.message().find("no shared memory came"), std::string::npos) << s.message();
}

TEST(ShmSegment, MemoryBeyondTheFileSizeLimitIsAnErrorNotASignal) {
  // RLIMIT_FSIZE applies to memory files: growing one past it would raise SIGXFSZ and kill the
  // process. Checked in a child, so the limit does not touch the test's own files.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    std::unique_ptr<ShmSegment> segment;
    Status s = ShmSegment::Create(4 << 20, &segment);
    const bool named = s.message().find("ulimit -f") != std::string::npos;
    const bool small_fits = ShmSegment::Create(1 << 19, &segment).ok();
    ::_exit(!s && named && small_fits ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace vstream::detail::ipc
