// ModuleIPC when things go wrong, with real processes: kill -9 of the server (the client resends,
// nothing is lost), kill -9 of one client (the server ends its streams and serves the others),
// garbage and truncated messages (the connection closes, the server goes on), a peer of another
// uid (refused).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "ipc_peer.hpp"
#include "ipc_protocol.hpp"
#include "ipc_socket.hpp"
#include "shm_segment.hpp"

namespace vstream::test {
namespace {

using namespace vstream::detail::ipc;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::vector<long> Indexes(const std::vector<std::string>& lines) {
  std::vector<long> out;
  for (const auto& line : lines) {
    if (line.find(" eos") == std::string::npos) out.push_back(IndexOf(line));
  }
  return out;
}

bool Increasing(const std::vector<long>& v) { return std::adjacent_find(v.begin(), v.end(), std::greater_equal<long>()) == v.end(); }

TEST(IpcFaults, ServerKilledMidStreamEveryFrameArrivesAndOnlyInFlightOnesTwice) {
  IpcScenario setup("ipc_kill_server");
  constexpr int kSlots = 8;
  constexpr long kFrames = 300;
  Peer client(setup.Client("client", R"({ "streams": 4, "frames": 300, "width": 320, "height": 180, "pattern": "moving_box" })", kSlots));
  std::set<std::string> received_lines;
  {
    Peer first(setup.Server("first", false));
    ASSERT_TRUE(first.WaitFor("framelog ", 100)) << first.Output();
    first.Kill();  // kill -9 mid-stream
  }
  ASSERT_TRUE(client.WaitFor("lost the ModuleIPC server")) << client.Output();
  Peer second(setup.Server("second", false));
  const pid_t client_pid = client.pid();
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  EXPECT_EQ(second.Wait(), 0) << second.Output();

  auto sent = ReadFrameLog(setup.Log("client"));
  auto first_log = ReadFrameLog(setup.Log("first"));
  auto second_log = ReadFrameLog(setup.Log("second"));
  ASSERT_EQ(sent.size(), 4u);
  size_t repeats = 0;
  for (const auto& [stream, lines] : sent) {
    ASSERT_EQ(lines.size(), static_cast<size_t>(kFrames + 1)) << stream;
    const auto before = Indexes(first_log[stream]);
    const auto after = Indexes(second_log[stream]);
    EXPECT_TRUE(Increasing(before)) << stream;
    EXPECT_TRUE(Increasing(after)) << stream;  // in order per stream, resent frames first
    std::set<long> all(before.begin(), before.end());
    for (long i : after) repeats += all.insert(i).second ? 0 : 1;
    EXPECT_EQ(all.size(), static_cast<size_t>(kFrames)) << stream << ": every frame arrives";
    EXPECT_EQ(*all.rbegin(), kFrames - 1);
    EXPECT_NE(second_log[stream].back().find(" eos"), std::string::npos) << stream;
    // What arrived after the restart is bit-exact too.
    std::set<std::string> expected;
    for (auto line : lines) {
      if (size_t at = line.find(" local"); at != std::string::npos) line.erase(at, 6);
      expected.insert(line);
    }
    for (const auto& line : second_log[stream]) EXPECT_TRUE(expected.count(line)) << line;
  }
  // Only frames the dead server held (at most one per slot) may have been processed twice.
  EXPECT_LE(repeats, static_cast<size_t>(kSlots));
  EXPECT_FALSE(std::filesystem::exists(setup.socket));
  EXPECT_TRUE(SegmentsOf(client_pid).empty());
}

TEST(IpcFaults, ClientKilledTheServerEndsItsStreamsAndServesTheOther) {
  IpcScenario setup("ipc_kill_client");
  Peer server(setup.Server("server", /*keep_serving=*/true));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  Peer doomed(setup.Client("doomed", R"({ "streams": 2, "frames": 0, "width": 64, "height": 48, "stream_prefix": "a" })", 4));
  Peer survivor(setup.Client("survivor", R"({ "streams": 2, "frames": 0, "width": 64, "height": 48, "stream_prefix": "b" })", 4));
  // Both streams of each client are open on the server before the kill.
  for (const char* stream : {"framelog a0 ", "framelog a1 ", "framelog b0 ", "framelog b1 "}) {
    ASSERT_TRUE(server.WaitFor(stream, 10)) << server.Output();
  }
  const pid_t doomed_pid = doomed.pid();
  doomed.Kill();
  ASSERT_TRUE(server.WaitFor("disconnected before ending stream 'a0'")) << server.Output();
  ASSERT_TRUE(server.WaitFor("disconnected before ending stream 'a1'")) << server.Output();
  // The other client goes on being served.
  const int b_frames = Count(server.Output(), "framelog b1 ");
  ASSERT_TRUE(server.WaitFor("framelog b1 ", b_frames + 20)) << server.Output();
  survivor.Terminate();
  EXPECT_EQ(survivor.Wait(), 0) << survivor.Output();
  server.Terminate();
  EXPECT_EQ(server.Wait(), 0) << server.Output();

  auto received = ReadFrameLog(setup.Log("server"));
  auto sent = ReadFrameLog(setup.Log("survivor"));
  for (const char* stream : {"b0", "b1"}) {
    ASSERT_FALSE(sent[stream].empty());
    const auto got = Indexes(received[stream]);
    ASSERT_EQ(got.size(), Indexes(sent[stream]).size()) << stream << ": every frame the survivor sent arrived";
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<long>(i)) << stream;
    EXPECT_NE(received[stream].back().find(" eos"), std::string::npos) << stream;
  }
  for (const char* stream : {"a0", "a1"}) {
    ASSERT_FALSE(received[stream].empty());
    EXPECT_NE(received[stream].back().find(" eos"), std::string::npos) << stream << ": ended on the server";
  }
  EXPECT_TRUE(SegmentsOf(doomed_pid).empty()) << "the killed client's segment was removed";
  EXPECT_FALSE(std::filesystem::exists(setup.socket));
}

// Opens a raw connection to the server, as a hostile or broken client would.
int RawConnect(const std::string& socket) {
  int fd = -1;
  EXPECT_TRUE(Connect(socket, &fd));
  return fd;
}

// What the server answered before closing: the reasons of its Error messages.
std::string Answer(int fd) {
  std::string reasons;
  MessageType type{};
  std::string payload;
  while (ReceiveMessage(fd, -1, &type, &payload)) {
    if (type == MessageType::kError) {
      std::string reason;
      EXPECT_TRUE(DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason));
      reasons += reason + "\n";
    }
  }
  ::close(fd);
  return reasons;
}

std::string HelloFor(uint32_t slots = 0, uint64_t slot_size = 0, uint32_t pid = 0) {
  return EncodeHello({pid != 0 ? pid : static_cast<uint32_t>(::getpid()), 42, slots, slot_size});
}

TEST(IpcFaults, GarbageAndTruncatedMessagesCloseOnlyTheirConnection) {
  IpcScenario setup("ipc_garbage");
  // Not keep_serving: connections that never said Hello, or broke, must not keep it waiting once
  // the real client below has said goodbye.
  Peer server(setup.Server("server", /*keep_serving=*/false));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();

  int fd = RawConnect(setup.socket);
  ASSERT_TRUE(SendAll(fd, "GET / HTTP/1.0\r\n\r\n"));
  EXPECT_NE(Answer(fd).find("magic"), std::string::npos);

  fd = RawConnect(setup.socket);  // a frame before Hello
  FrameMessage frame;
  frame.stream_id = "x";
  ASSERT_TRUE(SendAll(fd, EncodeFrame(frame)));
  EXPECT_NE(Answer(fd).find("a frame came before Hello"), std::string::npos);

  fd = RawConnect(setup.socket);  // truncated: the header promises more than comes
  ASSERT_TRUE(SendAll(fd, HelloFor()));
  std::string cut = EncodeFrame(frame);
  cut.resize(cut.size() - 3);
  ASSERT_TRUE(SendAll(fd, cut));
  ::shutdown(fd, SHUT_WR);
  Answer(fd);
  ASSERT_TRUE(server.WaitFor("disconnected: it closed the connection")) << server.Output();

  std::unique_ptr<ShmSegment> segment;
  ASSERT_TRUE(ShmSegment::Create(2 * 4096, &segment));
  fd = RawConnect(setup.socket);  // an image that would run past its slot
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096), -1, segment->fd()));
  frame.image = {1, 1000, 1000, static_cast<uint8_t>(PixelFormat::kBGR24), {3000, 0}, {0, 0}};
  ASSERT_TRUE(SendAll(fd, EncodeFrame(frame)));
  EXPECT_NE(Answer(fd).find("ends at byte"), std::string::npos);

  fd = RawConnect(setup.socket);  // a slot beyond the segment
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096), -1, segment->fd()));
  frame.image = {7, 16, 16, static_cast<uint8_t>(PixelFormat::kGray8), {16, 0}, {0, 0}};
  ASSERT_TRUE(SendAll(fd, EncodeFrame(frame)));
  EXPECT_NE(Answer(fd).find("slot 7 of 2"), std::string::npos);

  fd = RawConnect(setup.socket);  // a hello that lies about its pid
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096, 1), -1, segment->fd()));
  EXPECT_NE(Answer(fd).find("hello says pid 1"), std::string::npos);

  fd = RawConnect(setup.socket);  // slots announced, no memory passed
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096)));
  EXPECT_NE(Answer(fd).find("no shared memory came"), std::string::npos);

  // Memory its sender could still shrink: reading it would kill the server with SIGBUS.
  const int unsealed = ::memfd_create("x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_EQ(::ftruncate(unsealed, 2 * 4096), 0);
  fd = RawConnect(setup.socket);
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096), -1, unsealed));
  EXPECT_NE(Answer(fd).find("not sealed against shrinking"), std::string::npos);
  ::close(unsealed);

  fd = RawConnect(setup.socket);  // an fd riding on a frame
  ASSERT_TRUE(SendAll(fd, HelloFor(2, 4096), -1, segment->fd()));
  frame.image = ImageLayout{};
  ASSERT_TRUE(SendAll(fd, EncodeFrame(frame), -1, segment->fd()));
  EXPECT_NE(Answer(fd).find("a file descriptor came with a message other than Hello"), std::string::npos);

  // The server is unharmed: a real client's frames all arrive.
  Peer client(setup.Client("client", R"({ "streams": 2, "frames": 30, "width": 64, "height": 48 })", 4));
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  auto received = ReadFrameLog(setup.Log("server"));
  EXPECT_EQ(received["stream_0"].size(), 31u);
  EXPECT_EQ(received["stream_1"].size(), 31u);
  EXPECT_EQ(received.count("x"), 0u);
}

TEST(IpcFaults, APeerOfAnotherUidIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a peer as another user";
  if (Shell("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "setpriv (util-linux) is missing";
  IpcScenario setup("ipc_other_uid");
  ::chmod(setup.dir.path().c_str(), 0755);
  Peer server(setup.Server("server", /*keep_serving=*/true));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  // Opened up on purpose: the socket's 0600 mode alone would stop the other user at connect().
  ASSERT_EQ(::chmod(setup.socket.c_str(), 0666), 0);
  const std::string script =
      "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect('" + setup.socket +
      "')\ndata=b''\nwhile True:\n  b=s.recv(4096)\n  if not b: break\n  data+=b\nsys.exit(0 if b'refused a peer running as uid 65534' in data else 1)";
  std::ofstream(setup.dir / "peer.py") << script;
  ::chmod((setup.dir / "peer.py").c_str(), 0644);
  EXPECT_EQ(Shell("setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 " + setup.dir / "peer.py"), 0);
  ASSERT_TRUE(server.WaitFor("refused a peer running as uid 65534")) << server.Output();
  server.Terminate();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
}

}  // namespace
}  // namespace vstream::test
