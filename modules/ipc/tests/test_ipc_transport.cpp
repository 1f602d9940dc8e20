// The control channel and the shared memory under ModuleIPC: private folders and 0600 files,
// stale leftovers of crashed processes removed, live servers not replaced, peers of another uid
// refused, blocked reads interruptible.
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cstring>
#include <filesystem>
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
  int server = -1;
  ASSERT_TRUE(Listen(path, &server));
  EXPECT_EQ(ModeOf(path), 0600u);
  int client = -1;
  ASSERT_TRUE(Connect(path, &client));
  const int accepted = ::accept(server, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  EXPECT_TRUE(CheckPeer(accepted));
  ASSERT_TRUE(SendAll(client, EncodeHello({42, 7, "vstream-0-42-0", 4, 1024})));
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
  ::close(server);
  ::unlink(path.c_str());
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
  int first = -1;
  ASSERT_TRUE(Listen(path, &first));
  int second = -1;
  Status s = Listen(path, &second);
  EXPECT_EQ(s.code(), StatusCode::kFailedState);
  EXPECT_NE(s.message().find("another ModuleIPC server already listens"), std::string::npos) << s.message();
  ::close(first);  // "crashed": the socket file stays behind
  ASSERT_TRUE(std::filesystem::exists(path));
  ASSERT_TRUE(Listen(path, &second)) << "a socket file nobody listens on must be replaced";
  ::close(second);
  ::unlink(path.c_str());
  int client = -1;
  EXPECT_EQ(Connect(path, &client).code(), StatusCode::kUnavailable);
}

TEST(IpcSocket, APeerWithAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a peer as another user";
  if (RunProcess({"sh", "-c", "command -v setpriv >/dev/null"}) != 0) GTEST_SKIP() << "setpriv (util-linux) is missing";
  const std::string dir = "/tmp/vstream_uid_test_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  ::chmod(dir.c_str(), 0755);
  const std::string path = dir + "/s.sock";
  int server = -1;
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
  const int accepted = ::accept(server, nullptr, nullptr);
  peer.join();
  ASSERT_GE(accepted, 0);
  Status s = CheckPeer(accepted);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("refused a peer running as uid 65534"), std::string::npos) << s.message();
  ::close(accepted);
  ::close(server);
  std::filesystem::remove_all(dir);
}

TEST(ShmSegment, OwnerOnlySharedAndRemovedByItsOwner) {
  std::unique_ptr<ShmSegment> owner;
  ASSERT_TRUE(ShmSegment::Create(1 << 20, &owner));
  const std::string name = owner->name();
  EXPECT_EQ(ShmSegment::OwnerOf(name), ::getpid());
  EXPECT_EQ(ModeOf("/dev/shm/" + name), 0600u);
  std::memset(owner->data(), 0x5a, owner->size());
  {
    std::unique_ptr<ShmSegment> other;
    ASSERT_TRUE(ShmSegment::Open(name, 1 << 20, &other));
    EXPECT_NE(other->data(), owner->data());  // a second mapping of the same memory
    EXPECT_EQ(other->data()[12345], 0x5a);
    other->data()[0] = 0x11;
    EXPECT_EQ(owner->data()[0], 0x11);
    std::unique_ptr<ShmSegment> too_big;
    EXPECT_NE(ShmSegment::Open(name, 2 << 20, &too_big).message().find("fewer than"), std::string::npos);
  }
  owner.reset();
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + name));
  std::unique_ptr<ShmSegment> gone;
  EXPECT_EQ(ShmSegment::Open(name, 1, &gone).code(), StatusCode::kNotFound);
  EXPECT_EQ(ShmSegment::Open("some-other-program", 1, &gone).code(), StatusCode::kFailedState);
}

TEST(ShmSegment, LeftoversOfDeadProcessesAreRemoved) {
  // A pid that is certainly gone: a process that ran and was reaped.
  pid_t dead = -1;
  char* argv[] = {const_cast<char*>("true"), nullptr};
  ASSERT_EQ(posix_spawnp(&dead, "true", nullptr, nullptr, argv, environ), 0);
  ::waitpid(dead, nullptr, 0);
  namespace bip = boost::interprocess;
  const std::string stale = "vstream-" + std::to_string(::geteuid()) + "-" + std::to_string(dead) + "-0";
  { bip::shared_memory_object(bip::create_only, stale.c_str(), bip::read_write).truncate(4096); }
  std::unique_ptr<ShmSegment> alive;
  ASSERT_TRUE(ShmSegment::Create(4096, &alive));
  ASSERT_TRUE(std::filesystem::exists("/dev/shm/" + stale));
  EXPECT_GE(ShmSegment::RemoveStale(), 1);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/" + stale));
  EXPECT_TRUE(std::filesystem::exists("/dev/shm/" + alive->name())) << "a live owner's segment stays";
}

}  // namespace
}  // namespace vstream::detail::ipc
