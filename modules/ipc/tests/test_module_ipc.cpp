// ModuleIPC across real processes: this binary started again as the client and server peers
// (--ipc-peer CONFIG). Frames must arrive complete, in order and bit-exact with their metadata,
// whichever side starts first; nothing may be left in /dev/shm or the socket folder afterwards.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ipc_peer.hpp"

namespace vstream::test {
namespace {

// What the server must have seen: the client's lines without the user data that has no codec.
std::map<std::string, std::vector<std::string>> Crossable(std::map<std::string, std::vector<std::string>> sent) {
  for (auto& [stream, lines] : sent) {
    for (auto& line : lines) {
      const size_t at = line.find(" local");
      if (at != std::string::npos) line.erase(at, 6);
    }
  }
  return sent;
}

void ExpectCleanedUp(const IpcScenario& pair, std::initializer_list<pid_t> pids) {
  EXPECT_FALSE(std::filesystem::exists(pair.socket)) << pair.socket;
  for (pid_t pid : pids) EXPECT_TRUE(SegmentsOf(pid).empty()) << "segments of pid " << pid << " left in /dev/shm";
}

constexpr const char* kFourStreams =
    R"({ "streams": 4, "frames": 60, "width": 320, "height": 180, "pattern": "moving_box" })";

void ExpectSameFrames(const IpcScenario& pair, const std::string& client, const std::string& server, size_t streams, size_t frames) {
  auto sent = ReadFrameLog(pair.Log(client));
  auto received = ReadFrameLog(pair.Log(server));
  ASSERT_EQ(sent.size(), streams);
  for (const auto& [stream, lines] : sent) {
    ASSERT_EQ(lines.size(), frames + 1) << stream;  // + EOS
    EXPECT_NE(lines.front().find(" sum="), std::string::npos);
    EXPECT_NE(lines.front().find(" local"), std::string::npos);  // it was there before crossing
  }
  EXPECT_EQ(received, Crossable(sent));  // every frame, in order, same pixels and metadata; EOS last
}

TEST(ModuleIpc, FourStreamsArriveCompleteInOrderAndBitExactServerFirst) {
  IpcScenario pair("ipc_server_first");
  Peer server(pair.Server("server", false));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  Peer client(pair.Client("client", kFourStreams, 8));
  const pid_t client_pid = client.pid();
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();  // ends once its only client said goodbye
  ExpectSameFrames(pair, "client", "server", 4, 60);
  ExpectCleanedUp(pair, {client_pid});
}

TEST(ModuleIpc, FourStreamsArriveCompleteInOrderAndBitExactClientFirst) {
  IpcScenario pair("ipc_client_first");
  Peer client(pair.Client("client", kFourStreams, 5));
  // With no server, exactly max_cachedframe_size frames get a slot; then the client waits.
  ASSERT_TRUE(client.WaitFor("framelog ", 5)) << client.Output();
  EXPECT_FALSE(client.Output().find("event") != std::string::npos) << client.Output();
  Peer server(pair.Server("server", false));
  const pid_t client_pid = client.pid();
  EXPECT_EQ(client.Wait(), 0) << client.Output();
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  ExpectSameFrames(pair, "client", "server", 4, 60);
  ExpectCleanedUp(pair, {client_pid});
}

TEST(ModuleIpc, EveryPixelFormatAndSizeChangesCross) {
  IpcScenario pair("ipc_formats");
  Peer server(pair.Server("server", true));
  ASSERT_TRUE(server.WaitFor("listening on")) << server.Output();
  {
    // NV12 (two planes), odd sizes, then a second client with bigger frames than the first.
    Peer small(pair.Client("small", R"({ "streams": 2, "frames": 20, "width": 97, "height": 55, "pixel_format": "nv12", "pattern": "moving_box" })", 8));
    EXPECT_EQ(small.Wait(), 0) << small.Output();
  }
  Peer big(pair.Client("big", R"({ "streams": 1, "frames": 20, "width": 1280, "height": 720, "pixel_format": "gray8", "pattern": "moving_box" })", 8));
  EXPECT_EQ(big.Wait(), 0) << big.Output();
  server.Terminate();  // keep_serving: it runs until stopped
  EXPECT_EQ(server.Wait(), 0) << server.Output();
  auto sent = Crossable(ReadFrameLog(pair.Log("small")));
  for (auto& [stream, lines] : Crossable(ReadFrameLog(pair.Log("big")))) {
    sent[stream].insert(sent[stream].end(), lines.begin(), lines.end());  // the same ids, one after the other
  }
  EXPECT_EQ(ReadFrameLog(pair.Log("server")), sent);
  EXPECT_NE(sent["stream_0"].front().find("img=97x55/nv12"), std::string::npos) << sent["stream_0"].front();
}

}  // namespace
}  // namespace vstream::test
