// Per-stream order: with parallel workers and asynchronous modules, each stream's frames reach
// every module in order, and every frame arrives.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {


void ExpectComplete(const test::Recorder& recorder, int streams, int frames) {
  const auto seen = recorder.frames();
  ASSERT_EQ(static_cast<int>(seen.size()), streams);
  for (const auto& [id, indices] : seen) {
    ASSERT_EQ(static_cast<int>(indices.size()), frames) << id;
    for (int i = 0; i < frames; ++i) ASSERT_EQ(indices[i], i) << id;
  }
  EXPECT_FALSE(recorder.out_of_order());
  EXPECT_FALSE(recorder.frame_after_eos());
  for (const auto& [id, count] : recorder.eos()) EXPECT_EQ(count, 1) << id;
}

TEST(PipelineOrder, SixteenStreamsThroughParallelismFour) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(16, 300, R"("a")", R"(
      "a": {"class_name": "Recorder", "parallelism": 4, "max_input_queue_size": 4, "next_modules": ["b"]},
      "b": {"class_name": "Recorder", "parallelism": 4, "max_input_queue_size": 2, "next_modules": ["c"]},
      "c": {"class_name": "Recorder", "parallelism": 4, "max_input_queue_size": 8})",
                                                           /*threads=*/4)));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  for (const char* name : {"a", "b", "c"}) {
    SCOPED_TRACE(name);
    ExpectComplete(*pipeline.GetModule<test::Recorder>(name), 16, 300);
  }
  EXPECT_TRUE(pipeline.Stop());
}

TEST(PipelineOrder, AsynchronousModulesKeepOrder) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(8, 200, R"("relay")", R"(
      "relay": {"class_name": "AsyncRelay", "parallelism": 3, "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "parallelism": 4})",
                                                           /*threads=*/2)));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  ExpectComplete(*pipeline.GetModule<test::Recorder>("sink"), 8, 200);
  EXPECT_TRUE(pipeline.Stop());
}

TEST(PipelineOrder, StreamsAddedThroughTheApi) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ScriptedSource", "next_modules": ["sink"]},
      "sink": {"class_name": "Recorder", "parallelism": 4}})"));
  ASSERT_TRUE(pipeline.Start());
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(pipeline.AddSource("cam" + std::to_string(i), "test://", {{"frames", "100"}}));
  }
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  ExpectComplete(*pipeline.GetModule<test::Recorder>("sink"), 16, 100);
  EXPECT_TRUE(pipeline.Stop());
}

// What a module computes with WorkerFor(stream_id) is the worker the pipeline routes the stream to:
// each index is always the same thread, and each stream always the same index. PerStreamState and
// the Inferencer's per-worker executors rely on it.
class WorkerProbe : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    const size_t worker = WorkerFor(frame->stream_id);
    std::lock_guard<std::mutex> lock(mutex_);
    threads[worker].insert(std::this_thread::get_id());
    workers[frame->stream_id].insert(worker);
    return {};
  }
  std::mutex mutex_;
  std::map<size_t, std::set<std::thread::id>> threads;         // worker index -> threads seen
  std::map<std::string, std::set<size_t>> workers;             // stream -> worker indexes seen
};
VSTREAM_REGISTER_MODULE(WorkerProbe);

TEST(PipelineOrder, WorkerForNamesTheWorkerThatRunsTheStream) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(12, 50, R"("probe")", R"(
      "probe": {"class_name": "WorkerProbe", "parallelism": 3})", /*threads=*/2)));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  auto* probe = pipeline.GetModule<WorkerProbe>("probe");
  ASSERT_EQ(probe->workers.size(), 12u);
  for (const auto& [stream, seen] : probe->workers) EXPECT_EQ(seen.size(), 1u) << stream;
  EXPECT_GE(probe->threads.size(), 2u);  // 12 streams spread over more than one of the 3 workers
  for (const auto& [worker, seen] : probe->threads) {
    EXPECT_LT(worker, 3u);
    EXPECT_EQ(seen.size(), 1u) << "worker " << worker << " ran on several threads";
  }
}

}  // namespace
}  // namespace vstream
