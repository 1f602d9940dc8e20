// ModuleIPC as deployments run it: short of memory (a container), out of fds, and facing peers that
// break the rules — too many connections, oversized messages, stream ids that would name paths
// outside an output folder, a client that never reads its acknowledgements. Real processes; the
// server must stay up and keep serving the well-behaved client each time.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipc_peer.hpp"
#include "ipc_protocol.hpp"
#include "ipc_socket.hpp"

extern char** environ;

namespace vstream::test {
namespace {

using namespace vstream::detail::ipc;

// A peer started with a resource limit of its own (the variable is read by RunPeer).
std::unique_ptr<Peer> PeerWithLimit(const std::string& config, const char* variable, uint64_t limit) {
  ::setenv(variable, std::to_string(limit).c_str(), 1);
  auto peer = std::make_unique<Peer>(config);
  ::unsetenv(variable);
  return peer;
}

int Connected(const std::string& socket) {
  int fd = -1;
  EXPECT_TRUE(Connect(socket, &fd));
  return fd;
}

// Says Hello (no slots) and waits for the answer: true when welcomed; else `refusal` gets the
// server's reason, if it gave one.
bool Welcomed(int fd, std::string* refusal = nullptr) {
  if (!SendAll(fd, EncodeHello({static_cast<uint32_t>(::getpid()), static_cast<uint64_t>(fd) * 7919 + 1, 0, 0}))) return false;
  MessageType type{};
  std::string payload;
  if (!ReceiveMessage(fd, -1, &type, &payload)) return false;
  if (type == MessageType::kError && refusal != nullptr) {
    (void)DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), refusal);
  }
  return type == MessageType::kWelcome;
}

FrameMessage MetadataFrame(const std::string& stream, int64_t index, uint64_t sequence) {
  FrameMessage frame;
  frame.stream_id = stream;
  frame.frame_index = index;
  frame.sequence = sequence;
  return frame;
}

std::string Errors(int fd) {
  std::string reasons;
  MessageType type{};
  std::string payload;
  while (ReceiveMessage(fd, -1, &type, &payload)) {
    std::string reason;
    if (type == MessageType::kError && DecodeError(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), &reason)) {
      reasons += reason + "\n";
    }
  }
  ::close(fd);
  return reasons;
}

void ExpectAllArrived(const std::string& log, std::initializer_list<const char*> streams, size_t frames) {
  auto received = ReadFrameLog(log);
  for (const char* stream : streams) {
    EXPECT_EQ(received[stream].size(), frames + 1) << stream << ": every frame and the EOS";
  }
}

TEST(IpcHardening, ShortOfMemoryTheClientRunsWithTheSlotsThatFit) {
  IpcScenario setup("ipc_short_memory");
  Peer server(setup.Server("server", false));
  // 1280x720 BGR slots take 2,768,896 bytes: 8 need 22 MB, a 10 MB limit holds 3.
  auto client = PeerWithLimit(setup.Client("client", R"({ "streams": 2, "frames": 20, "width": 1280, "height": 720 })", 8),
                              "VSTREAM_TEST_RLIMIT_FSIZE", 10u << 20);
  EXPECT_EQ(client->Wait(), 0) << client->Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  EXPECT_NE(client->Output().find("only 3 of the 8 shared-memory slots"), std::string::npos) << client->Output();
  ExpectAllArrived(setup.Log("server"), {"stream_0", "stream_1"}, 20);
}

TEST(IpcHardening, NoRoomForASingleSlotIsAnErrorNotASignal) {
  IpcScenario setup("ipc_no_memory");
  Peer server(setup.Server("server", false));
  auto client = PeerWithLimit(setup.Client("client", R"({ "streams": 1, "frames": 5, "width": 1280, "height": 720 })", 4),
                              "VSTREAM_TEST_RLIMIT_FSIZE", 1u << 20);
  const int code = client->Wait();
  EXPECT_NE(code, -1) << "the client died of a signal:\n" << client->Output();
  EXPECT_NE(client->Output().find("ulimit -f"), std::string::npos) << client->Output();
  EXPECT_NE(client->Output().find("not even one slot"), std::string::npos) << client->Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
}

TEST(IpcHardening, NamedSegmentsOfOtherProcessesAreLeftAlone) {
  // A process in another PID namespace that shares /dev/shm looks dead from here: nothing in
  // /dev/shm that ModuleIPC did not create may be removed.
  pid_t gone = -1;
  char* argv[] = {const_cast<char*>("true"), nullptr};
  ASSERT_EQ(posix_spawnp(&gone, "true", nullptr, nullptr, argv, environ), 0);
  ::waitpid(gone, nullptr, 0);
  const std::string other = "/dev/shm/vstream-" + std::to_string(::geteuid()) + "-" + std::to_string(gone) + "-0";
  { std::ofstream(other) << "another namespace's frames"; }
  IpcScenario setup("ipc_other_namespace");
  Peer server(setup.Server("server", false));
  Peer client(setup.Client("client", R"({ "streams": 1, "frames": 10, "width": 64, "height": 48 })", 4));
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  EXPECT_TRUE(std::filesystem::exists(other));
  std::filesystem::remove(other);
}

TEST(IpcHardening, AClientOverMaxClientsWaitsItsTurn) {
  IpcScenario setup("ipc_max_clients");
  Peer server(setup.Server("server", true, R"(, "max_clients": 1)"));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  const int holder = Connected(setup.socket);
  ASSERT_TRUE(Welcomed(holder));
  Peer client(setup.Client("client", R"({ "streams": 1, "frames": 10, "width": 64, "height": 48 })", 4));
  ASSERT_TRUE(client.WaitFor("its maximum of 1 client connection(s) (its max_clients)")) << client.Output();
  ASSERT_TRUE(SendAll(holder, EncodeBye()));
  ::close(holder);
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  server.Terminate();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  ExpectAllArrived(setup.Log("server"), {"stream_0"}, 10);
}

TEST(IpcHardening, OversizedMessagesAndInvalidStreamIdsAreRefused) {
  IpcScenario setup("ipc_hostile_metadata");
  Peer server(setup.Server("server", true, R"(, "max_message_bytes": 4096, "max_streams": 2)"));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();

  int fd = Connected(setup.socket);  // more metadata than the server takes
  ASSERT_TRUE(Welcomed(fd));
  FrameMessage big = MetadataFrame("big", 0, 1);
  big.objects.resize(200);
  for (auto& object : big.objects) object.label = std::string(40, 'l');
  ASSERT_TRUE(SendAll(fd, EncodeFrame(big)));
  EXPECT_NE(Errors(fd).find("(its max_message_bytes)"), std::string::npos);

  // Stream ids that would leave an output folder or carry a NUL, and a third stream over
  // max_streams: their frames are dropped, the connection and the valid streams go on.
  fd = Connected(setup.socket);
  ASSERT_TRUE(Welcomed(fd));
  uint64_t sequence = 0;
  const std::vector<std::string> ids = {"../escape", std::string("nul\0id", 6), "ok_0", "ok_1", "ok_2"};
  for (int64_t index = 0; index < 3; ++index) {
    for (const auto& id : ids) ASSERT_TRUE(SendAll(fd, EncodeFrame(MetadataFrame(id, index, ++sequence))));
  }
  for (const auto& id : ids) {
    FrameMessage eos = MetadataFrame(id, 3, ++sequence);
    eos.flags = kFrameEos;
    ASSERT_TRUE(SendAll(fd, EncodeFrame(eos)));
  }
  ASSERT_TRUE(SendAll(fd, EncodeBye()));
  EXPECT_EQ(Errors(fd), "");
  ASSERT_TRUE(server.WaitFor("invalid stream", 2)) << server.Output();
  ASSERT_TRUE(server.WaitFor("open streams (its max_streams)")) << server.Output();
  EXPECT_NE(server.Output().find("nul\\x00id"), std::string::npos) << "the NUL is shown escaped:\n" << server.Output();
  server.Terminate();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  auto received = ReadFrameLog(setup.Log("server"));
  EXPECT_EQ(received.count("../escape"), 0u);
  EXPECT_EQ(received["ok_0"].size(), 4u);
  EXPECT_EQ(received["ok_1"].size(), 4u);
  EXPECT_EQ(received.count("ok_2"), 0u) << "the third stream is over max_streams";
}

TEST(IpcHardening, AClientThatNeverReadsIsCutOffAndTheOthersGoOn) {
  IpcScenario setup("ipc_never_reads");
  Peer server(setup.Server("server", true, R"(, "max_send_queue_bytes": 4096)"));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  const int fd = Connected(setup.socket);
  ASSERT_TRUE(Welcomed(fd));
  // Every frame earns an acknowledgement this client never reads; the server queues them up to
  // the limit, then disconnects it (a send fails once it has).
  bool cut_off = false;
  for (uint64_t i = 1; i <= 200000 && !cut_off; ++i) cut_off = !SendAll(fd, EncodeFrame(MetadataFrame("flood", static_cast<int64_t>(i), i)));
  ASSERT_TRUE(server.WaitFor("(max_send_queue_bytes)")) << server.Output().substr(0, 2000);
  ::close(fd);
  Peer client(setup.Client("client", R"({ "streams": 1, "frames": 10, "width": 64, "height": 48 })", 4));
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  server.Terminate();
  EXPECT_EQ(server.Wait(), 0);
  ExpectAllArrived(setup.Log("server"), {"stream_0"}, 10);
}

TEST(IpcHardening, OutOfThreadsOneClientIsRefusedAndTheServerGoesOn) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's runtime needs the address space this test takes away";
#endif
  IpcScenario setup("ipc_out_of_threads");
  // Room for a few 8 MiB thread stacks: each client connection takes two threads.
  auto server = PeerWithLimit(setup.Server("server", true), "VSTREAM_TEST_ADDRESS_SPACE_LEFT_MB", 40);
  ASSERT_TRUE(server->WaitFor("address space limited")) << server->Output();
  std::vector<int> held;
  std::string refusal;
  for (int i = 0; i < 16 && refusal.empty(); ++i) {
    const int fd = Connected(setup.socket);
    if (Welcomed(fd, &refusal)) {
      held.push_back(fd);
    } else {
      ::close(fd);
    }
  }
  EXPECT_NE(refusal.find("cannot start a thread for the client"), std::string::npos) << refusal << server->Output();
  for (int fd : held) {
    ASSERT_TRUE(SendAll(fd, EncodeBye()));
    ::close(fd);
  }
  // Threads of the connections that ended are joined when the next client comes; it is served.
  Peer client(setup.Client("client", R"({ "streams": 1, "frames": 10, "width": 64, "height": 48 })", 4));
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  server->Terminate();
  EXPECT_EQ(server->Wait(), 0) << server->Output();
  ExpectAllArrived(setup.Log("server"), {"stream_0"}, 10);
}

// utime + stime of `pid`, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

TEST(IpcHardening, OutOfFdsTheServerWaitsInsteadOfSpinning) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // UBSan confirms a vtable pointer by writing the memory into a fresh pipe; in a process with no
  // fds left that fails and every virtual call in a new thread is reported as an invalid vptr.
  GTEST_SKIP() << "a sanitizer's runtime needs file descriptors of its own";
#endif
  IpcScenario setup("ipc_out_of_fds");
  auto server = PeerWithLimit(setup.Server("server", true), "VSTREAM_TEST_RLIMIT_NOFILE", 48);
  ASSERT_TRUE(server->WaitFor("listening on")) << server->Output();
  std::vector<int> held;
  for (int i = 0; i < 24; ++i) held.push_back(Connected(setup.socket));
  ASSERT_TRUE(server->WaitFor("cannot accept a client")) << server->Output();
  // Clients wait in the backlog; the accept thread waits too rather than retrying flat out.
  const long before = CpuTicks(server->pid());
  const auto window = std::chrono::milliseconds(1000);
  std::this_thread::sleep_for(window);  // a measuring window, not a synchronization
  const long used_ms = (CpuTicks(server->pid()) - before) * 1000 / ::sysconf(_SC_CLK_TCK);
  EXPECT_LT(used_ms, 300) << "the server used " << used_ms << " ms of CPU in a second with nothing to do";
  for (int fd : held) ::close(fd);
  Peer client(setup.Client("client", R"({ "streams": 1, "frames": 10, "width": 64, "height": 48 })", 4));
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  ASSERT_TRUE(server->WaitFor("accepting clients again")) << server->Output();
  server->Terminate();
  EXPECT_EQ(server->Wait(), 0);
  ExpectAllArrived(setup.Log("server"), {"stream_0"}, 10);
}

}  // namespace
}  // namespace vstream::test
