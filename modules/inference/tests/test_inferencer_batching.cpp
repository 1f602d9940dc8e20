// Batching across streams: order per stream, right results whatever the batch, partial batches
// flushed by the timeout, and infer_interval.
#include "inference_harness.hpp"

namespace vstream {
namespace {

struct Colour {
  uint8_t b, g, r;
  const char* name;
};
const Colour kColours[3] = {{20, 30, 220, "red"}, {30, 200, 40, "green"}, {210, 40, 30, "blue"}};

class ClassifierPipeline {
 public:
  explicit ClassifierPipeline(const std::string& extra, int parallelism = 1) {
    Status s = pipeline.BuildFromString(R"({
        "src": {"class_name": "ManualSource", "next_modules": ["classify"]},
        "classify": {"class_name": "Inferencer", "parallelism": )" +
                                        std::to_string(parallelism) + R"(, "next_modules": ["sink"],
                     "custom_params": {)" + test::ClassifierParams(extra) + R"(}},
        "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
    EXPECT_TRUE(s) << s.message();
    s = pipeline.Start();
    EXPECT_TRUE(s) << s.message();
    source = pipeline.GetModule<test::ManualSource>("src");
    sink = pipeline.GetModule<test::Recorder>("sink");
  }
  Pipeline pipeline;
  test::ManualSource* source = nullptr;
  test::Recorder* sink = nullptr;
};

// The colour of frame i of stream s: it changes every frame, differently per stream.
const Colour& ColourOf(int stream, int64_t frame) { return kColours[(stream + frame) % 3]; }

TEST(InferencerBatching, EightStreamsKeepOrderAndGetTheirOwnResults) {
  ClassifierPipeline p(R"("batch_size": 4, "batching_timeout": 5)", /*parallelism=*/2);
  constexpr int kStreams = 8;
  constexpr int kFrames = 30;
  for (int s = 0; s < kStreams; ++s) ASSERT_TRUE(p.pipeline.AddSource("cam" + std::to_string(s), ""));
  for (int64_t i = 0; i < kFrames; ++i) {
    for (int s = 0; s < kStreams; ++s) {
      const Colour& c = ColourOf(s, i);
      ASSERT_TRUE(p.source->Push(test::SolidFrame("cam" + std::to_string(s), i, c.b, c.g, c.r)));
    }
  }
  for (int s = 0; s < kStreams; ++s) p.source->End("cam" + std::to_string(s), kFrames);
  ASSERT_TRUE(p.pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(p.pipeline.Stop());
  EXPECT_FALSE(p.sink->out_of_order());
  for (int s = 0; s < kStreams; ++s) {
    const auto frames = p.sink->kept("cam" + std::to_string(s));
    ASSERT_EQ(frames.size(), static_cast<size_t>(kFrames));
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->objects.size(), 1u);
      // Each frame got its own result, not a neighbour's in the batch.
      EXPECT_EQ(frame->objects[0].label, ColourOf(s, frame->frame_index).name) << "cam" << s << " #" << frame->frame_index;
    }
  }
}

std::vector<float> Scores(const std::string& extra) {
  ClassifierPipeline p(extra);
  EXPECT_TRUE(p.pipeline.AddSource("cam", ""));
  for (int64_t i = 0; i < 24; ++i) {
    const uint8_t v = static_cast<uint8_t>(i * 10);
    EXPECT_TRUE(p.source->Push(test::SolidFrame("cam", i, v, static_cast<uint8_t>(255 - v), 128)));
  }
  p.source->End("cam", 24);
  EXPECT_TRUE(p.pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(p.pipeline.Stop());
  std::vector<float> scores;
  for (const auto& frame : p.sink->kept("cam")) {
    for (const auto& o : frame->objects) scores.push_back(o.score);
  }
  return scores;
}

TEST(InferencerBatching, BatchSizesOneAndEightAgree) {
  const auto one = Scores(R"("batch_size": 1, "top_k": 3)");
  const auto eight = Scores(R"("batch_size": 8, "batching_timeout": 1000, "top_k": 3)");
  ASSERT_EQ(one.size(), 72u);
  ASSERT_EQ(one.size(), eight.size());
  for (size_t i = 0; i < one.size(); ++i) EXPECT_NEAR(one[i], eight[i], 1e-5) << i;
}

TEST(InferencerBatching, TimeoutFlushesAPartialBatch) {
  // Room for 8, but only one frame ever comes before the stream ends: the timeout must run it.
  ClassifierPipeline p(R"("batch_size": 8, "batching_timeout": 20)");
  ASSERT_TRUE(p.pipeline.AddSource("cam", ""));
  ASSERT_TRUE(p.source->Push(test::SolidFrame("cam", 0, 200, 10, 10)));
  ASSERT_TRUE(p.sink->WaitFrames(1, std::chrono::seconds(30))) << "the partial batch never ran";
  const auto frames = p.sink->kept("cam");
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0]->objects.size(), 1u);
  EXPECT_EQ(frames[0]->objects[0].label, "blue");
  p.source->End("cam", 1);
  ASSERT_TRUE(p.pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(p.pipeline.Stop());
}

TEST(InferencerBatching, EndOfStreamFlushesWithoutWaitingForTheTimeout) {
  ClassifierPipeline p(R"("batch_size": 8, "batching_timeout": 60000)");
  ASSERT_TRUE(p.pipeline.AddSource("cam", ""));
  for (int64_t i = 0; i < 3; ++i) ASSERT_TRUE(p.source->Push(test::SolidFrame("cam", i, 10, 200, 10)));
  p.source->End("cam", 3);
  ASSERT_TRUE(p.pipeline.WaitForStreams(std::chrono::seconds(30))) << "the EOS did not flush the batch";
  EXPECT_TRUE(p.pipeline.Stop());
  EXPECT_EQ(p.sink->kept("cam").size(), 3u);
}

TEST(InferencerBatching, SkippedFramesKeepTheirPlaceInTheStream) {
  // skip_if on a batching module: skipped frames must not overtake the frames waiting in a batch.
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["classify"]},
      "classify": {"class_name": "Inferencer", "skip_if": "every_nth:2", "next_modules": ["sink"],
                   "custom_params": {)" + test::ClassifierParams(R"("batch_size": 4, "batching_timeout": 1000)") + R"(}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  for (int64_t i = 0; i < 20; ++i) ASSERT_TRUE(source->Push(test::SolidFrame("cam", i, 10, 10, 200)));
  source->End("cam", 20);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  auto* sink = pipeline.GetModule<test::Recorder>("sink");
  EXPECT_FALSE(sink->out_of_order());
  const auto frames = sink->kept("cam");
  ASSERT_EQ(frames.size(), 20u);
  for (const auto& frame : frames) {
    // every_nth:2 skips frames 1, 3, 5, ...: they pass through without a result.
    EXPECT_EQ(frame->objects.size(), frame->frame_index % 2 == 1 ? 0u : 1u) << "frame " << frame->frame_index;
  }
  const PipelineStats stats = pipeline.GetStats();
  EXPECT_EQ(stats.modules[1].frames_skipped, 10u);
}

TEST(InferencerBatching, InferIntervalRunsEveryNthFrame) {
  ClassifierPipeline p(R"("infer_interval": 3)");
  ASSERT_TRUE(p.pipeline.AddSource("cam", ""));
  for (int64_t i = 0; i < 10; ++i) ASSERT_TRUE(p.source->Push(test::SolidFrame("cam", i, 10, 10, 200)));
  p.source->End("cam", 10);
  ASSERT_TRUE(p.pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(p.pipeline.Stop());
  const auto frames = p.sink->kept("cam");
  ASSERT_EQ(frames.size(), 10u);  // every frame goes on
  for (const auto& frame : frames) {
    EXPECT_EQ(frame->objects.size(), frame->frame_index % 3 == 0 ? 1u : 0u) << "frame " << frame->frame_index;
  }
}

}  // namespace
}  // namespace vstream
