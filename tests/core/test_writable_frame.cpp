// Writable frames: Module::MakeWritable gives a module that writes pixels a frame of its own where
// another branch has the same frame (a branch copy), copies pixels that another image shares or that
// may not be written, and copies nothing on a straight chain. The pipeline works out from the graph
// which modules share frames (frame_sharing.hpp) and forwards a module's branch copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "frame_sharing.hpp"
#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Fills plane 0 of every frame with `value` after MakeWritable. With "replace": true it reads the
// image after MakeWritable(kReplaceImage) and then assigns a new one (a conversion would). Records
// the buffer it saw after MakeWritable.
class Painter : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"paints frames for tests",
            {ParamSpec::Int("value", 200, "byte written to every pixel").Range(0, 255),
             ParamSpec::Bool("replace", false, "assign a new image instead of writing in place")}};
  }
  Status Open(const ModuleParams& params) override {
    value_ = static_cast<uint8_t>(params.GetInt("value"));
    replace_ = params.GetBool("replace");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (Status s = MakeWritable(frame, replace_ ? ImageAccess::kReplaceImage : ImageAccess::kWritePixels); !s) {
      return s;
    }
    if (frame->IsEos() || frame->image.empty()) return {};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      buffers_seen_.push_back(frame->image.buffer().get());
    }
    if (replace_) {
      VideoFrame image = VideoFrame::Allocate(frame->image.width(), frame->image.height(), frame->image.format());
      frame->image = image;
    }
    std::memset(frame->image.plane(0), value_, frame->image.buffer()->size() - frame->image.offset(0));
    return {};
  }
  std::vector<const Buffer*> buffers_seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return buffers_seen_;
  }

 private:
  uint8_t value_ = 200;
  bool replace_ = false;
  mutable std::mutex mutex_;
  std::vector<const Buffer*> buffers_seen_;  // guarded by mutex_
};
VSTREAM_REGISTER_MODULE(Painter);

// As Painter, but forwards frames itself (from Process): it must Transmit the branch copy.
class SelfForwardingPainter : public test::Stage {
 public:
  using Stage::Stage;
  Forwarding forwarding() const override { return Forwarding::kByModule; }
  Status Process(FramePtr frame) override {
    if (Status s = MakeWritable(frame); !s) return s;
    if (!frame->IsEos() && !frame->image.empty()) {
      std::memset(frame->image.plane(0), 7, frame->image.buffer()->size() - frame->image.offset(0));
    }
    if (!Transmit(std::move(frame)) && !PipelineStopping()) return Fail("could not pass the frame on");
    return {};
  }
};
VSTREAM_REGISTER_MODULE(SelfForwardingPainter);

bool AllBytes(const VideoFrame& image, uint8_t value) {
  for (int r = 0; r < image.plane_rows(0); ++r) {
    const uint8_t* row = image.plane(0) + static_cast<size_t>(r) * image.stride(0);
    if (!std::all_of(row, row + image.plane_row_bytes(0), [&](uint8_t b) { return b == value; })) return false;
  }
  return true;
}

FramePtr GrayFrame(const std::string& stream_id, int64_t index, uint8_t value) {
  FramePtr frame = Frame::Create(stream_id, index);
  frame->image = VideoFrame::Allocate(32, 24, PixelFormat::kGray8);
  std::memset(frame->image.plane(0), value, frame->image.buffer()->size());
  return frame;
}

// --- Which modules share frames: the graph's shapes ---------------------------------------------

using detail::AnalyzeFrameSharing;

TEST(FrameSharing, AStraightChainSharesNothing) {
  const auto sharing = AnalyzeFrameSharing({{1}, {2}, {}}, {"src", "a", "b"});
  for (const auto& module : sharing.modules) {
    for (bool shared : module.shared) EXPECT_FALSE(shared);
    EXPECT_TRUE(module.copy_refused.empty());
  }
}

TEST(FrameSharing, AForkMakesItsBranchesShare) {
  // src -> {a, b}; a -> c
  const auto sharing = AnalyzeFrameSharing({{1, 2}, {3}, {}, {}}, {"src", "a", "b", "c"});
  EXPECT_FALSE(sharing.modules[0].shared[0]);
  EXPECT_TRUE(sharing.modules[1].shared[0]);
  EXPECT_TRUE(sharing.modules[2].shared[0]);
  EXPECT_TRUE(sharing.modules[3].shared[0]) << "c runs while b may still have the frame";
  // A copy made by a goes only below a: c has it alone.
  EXPECT_FALSE(sharing.modules[3].shared[1]);
  EXPECT_FALSE(sharing.modules[1].shared[1]);
}

TEST(FrameSharing, AJoinOfEveryBranchHasTheFrameAlone) {
  // src -> {a, b} -> j -> c
  const auto sharing = AnalyzeFrameSharing({{1, 2}, {3}, {3}, {4}, {}}, {"src", "a", "b", "j", "c"});
  EXPECT_TRUE(sharing.modules[1].shared[0]);
  EXPECT_TRUE(sharing.modules[2].shared[0]);
  EXPECT_FALSE(sharing.modules[3].shared[0]);
  EXPECT_FALSE(sharing.modules[4].shared[0]);
  EXPECT_TRUE(sharing.modules[3].copy_refused.empty());
}

TEST(FrameSharing, AJoinSharesWhenABranchAlsoGoesOnElsewhere) {
  // src -> {a, b}; a -> j; b -> {j, d}
  const auto sharing = AnalyzeFrameSharing({{1, 2}, {3}, {3, 4}, {}, {}}, {"src", "a", "b", "j", "d"});
  EXPECT_TRUE(sharing.modules[3].shared[0]) << "d may have the frame while j does";
  EXPECT_TRUE(sharing.modules[4].shared[0]);
}

TEST(FrameSharing, TwoSourcesAreJudgedApart) {
  // s1 -> j; s2 -> {j, x}: frames of s1 reach j alone; frames of s2 reach x too.
  const auto sharing = AnalyzeFrameSharing({{2}, {2, 3}, {}, {}}, {"s1", "s2", "j", "x"});
  EXPECT_FALSE(sharing.modules[2].shared[0]);
  EXPECT_TRUE(sharing.modules[2].shared[1]);
  EXPECT_FALSE(sharing.modules[2].shared[3]) << "x is no origin of j's frames";
}

TEST(FrameSharing, ACopyCannotGoOnToAJoinThatWaitsForTheOriginal) {
  // src -> {a, b} -> j: a's copy would reach j from a, the original from b.
  const auto sharing = AnalyzeFrameSharing({{1, 2}, {3}, {3}, {}}, {"src", "a", "b", "j"});
  ASSERT_EQ(sharing.modules[1].copy_refused.count(0), 1u);
  const std::string& why = sharing.modules[1].copy_refused.at(0);
  EXPECT_NE(why.find("'j'"), std::string::npos) << why;
  EXPECT_NE(why.find("'b'"), std::string::npos) << why;
  EXPECT_NE(why.find("Move 'a' below 'j'"), std::string::npos) << why;
  EXPECT_EQ(sharing.modules[2].copy_refused.count(0), 1u);
  EXPECT_TRUE(sharing.modules[3].copy_refused.empty());
}

TEST(FrameSharing, ACopyGoesOnToAJoinThatEveryPathReachesThroughTheCopier) {
  // src -> {a, d}; a -> {b, c} -> j: a copy made by a reaches j from both b and c.
  const auto sharing =
      AnalyzeFrameSharing({{1, 5}, {2, 3}, {4}, {4}, {}, {}}, {"src", "a", "b", "c", "j", "d"});
  EXPECT_TRUE(sharing.modules[1].shared[0]);
  EXPECT_TRUE(sharing.modules[1].copy_refused.empty());
  EXPECT_EQ(sharing.modules[2].copy_refused.count(0), 1u) << "b's copy would reach j, but c's frame too";
}

TEST(FrameSharing, AJoinOfTwoSourcesWaitsOnlyForTheParentsASourceReaches) {
  // s1 -> a -> j; s2 -> {j, x}: j waits for a alone for frames of s1, so a's copy goes on.
  const auto sharing = AnalyzeFrameSharing({{2}, {3, 4}, {3}, {}, {}}, {"s1", "s2", "a", "j", "x"});
  EXPECT_TRUE(sharing.modules[2].copy_refused.empty());
}

// --- MakeWritable on a module run alone -----------------------------------------------------------

TEST(MakeWritable, AFrameOfItsOwnIsWrittenInPlace) {
  ModuleRunner runner(std::make_unique<Painter>("paint"), {}, Painter::Describe());
  ASSERT_TRUE(runner.Open());
  FramePtr frame = GrayFrame("cam", 0, 10);
  const Buffer* before = frame->image.buffer().get();
  ASSERT_TRUE(runner.Push(frame));
  const auto out = runner.Output("cam");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], frame) << "no branch copy without a fan-out";
  EXPECT_EQ(out[0]->image.buffer().get(), before) << "no pixel copy";
  EXPECT_TRUE(AllBytes(out[0]->image, 200));
}

TEST(MakeWritable, PixelsThatAnotherFrameSharesAreCopied) {
  ModuleRunner runner(std::make_unique<Painter>("paint"), {}, Painter::Describe());
  ASSERT_TRUE(runner.Open());
  FramePtr frame = GrayFrame("cam", 0, 10);
  FramePtr other = Frame::Create("other", 0);
  other->image = frame->image;  // the same Buffer
  const Buffer* shared = frame->image.buffer().get();
  ASSERT_TRUE(runner.Push(frame));
  EXPECT_NE(frame->image.buffer().get(), shared);
  EXPECT_TRUE(AllBytes(frame->image, 200));
  EXPECT_EQ(other->image.buffer().get(), shared);
  EXPECT_TRUE(AllBytes(other->image, 10)) << "the other frame's pixels changed";
  EXPECT_EQ(frame->image.format(), PixelFormat::kGray8);
}

TEST(MakeWritable, ReadOnlyMemoryIsCopied) {
  std::vector<uint8_t> memory(32 * 24, 10);
  FramePtr frame = Frame::Create("cam", 0);
  ASSERT_TRUE(VideoFrame::Wrap(Buffer::WrapReadOnly(memory.data(), memory.size(), {}), 32, 24, PixelFormat::kGray8,
                               {0, 0}, {0, 0}, &frame->image));
  EXPECT_FALSE(frame->image.buffer()->writable());
  ModuleRunner runner(std::make_unique<Painter>("paint"), {}, Painter::Describe());
  ASSERT_TRUE(runner.Open());
  ASSERT_TRUE(runner.Push(frame));
  EXPECT_TRUE(frame->image.buffer()->writable());
  EXPECT_TRUE(AllBytes(frame->image, 200));
  EXPECT_TRUE(std::all_of(memory.begin(), memory.end(), [](uint8_t b) { return b == 10; }));
}

TEST(MakeWritable, ASharedFrameBecomesABranchCopy) {
  ModuleRunnerOptions options;
  options.frames_shared = true;
  ModuleRunner runner(std::make_unique<Painter>("paint"), {}, Painter::Describe(), options);
  ASSERT_TRUE(runner.Open());
  FramePtr frame = GrayFrame("cam", 4, 10);
  frame->pts = 1234;
  frame->time_base = {1, 90000};
  frame->SetFlag(kFrameSkipped);
  DetectedObject object;
  object.label = "thing";
  object.track_id = 3;
  frame->objects.push_back(object);
  frame->data.Set("note", std::string("kept"));
  bool original_destroyed = false;
  frame->OnDestroy([&] { original_destroyed = true; });
  const Buffer* original_pixels = frame->image.buffer().get();

  ASSERT_TRUE(runner.Push(frame));
  auto out = runner.Output("cam");
  ASSERT_EQ(out.size(), 1u);
  FramePtr copy = out[0];
  EXPECT_NE(copy, frame) << "the module forwarded the frame another branch has";
  EXPECT_EQ(copy->stream_id, "cam");
  EXPECT_EQ(copy->frame_index, 4);
  EXPECT_EQ(copy->pts, 1234);
  EXPECT_EQ(copy->time_base.den, 90000);
  EXPECT_TRUE(copy->HasFlag(kFrameSkipped));
  EXPECT_EQ(copy->created, frame->created);
  ASSERT_EQ(copy->objects.size(), 1u);
  EXPECT_EQ(copy->objects[0].track_id, 3);
  ASSERT_NE(copy->data.Get<std::string>("note"), nullptr);
  EXPECT_EQ(*copy->data.Get<std::string>("note"), "kept");
  EXPECT_TRUE(AllBytes(copy->image, 200));
  EXPECT_NE(copy->image.buffer().get(), original_pixels);
  // What the other branch sees: unchanged.
  EXPECT_EQ(frame->image.buffer().get(), original_pixels);
  EXPECT_TRUE(AllBytes(frame->image, 10));
  // The copy's objects are its own.
  copy->objects.clear();
  EXPECT_EQ(frame->objects.size(), 1u);
  // The copy keeps the original alive: a source's OnDestroy hook still means "every branch is done".
  frame.reset();
  out.clear();
  EXPECT_FALSE(original_destroyed);
  runner.ClearOutput();
  runner.Close();
  EXPECT_FALSE(original_destroyed) << "`copy` still holds it";
  copy.reset();
  EXPECT_TRUE(original_destroyed);
}

TEST(MakeWritable, ACopyForANewImageSharesThePixelsItOnlyReads) {
  ModuleRunnerOptions options;
  options.frames_shared = true;
  ModuleRunner runner(std::make_unique<Painter>("paint"), {{"replace", "true"}}, Painter::Describe(), options);
  ASSERT_TRUE(runner.Open());
  FramePtr frame = GrayFrame("cam", 0, 10);
  const Buffer* original_pixels = frame->image.buffer().get();
  ASSERT_TRUE(runner.Push(frame));
  const auto out = runner.Output("cam");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0], frame);
  EXPECT_EQ(runner.module_as<Painter>()->buffers_seen(), std::vector<const Buffer*>{original_pixels})
      << "no pixel copy before a new image replaces them";
  EXPECT_TRUE(AllBytes(out[0]->image, 200));
  EXPECT_TRUE(AllBytes(frame->image, 10));
}

TEST(MakeWritable, EndsOfStreamAndFramesWithoutAnImageAreLeftAlone) {
  ModuleRunnerOptions options;
  options.frames_shared = true;
  ModuleRunner runner(std::make_unique<Painter>("paint"), {}, Painter::Describe(), options);
  ASSERT_TRUE(runner.Open());
  FramePtr imageless = Frame::Create("cam", 0);
  ASSERT_TRUE(runner.Push(imageless));
  ASSERT_TRUE(runner.PushEos("cam"));
  const auto out = runner.Output("cam");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], imageless);
  EXPECT_TRUE(out[1]->IsEos());
}

// --- In a pipeline --------------------------------------------------------------------------------

struct PushedRun {
  std::vector<FramePtr> pushed;
  test::EventLog events;
};

// Pushes `frames` grey frames (value 10) of stream "cam" through `config` (a ManualSource named
// "src") and waits for the stream to end.
void PushThrough(Pipeline& pipeline, PushedRun& run, int frames) {
  pipeline.SetObserver(run.events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  for (int i = 0; i < frames; ++i) {
    run.pushed.push_back(GrayFrame("cam", i, 10));
    ASSERT_TRUE(source->Push(run.pushed.back()));
  }
  source->End("cam", frames);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  ASSERT_TRUE(pipeline.Stop());
}

TEST(MakeWritableInAPipeline, TheBranchThatWritesGetsACopyAndTheOtherKeepsTheOriginal) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["paint", "plain"]},
      "paint": {"class_name": "Painter", "next_modules": ["painted"]},
      "painted": {"class_name": "Recorder", "custom_params": {"keep": true}},
      "plain": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  PushedRun run;
  PushThrough(pipeline, run, 5);
  const auto painted = pipeline.GetModule<test::Recorder>("painted")->kept("cam");
  const auto plain = pipeline.GetModule<test::Recorder>("plain")->kept("cam");
  ASSERT_EQ(painted.size(), 5u);
  ASSERT_EQ(plain.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(plain[i], run.pushed[i]);
    EXPECT_TRUE(AllBytes(plain[i]->image, 10)) << "frame " << i << ": the other branch sees the painting";
    EXPECT_NE(painted[i], run.pushed[i]);
    EXPECT_EQ(painted[i]->frame_index, static_cast<int64_t>(i));
    EXPECT_TRUE(AllBytes(painted[i]->image, 200)) << "frame " << i;
  }
  EXPECT_EQ(run.events.Count(EventType::kFrameError), 0u);
  for (const auto& stream : pipeline.GetStats().streams) EXPECT_EQ(stream.frames_completed, 10u) << "two leaves";
}

TEST(MakeWritableInAPipeline, AModuleThatForwardsItselfTransmitsItsCopy) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["paint", "plain"]},
      "paint": {"class_name": "SelfForwardingPainter", "next_modules": ["painted"]},
      "painted": {"class_name": "Recorder", "custom_params": {"keep": true}},
      "plain": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  PushedRun run;
  PushThrough(pipeline, run, 3);
  const auto painted = pipeline.GetModule<test::Recorder>("painted")->kept("cam");
  const auto plain = pipeline.GetModule<test::Recorder>("plain")->kept("cam");
  ASSERT_EQ(painted.size(), 3u);
  ASSERT_EQ(plain.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(AllBytes(plain[i]->image, 10)) << "frame " << i;
    EXPECT_TRUE(AllBytes(painted[i]->image, 7)) << "frame " << i;
  }
}

TEST(MakeWritableInAPipeline, AStraightChainWritesInPlace) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["paint"]},
      "paint": {"class_name": "Painter", "next_modules": ["out"]},
      "out": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  PushedRun run;
  PushThrough(pipeline, run, 3);
  const auto out = pipeline.GetModule<test::Recorder>("out")->kept("cam");
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i], run.pushed[i]);
    EXPECT_EQ(pipeline.GetModule<Painter>("paint")->buffers_seen()[i], out[i]->image.buffer().get())
        << "frame " << i << ": the pixels were copied";
    EXPECT_TRUE(AllBytes(out[i]->image, 200));
  }
}

TEST(MakeWritableInAPipeline, AJoinOfEveryBranchWritesInPlace) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["a", "b"]},
      "a": {"class_name": "Recorder", "next_modules": ["paint"]},
      "b": {"class_name": "Recorder", "next_modules": ["paint"]},
      "paint": {"class_name": "Painter", "next_modules": ["out"]},
      "out": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  PushedRun run;
  PushThrough(pipeline, run, 3);
  const auto out = pipeline.GetModule<test::Recorder>("out")->kept("cam");
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out[i], run.pushed[i]);
    EXPECT_EQ(out[i]->image.buffer().get(), pipeline.GetModule<Painter>("paint")->buffers_seen()[i]);
    EXPECT_TRUE(AllBytes(out[i]->image, 200));
  }
}

TEST(MakeWritableInAPipeline, ACopyThatAJoinWouldWaitForIsAFrameErrorThatSaysWhatToMove) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["paint", "plain"]},
      "paint": {"class_name": "Painter", "next_modules": ["join"]},
      "plain": {"class_name": "Recorder", "next_modules": ["join"]},
      "join": {"class_name": "Recorder"}})"));
  PushedRun run;
  PushThrough(pipeline, run, 2);  // the EOS still ends the stream
  const auto errors = run.events.Of(EventType::kFrameError);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].module, "paint");
  EXPECT_NE(errors[0].message.find("cannot go on to 'join'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("Move 'paint' below 'join'"), std::string::npos) << errors[0].message;
  EXPECT_TRUE(AllBytes(run.pushed[0]->image, 10)) << "nothing was painted on the shared frame";
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("join")->total(), 0u);
}

}  // namespace
}  // namespace vstream
