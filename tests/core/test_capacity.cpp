// ComputeCapacity: the worst case in frames and bytes of a config, worked out from the config alone,
// and the shapes that make a module wait for frames that cannot come.
#include <gtest/gtest.h>

#include "vstream/capacity.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// A module that keeps a window of `window` frames per worker and passes them on only once the
// window is full (no timeout): behind a bounded supply of frames, it waits for good.
class HoldsAWindow : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"test module that collects a window of frames", {ParamSpec::Int("window", 3, "frames").Range(1, 100)}};
  }
  static HeldFrames FramesHeld(const ModuleParams& params) {
    HeldFrames held;
    held.per_worker = params.GetInt("window");
    held.collects = params.GetInt("window");
    held.collect_timeout_ms = -1;
    held.collects_param = "window";
    held.detail = "a window of frames";
    return held;
  }
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr) override { return {}; }
};
VSTREAM_REGISTER_MODULE(HoldsAWindow);

GraphConfig Parse(const std::string& json, const std::string& origin) {
  GraphConfig config;
  const Status s = GraphConfig::FromString(json, "/cfg", &config, origin);
  EXPECT_TRUE(s) << s.message();
  return config;
}

std::vector<ConfigCapacity> Capacity(const std::vector<const GraphConfig*>& configs, const CapacityOptions& options = {}) {
  std::vector<ConfigCapacity> out;
  const Status s = ComputeCapacity(configs, options, &out);
  EXPECT_TRUE(s) << s.message();
  return out;
}

const ModuleCapacity& Find(const ConfigCapacity& c, const std::string& name) {
  for (const auto& m : c.modules) {
    if (m.name == name) return m;
  }
  static const ModuleCapacity kNone;
  ADD_FAILURE() << "no module " << name;
  return kNone;
}

TEST(Capacity, AChainIsItsQueuesAndAFrameInHandPerWorker) {
  const GraphConfig config = Parse(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["a"],
            "custom_params": {"width": 64, "height": 32, "pixel_format": "gray8", "threads": 2}},
    "a": {"class_name": "PassThrough", "parallelism": 3, "max_input_queue_size": 4, "next_modules": ["b"]},
    "b": {"class_name": "PassThrough", "max_input_queue_size": 7}})",
                                   "chain");
  const ConfigCapacity c = Capacity({&config})[0];
  EXPECT_EQ(Find(c, "src").frames(), 2);          // one per producer thread
  EXPECT_EQ(Find(c, "a").frames(), 3 * (4 + 1));  // three workers, each a queue of 4 and a frame in hand
  EXPECT_EQ(Find(c, "b").frames(), 7 + 1);
  EXPECT_EQ(c.frames, 2 + 15 + 8);
  EXPECT_EQ(c.frames_per_stream, 0);
  EXPECT_EQ(c.Frames(100), 25);
  EXPECT_FALSE(c.frames_limit);
  EXPECT_EQ(c.frame_bytes, 64u * 32u);  // the source's own size and format
  EXPECT_FALSE(c.size_assumed);
  EXPECT_EQ(c.bytes, 25u * 64u * 32u);
  EXPECT_EQ(c.bytes_per_stream, 0u);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Capacity, AnInferencerHoldsItsBatchQueueAndTheRunningBatchPerWorker) {
  const GraphConfig config = Parse(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["infer", "track"], "custom_params": {"width": 0, "height": 0}},
    "infer": {"class_name": "Inferencer", "parallelism": 2, "max_input_queue_size": 5,
              "custom_params": {"model_path": "never-opened.onnx", "postproc_name": "ssd", "batch_size": 3}},
    "track": {"class_name": "Tracker", "max_input_queue_size": 10}})",
                                   "fan-out");
  const ConfigCapacity c = Capacity({&config})[0];
  // Batch queue max(4, 2 x 3) = 6, running batch 3: 9 held per worker.
  EXPECT_EQ(Find(c, "infer").held, 2 * 9);
  EXPECT_EQ(Find(c, "infer").frames(), 2 * (5 + 1 + 9));
  EXPECT_EQ(Find(c, "track").frames(), 11);
  EXPECT_EQ(c.frames, 1 + 30 + 11);
  EXPECT_EQ(c.frame_bytes, 0u);  // frames without an image
  EXPECT_EQ(c.Bytes(8), 0u);
  EXPECT_TRUE(c.warnings.empty());  // a fan-out never waits on itself

  // A small batch still has a queue of 4; infer_interval makes the passed-over frames ride along.
  GraphConfig small = config;
  ASSERT_TRUE(small.Set("infer.batch_size=1"));
  ASSERT_TRUE(small.Set("infer.infer_interval=5"));
  EXPECT_EQ(Find(Capacity({&small})[0], "infer").held, 2 * (4 + 4));
}

TEST(Capacity, ADataSourceStreamKeepsItsPoolAndItsDecodersPictures) {
  const GraphConfig config = Parse(R"({
    "src": {"class_name": "DataSource", "next_modules": ["t"], "custom_params": {"decoder_threads": 2}},
    "t": {"class_name": "Tracker"}})",
                                   "decode");
  CapacityOptions options;
  options.assumed_width = 320;
  options.assumed_height = 240;
  const ConfigCapacity c = Capacity({&config}, options)[0];
  EXPECT_EQ(c.frames, 21);  // the tracker's queue of 20 and its frame in hand
  EXPECT_EQ(c.frames_per_stream, 1);  // the frame each stream hands on
  EXPECT_EQ(c.Frames(3), 24);
  EXPECT_TRUE(c.size_assumed);  // a DataSource decodes at the input's size
  EXPECT_EQ(c.frame_bytes, 320u * 240u * 3u);
  // Per stream: a pool of all 22 frames one stream can have in flight, and 16 reference pictures +
  // 2 threads' in 4:2:0. The frames in flight are pool buffers: nothing more whatever the streams.
  EXPECT_EQ(c.bytes_per_stream, 22u * 230400u + 18u * 115200u);
  EXPECT_EQ(c.bytes, 0u);

  // Frames past the pool's 64 take memory of their own.
  GraphConfig deep = config;
  ASSERT_TRUE(deep.Set("t.max_input_queue_size=99"));
  const ConfigCapacity d = Capacity({&deep}, options)[0];
  EXPECT_EQ(d.bytes_per_stream, 64u * 230400u + 18u * 115200u);
  EXPECT_EQ(d.bytes, (100u + 1u - 64u) * 230400u);
}

TEST(Capacity, AFanInHoldsNothingForFramesWaitingForTheirOtherParent) {
  // Arrivals at a join are counted on the frame, not queued: a fan-in adds only its own queue.
  const GraphConfig config = Parse(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["a", "b"], "custom_params": {"width": 8, "height": 8}},
    "a": {"class_name": "PassThrough", "next_modules": ["join"], "queue_policy": "drop_oldest"},
    "b": {"class_name": "PassThrough", "next_modules": ["join"], "max_input_queue_size": 2},
    "join": {"class_name": "PassThrough", "max_input_queue_size": 1}})",
                                   "fan-in");
  const ConfigCapacity c = Capacity({&config})[0];
  EXPECT_EQ(c.frames, 1 + 21 + 3 + 2);
  EXPECT_TRUE(c.warnings.empty());
}

// Process 1 decodes and sends through a ModuleIPC client; process 2 receives and batches.
std::pair<GraphConfig, GraphConfig> SplitPipeline(int slots, int batch) {
  GraphConfig sender = Parse(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["ipc"], "custom_params": {"width": 100, "height": 50}},
    "ipc": {"class_name": "ModuleIPC", "max_input_queue_size": 3,
            "custom_params": {"ipc_type": "client", "socket_address": "capacity_test", "max_cachedframe_size": )" +
                                 std::to_string(slots) + R"(}}})",
                             "sender.json");
  GraphConfig receiver = Parse(R"({
    "ipc": {"class_name": "ModuleIPC", "next_modules": ["infer"],
            "custom_params": {"ipc_type": "server", "socket_address": "capacity_test", "max_clients": 2}},
    "infer": {"class_name": "Inferencer", "custom_params": {"model_path": "m.onnx", "postproc_name": "ssd",
              "batch_size": )" + std::to_string(batch) + R"(, "batching_timeout": 20}}})",
                               "receiver.json");
  return {sender, receiver};
}

TEST(Capacity, AModuleIpcPairIsBoundedByTheClientsSlots) {
  const auto [sender, receiver] = SplitPipeline(/*slots=*/6, /*batch=*/4);
  const auto both = Capacity({&sender, &receiver});
  // The client keeps copies in 6 frame-sized slots of shared memory.
  EXPECT_EQ(both[0].frames, 1 + (3 + 1));
  EXPECT_EQ(both[0].shared_memory_bytes, 6u * 100u * 50u * 3u);
  EXPECT_EQ(both[0].bytes, 5u * 15000u + 6u * 15000u);
  // The server: a frame in hand per connection, the Inferencer's queue, hand and batches; but every
  // frame there sits in one of the client's slots.
  EXPECT_EQ(both[1].frames, 2 + (20 + 1 + 8 + 4));
  ASSERT_TRUE(both[1].frames_limit);
  EXPECT_EQ(*both[1].frames_limit, 6);
  EXPECT_EQ(both[1].Frames(10), 6);
  EXPECT_EQ(both[1].frame_bytes, 15000u);  // the size the clients' process makes
  EXPECT_FALSE(both[1].size_assumed);
  EXPECT_EQ(both[1].Bytes(10), 0u);  // its frames are the client's slots, counted there
  EXPECT_TRUE(both[1].warnings.empty());  // 6 slots fill a batch of 4

  // Checked alone, the server's clients are unknown: the size is assumed and nothing bounds it.
  const ConfigCapacity alone = Capacity({&receiver})[0];
  EXPECT_TRUE(alone.size_assumed);
  EXPECT_EQ(alone.frame_bytes, 1920u * 1080u * 3u);
  EXPECT_FALSE(alone.frames_limit);
  EXPECT_TRUE(alone.warnings.empty());
}

TEST(Capacity, AChainOfProcessesHasTheFirstOnesFrameSizeInAnyOrder) {
  const auto [first, unused] = SplitPipeline(/*slots=*/6, /*batch=*/1);
  (void)unused;
  const GraphConfig middle = Parse(R"({
    "in": {"class_name": "ModuleIPC", "next_modules": ["out"], "custom_params": {"ipc_type": "server", "socket_address": "capacity_test"}},
    "out": {"class_name": "ModuleIPC", "custom_params": {"ipc_type": "client", "socket_address": "capacity_next", "max_cachedframe_size": 3}}})",
                                   "middle.json");
  const GraphConfig last = Parse(R"({
    "in": {"class_name": "ModuleIPC", "next_modules": ["sink"], "custom_params": {"ipc_type": "server", "socket_address": "capacity_next"}},
    "sink": {"class_name": "ResultSink"}})",
                                 "last.json");
  const auto chain = Capacity({&last, &middle, &first});
  for (const auto& c : chain) EXPECT_EQ(c.frame_bytes, 15000u) << c.origin;
  EXPECT_EQ(chain[1].shared_memory_bytes, 3u * 15000u);  // the middle process's own client
  ASSERT_TRUE(chain[0].frames_limit);
  EXPECT_EQ(*chain[0].frames_limit, 3);
}

TEST(Capacity, ABatchLargerThanTheClientsSlotsStarves) {
  const auto [sender, receiver] = SplitPipeline(/*slots=*/2, /*batch=*/4);
  const auto both = Capacity({&sender, &receiver});
  EXPECT_TRUE(both[0].warnings.empty());
  ASSERT_EQ(both[1].warnings.size(), 1u);
  const std::string& warning = both[1].warnings[0];
  EXPECT_NE(warning.find("module 'infer' (Inferencer) waits for 4 frames (its batch_size) before it works on them, "
                         "but at most 2 can be in this process at once"),
            std::string::npos)
      << warning;
  EXPECT_NE(warning.find("'ipc' in sender.json (max_cachedframe_size 2)"), std::string::npos) << warning;
  EXPECT_NE(warning.find("waits its whole timeout (20 ms)"), std::string::npos) << warning;
  EXPECT_NE(warning.find("starves"), std::string::npos) << warning;

  // A batching_timeout of 0 never waits: nothing to warn about.
  GraphConfig eager = receiver;
  ASSERT_TRUE(eager.Set("infer.batching_timeout=0"));
  EXPECT_TRUE(Capacity({&sender, &eager})[1].warnings.empty());
}

TEST(Capacity, AWindowWithoutTimeoutBehindTooFewSlotsDeadlocks) {
  const auto [sender, unused] = SplitPipeline(/*slots=*/2, /*batch=*/1);
  (void)unused;
  const GraphConfig receiver = Parse(R"({
    "ipc": {"class_name": "ModuleIPC", "next_modules": ["w"],
            "custom_params": {"ipc_type": "server", "socket_address": "capacity_test"}},
    "w": {"class_name": "HoldsAWindow", "custom_params": {"window": 5}}})",
                                     "window.json");
  const auto both = Capacity({&sender, &receiver});
  ASSERT_EQ(both[1].warnings.size(), 1u);
  EXPECT_NE(both[1].warnings[0].find("waits for 5 frames (its window)"), std::string::npos) << both[1].warnings[0];
  EXPECT_NE(both[1].warnings[0].find("a deadlock"), std::string::npos) << both[1].warnings[0];
  // Fed by a source of its own, the window fills: no warning.
  const GraphConfig local = Parse(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["w"]},
    "w": {"class_name": "HoldsAWindow", "custom_params": {"window": 5}}})",
                                  "local.json");
  EXPECT_TRUE(Capacity({&local})[0].warnings.empty());
}

TEST(Capacity, AnInvalidConfigIsItsValidationError) {
  const GraphConfig config = Parse(R"({"src": {"class_name": "SyntheticSource", "next_modules": ["nope"]}})", "bad");
  std::vector<ConfigCapacity> out;
  const Status s = ComputeCapacity({&config}, {}, &out);
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("next_modules names 'nope'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
