// When a slot goes back to the client: once, when the last reference to the frame in the server
// process is gone, wherever that is (a queue policy dropped it, a module failed it, several
// leaves saw it), and never before: a client with every slot in flight waits. Both pipelines run
// in this process here (their sockets and segments are the same as between processes), so the
// test can hold frames on the server side and look at both ends.
#include <gtest/gtest.h>

#include "support/media.hpp"
#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream::test {
namespace {

class FailOdd : public Module {
 public:
  using Module::Module;
  bool Open(const ModuleParams&) override { return true; }
  void Close() override {}
  int Process(FramePtr frame) override { return !frame->IsEos() && frame->frame_index % 2 == 1 ? -1 : 0; }
};
VSTREAM_REGISTER_MODULE(FailOdd);

std::string ClientConfig(const std::string& socket, int frames, int slots) {
  return R"({
    "source": { "class_name": "SyntheticSource", "next_modules": ["ipc"],
                "custom_params": { "streams": 1, "frames": )" + std::to_string(frames) + R"(, "width": 64, "height": 48 } },
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["sent"],
             "custom_params": { "ipc_type": "client", "socket_address": ")" + socket + R"(", "max_cachedframe_size": )" +
         std::to_string(slots) + R"(, "close_timeout_ms": 60000 } },
    "sent": { "class_name": "Recorder" } })";
}

TEST(IpcRelease, DroppedFailedAndFannedOutFramesAreEachReleasedOnce) {
  ScratchDir dir("ipc_release");
  const std::string socket = dir / "ipc.sock";
  Pipeline server("server");
  ASSERT_TRUE(server.BuildFromString(R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["fail", "gate", "leaf"],
             "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
    "fail": { "class_name": "FailOdd" },
    "gate": { "class_name": "Gate", "max_input_queue_size": 1, "queue_policy": "drop_oldest" },
    "leaf": { "class_name": "Recorder" } })"));
  ASSERT_TRUE(server.Start());
  EventLog client_events;
  Pipeline client("client");
  client.SetObserver(client_events.Callback());
  ASSERT_TRUE(client.BuildFromString(ClientConfig(socket, 100, 4)));
  ASSERT_TRUE(client.Start());
  // The closed gate keeps one frame in Process and one in its queue and drops the rest; with 4
  // slots the client can only finish if every dropped or failed frame gave its slot back.
  auto* sent = client.GetModule<Recorder>("sent");
  ASSERT_TRUE(sent->WaitFrames(100));
  server.GetModule<Gate>("gate")->OpenAll();
  client.WaitForStreams();
  EXPECT_TRUE(client.Stop());
  EXPECT_TRUE(client_events.Of(EventType::kModuleError).empty()) << "no frame may be left unacknowledged";
  server.WaitForStreams();
  ASSERT_TRUE(server.Stop());
  const PipelineStats stats = server.GetStats();
  for (const auto& m : stats.modules) {
    if (m.name == "gate") {
      EXPECT_GT(m.frames_dropped, 90u);
    } else if (m.name == "fail") {
      EXPECT_EQ(m.errors, 50u);
    } else if (m.name == "leaf") {
      EXPECT_EQ(m.frames_in, 101u);  // with the EOS
    }
  }
}

TEST(IpcRelease, AClientWithEverySlotInFlightWaitsForTheServer) {
  ScratchDir dir("ipc_backpressure");
  const std::string socket = dir / "ipc.sock";
  Pipeline server("server");
  ASSERT_TRUE(server.BuildFromString(R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["gate"],
             "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
    "gate": { "class_name": "Gate", "max_input_queue_size": 50 } })"));
  ASSERT_TRUE(server.Start());
  Pipeline client("client");
  ASSERT_TRUE(client.BuildFromString(ClientConfig(socket, 40, 3)));
  ASSERT_TRUE(client.Start());
  auto* gate = server.GetModule<Gate>("gate");
  auto* sent = client.GetModule<Recorder>("sent");
  // Three frames hold the three slots: one in the gate, two in its queue (room for 50).
  ASSERT_TRUE(gate->WaitEntered(1));
  ASSERT_TRUE(sent->WaitFrames(3));
  EXPECT_EQ(sent->frames()["stream_0"].size(), 3u) << "a fourth frame went out without a free slot";
  gate->Release(1);  // one frame done: one slot back, one more frame crosses
  ASSERT_TRUE(gate->WaitEntered(2));
  ASSERT_TRUE(sent->WaitFrames(4));
  gate->OpenAll();
  client.WaitForStreams();
  EXPECT_TRUE(client.Stop());
  server.WaitForStreams();
  EXPECT_TRUE(server.Stop());
  EXPECT_EQ(gate->passed(), 40);
}

}  // namespace
}  // namespace vstream::test
