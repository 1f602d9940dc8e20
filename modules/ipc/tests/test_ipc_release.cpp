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
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    return !frame->IsEos() && frame->frame_index % 2 == 1 ? Fail("odd frame") : Status::Ok();
  }
};
VSTREAM_REGISTER_MODULE(FailOdd);

// SyntheticSource's default pattern fills frame i with i % 256: a slot the client reused while the
// server still held its frame shows up here as other bytes.
class CheckPixels : public Module {
 public:
  using Module::Module;
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    const VideoFrame& image = frame->image;
    const auto expected = static_cast<uint8_t>(frame->frame_index % 256);
    for (int r = 0; r < image.plane_rows(0); ++r) {
      const uint8_t* row = image.plane(0) + static_cast<size_t>(r) * image.stride(0);
      for (int b = 0; b < image.plane_row_bytes(0); ++b) {
        if (row[b] != expected) return Fail("pixels of frame " + std::to_string(frame->frame_index) + " were overwritten");
      }
    }
    return {};
  }
};
VSTREAM_REGISTER_MODULE(CheckPixels);

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
    "gate": { "class_name": "Gate", "max_input_queue_size": 1, "queue_policy": "drop_oldest", "next_modules": ["check"] },
    "check": { "class_name": "CheckPixels" },
    "leaf": { "class_name": "Recorder" } })"));
  ASSERT_TRUE(server.Start());
  EventLog client_events;
  Pipeline client("client");
  client.SetObserver(client_events.Callback());
  ASSERT_TRUE(client.BuildFromString(ClientConfig(socket, 100, 4)));
  ASSERT_TRUE(client.Start());
  // The closed gate keeps one frame in Process and one in its queue and drops the rest; with 4
  // slots the client can only finish if every dropped or failed frame gave its slot back, and the
  // frames the gate holds must keep theirs (CheckPixels sees them after the gate opens).
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
    } else if (m.name == "check") {
      EXPECT_GE(m.frames_in, 2u);  // the frame the gate held all along, then its queue's, and the EOS
      EXPECT_EQ(m.errors, 0u);
    }
  }
}

// A server whose gate lets frames through one at a time: the client may never have more than
// `slots` frames out.
void ExpectTheClientWaitsAtTheLimit(const std::string& tag, int width, int height, int slots) {
  ScratchDir dir(tag);
  const std::string socket = dir / "ipc.sock";
  constexpr int kFrames = 30;
  Pipeline server("server");
  ASSERT_TRUE(server.BuildFromString(R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["gate"],
             "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
    "gate": { "class_name": "Gate", "max_input_queue_size": 50 } })"));
  ASSERT_TRUE(server.Start());
  Pipeline client("client");
  ASSERT_TRUE(client.BuildFromString(R"({
    "source": { "class_name": "SyntheticSource", "next_modules": ["ipc"],
                "custom_params": { "streams": 1, "frames": )" + std::to_string(kFrames) + R"(, "width": )" +
                                     std::to_string(width) + R"(, "height": )" + std::to_string(height) + R"( } },
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["sent"],
             "custom_params": { "ipc_type": "client", "socket_address": ")" + socket + R"(", "max_cachedframe_size": )" +
                                     std::to_string(slots) + R"( } },
    "sent": { "class_name": "Recorder" } })"));
  ASSERT_TRUE(client.Start());
  auto* gate = server.GetModule<Gate>("gate");
  auto* sent = client.GetModule<Recorder>("sent");
  // `slots` frames go out at once: one in the gate, the others in its queue (room for 50).
  ASSERT_TRUE(sent->WaitFrames(static_cast<size_t>(slots)));
  // Then the gate lets one through at a time. When frame k enters it, frames 0..k-1 are the only
  // ones that can have been released, so the client has sent at most k + slots frames.
  for (int k = 0; k < kFrames; ++k) {
    ASSERT_TRUE(gate->WaitEntered(k + 1));
    ASSERT_LE(sent->frames()["stream_0"].size(), static_cast<size_t>(k + slots)) << "when frame " << k << " entered the gate";
    gate->Release(1);
  }
  gate->OpenAll();
  client.WaitForStreams();
  EXPECT_TRUE(client.Stop());
  server.WaitForStreams();
  EXPECT_TRUE(server.Stop());
  EXPECT_EQ(gate->passed(), kFrames);
}

TEST(IpcRelease, AClientWithEverySlotInFlightWaitsForTheServer) { ExpectTheClientWaitsAtTheLimit("ipc_backpressure", 64, 48, 3); }

TEST(IpcRelease, FramesWithoutPixelsCountAgainstTheLimitToo) { ExpectTheClientWaitsAtTheLimit("ipc_metadata_only", 0, 0, 2); }

TEST(IpcRelease, FramesAnAbortDroppedGoToTheNextServer) {
  ScratchDir dir("ipc_abort");
  const std::string socket = dir / "ipc.sock";
  auto server_config = [&](const std::string& leaf) {
    return R"({
      "ipc": { "class_name": "ModuleIPC", "next_modules": ["leaf"],
               "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
      "leaf": { "class_name": ")" + leaf + R"(", "max_input_queue_size": 50 } })";
  };
  auto first = std::make_unique<Pipeline>("first");
  ASSERT_TRUE(first->BuildFromString(server_config("Gate")));
  ASSERT_TRUE(first->Start());
  EventLog client_events;
  Pipeline client("client");
  client.SetObserver(client_events.Callback());
  ASSERT_TRUE(client.BuildFromString(ClientConfig(socket, 20, 4)));
  ASSERT_TRUE(client.Start());
  // The first server takes 4 frames (one in the gate, three queued) and finishes none of them.
  ASSERT_TRUE(first->GetModule<Gate>("leaf")->WaitEntered(1));
  ASSERT_TRUE(client.GetModule<Recorder>("sent")->WaitFrames(4));
  ASSERT_TRUE(first->Stop(StopMode::kAbort));  // drops them: they must not count as done
  first.reset();
  Pipeline second("second");
  ASSERT_TRUE(second.BuildFromString(server_config("Recorder")));
  ASSERT_TRUE(second.Start());
  client.WaitForStreams();
  EXPECT_TRUE(client.Stop());
  EXPECT_TRUE(client_events.Of(EventType::kModuleError).empty()) << "no frame may be left unacknowledged";
  second.WaitForStreams();
  ASSERT_TRUE(second.Stop());
  auto* got = second.GetModule<Recorder>("leaf");
  std::vector<int64_t> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i;
  EXPECT_EQ(got->frames()["stream_0"], expected) << "every frame, the dropped ones included, in order";
  EXPECT_EQ(got->eos()["stream_0"], 1);
}

}  // namespace
}  // namespace vstream::test
