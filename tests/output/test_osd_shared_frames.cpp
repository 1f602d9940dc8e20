// Osd on frames that fan-out shares: it draws on a copy of its own (Module::MakeWritable), so the
// modules after it see the drawing and another branch that reads the same frame sees the pixels
// the source made, even while the Osd draws; on a straight chain it draws in place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

constexpr auto kLatchTimeout = std::chrono::seconds(30);

// The pixels a source frame carries: every byte `value` (BGR24, or GRAY8 when `gray`). The value
// and format travel in the frame's user data, so the modules below know what the source made.
FramePtr SourceFrame(const std::string& stream_id, int64_t index, bool gray) {
  const auto value = static_cast<uint8_t>(100 + index % 50);
  FramePtr frame = test::SolidFrame(stream_id, index, value, value, value);
  if (gray) {
    frame->image = VideoFrame::Allocate(64, 48, PixelFormat::kGray8);
    std::memset(frame->image.plane(0), value, frame->image.buffer()->size());
  }
  frame->data.Set("value", static_cast<int>(value));
  frame->data.Set("format", static_cast<int>(frame->image.format()));
  return frame;
}

int SourceValue(const Frame& frame) { return *frame.data.Get<int>("value"); }

// Bytes of plane 0 that differ from `value`.
size_t BytesOtherThan(const VideoFrame& image, int value) {
  size_t count = 0;
  for (int r = 0; r < image.plane_rows(0); ++r) {
    const uint8_t* row = image.plane(0) + static_cast<size_t>(r) * image.stride(0);
    count += static_cast<size_t>(
        std::count_if(row, row + image.plane_row_bytes(0), [&](uint8_t b) { return b != value; }));
  }
  return count;
}

std::string Name(const Frame& frame) { return frame.stream_id + "#" + std::to_string(frame.frame_index); }

// After the Osd: checks that it sees the drawing (BGR24, pixels changed) and records the frames it saw.
class OsdWitness : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    std::string failure;
    if (frame->image.format() != PixelFormat::kBGR24) {
      failure = Name(*frame) + ": the Osd's branch got format " + std::string(PixelFormatName(frame->image.format()));
    } else if (BytesOtherThan(frame->image, SourceValue(*frame)) == 0) {
      failure = Name(*frame) + ": the Osd's branch does not see the drawing";
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure.empty()) failures_.push_back(failure);
    seen_.insert({frame->stream_id, frame->frame_index});
    changed_.notify_all();
    return {};
  }
  /// Waits until this module has seen frame `index` of `stream_id`; false after `timeout`.
  bool WaitSeen(const std::string& stream_id, int64_t index, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return seen_.count({stream_id, index}) != 0; });
  }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_;
  }
  size_t seen() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::pair<std::string, int64_t>> seen_;  // guarded by mutex_
  std::vector<std::string> failures_;               // guarded by mutex_
};
VSTREAM_REGISTER_MODULE(OsdWitness);

// On the other branch: checks that every frame has exactly the source's pixels, once as soon as it
// gets the frame and, with Await(witness), once more after the witness (after the Osd) has seen the
// same frame, so that the Osd has drawn by then. Says when it has started on a frame (WaitEntered).
class PixelReader : public test::Stage {
 public:
  using Stage::Stage;
  void Await(OsdWitness* witness) { witness_ = witness; }
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      entered_.insert({frame->stream_id, frame->frame_index});
      changed_.notify_all();
    }
    std::string failure = Check(*frame);
    if (failure.empty() && witness_ != nullptr) {
      if (!witness_->WaitSeen(frame->stream_id, frame->frame_index, kLatchTimeout)) {
        failure = Name(*frame) + ": the Osd's branch did not get the frame within 30 s";
      } else {
        failure = Check(*frame);
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (!failure.empty()) failures_.push_back(failure);
    ++checked_;
    return {};
  }
  /// Waits until Process has started on frame `index` of `stream_id`; false after `timeout`.
  bool WaitEntered(const std::string& stream_id, int64_t index, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return entered_.count({stream_id, index}) != 0; });
  }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_;
  }
  int checked() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return checked_;
  }

 private:
  static std::string Check(const Frame& frame) {
    const int format = *frame.data.Get<int>("format");
    if (static_cast<int>(frame.image.format()) != format) {
      return Name(frame) + ": the image became " + std::string(PixelFormatName(frame.image.format())) +
             " on a branch that did not ask for it";
    }
    if (size_t changed = BytesOtherThan(frame.image, SourceValue(frame)); changed != 0) {
      return Name(frame) + ": " + std::to_string(changed) +
             " bytes differ from the source's pixels (boxes drawn by another branch)";
    }
    return {};
  }

  OsdWitness* witness_ = nullptr;  // set before Start
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::pair<std::string, int64_t>> entered_;  // guarded by mutex_
  std::vector<std::string> failures_;                  // guarded by mutex_
  int checked_ = 0;                                    // guarded by mutex_
};
VSTREAM_REGISTER_MODULE(PixelReader);

// On the Osd's branch, before it: holds each frame until the reader has started on the same frame,
// so that the Osd works on it while the reader reads it (the reader's reads after it said so are
// ordered with nothing the Osd does).
class HoldForReader : public test::Stage {
 public:
  using Stage::Stage;
  void Follow(PixelReader* reader) { reader_ = reader; }
  Status Process(FramePtr frame) override {
    if (frame->IsEos() || reader_->WaitEntered(frame->stream_id, frame->frame_index, kLatchTimeout)) return {};
    return Fail(Name(*frame) + ": the reader did not start on the frame within 30 s");
  }

 private:
  PixelReader* reader_ = nullptr;  // set before Start
};
VSTREAM_REGISTER_MODULE(HoldForReader);

TEST(OsdOnAFanOut, TheOtherBranchNeverSeesTheDrawing) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["boxes"]},
      "boxes": {"class_name": "BoxMaker", "next_modules": ["osd", "reader"]},
      "osd": {"class_name": "Osd", "next_modules": ["after"], "custom_params": {"show_fps": false}},
      "after": {"class_name": "OsdWitness"},
      "reader": {"class_name": "PixelReader"}})"));
  auto* witness = pipeline.GetModule<OsdWitness>("after");
  auto* reader = pipeline.GetModule<PixelReader>("reader");
  reader->Await(witness);  // the reader looks again once the Osd has drawn on "the same" frame
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  constexpr int kFrames = 6;
  for (int i = 0; i < kFrames; ++i) ASSERT_TRUE(source->Push(SourceFrame("cam", i, /*gray=*/i % 2 == 1)));
  source->End("cam", kFrames);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  EXPECT_TRUE(pipeline.Stop());
  EXPECT_EQ(reader->failures(), std::vector<std::string>{});
  EXPECT_EQ(witness->failures(), std::vector<std::string>{});
  EXPECT_EQ(reader->checked(), kFrames);
  EXPECT_EQ(witness->seen(), static_cast<size_t>(kFrames));
}

// The reader and the Osd work on the same frames at the same time, on several workers and streams.
// Under ThreadSanitizer (scripts/test.sh) an Osd that draws on the shared frame is a data race
// reported on every run: the Osd gets each frame only once the reader has started reading it, and
// nothing orders the reader's reads with the Osd's writes. GRAY8 frames make the race visible to
// it: replacing the image is a write in vstream's code, while OpenCV draws in a library that is
// not instrumented (BGR frames are still checked by value).
TEST(OsdOnAFanOut, DrawsWhileAnotherBranchReadsThePixels) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["boxes"]},
      "boxes": {"class_name": "BoxMaker", "next_modules": ["hold", "reader"]},
      "hold": {"class_name": "HoldForReader", "parallelism": 2, "next_modules": ["osd"]},
      "osd": {"class_name": "Osd", "parallelism": 2, "next_modules": ["after"], "custom_params": {"show_fps": false}},
      "after": {"class_name": "OsdWitness", "parallelism": 2},
      "reader": {"class_name": "PixelReader", "parallelism": 2}})"));
  auto* witness = pipeline.GetModule<OsdWitness>("after");
  auto* reader = pipeline.GetModule<PixelReader>("reader");
  reader->Await(witness);
  pipeline.GetModule<HoldForReader>("hold")->Follow(reader);
  test::EventLog events;
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  const std::vector<std::string> streams = {"a", "b", "c"};
  for (const auto& id : streams) ASSERT_TRUE(pipeline.AddSource(id, ""));
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  constexpr int kFrames = 100;
  for (int i = 0; i < kFrames; ++i) {
    for (const auto& id : streams) ASSERT_TRUE(source->Push(SourceFrame(id, i, /*gray=*/i % 2 == 0)));
  }
  for (const auto& id : streams) source->End(id, kFrames);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  EXPECT_EQ(reader->failures(), std::vector<std::string>{});
  EXPECT_EQ(witness->failures(), std::vector<std::string>{});
  EXPECT_EQ(events.Count(EventType::kFrameError), 0u);
  EXPECT_EQ(reader->checked(), kFrames * 3);
  EXPECT_EQ(witness->seen(), static_cast<size_t>(kFrames * 3));
}

TEST(OsdOnAStraightChain, DrawsInPlace) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["boxes"]},
      "boxes": {"class_name": "BoxMaker", "next_modules": ["osd"]},
      "osd": {"class_name": "Osd", "next_modules": ["out"], "custom_params": {"show_fps": false}},
      "out": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  FramePtr frame = SourceFrame("cam", 0, /*gray=*/false);
  const Buffer* pixels = frame->image.buffer().get();
  ASSERT_TRUE(pipeline.GetModule<test::ManualSource>("src")->Push(frame));
  pipeline.GetModule<test::ManualSource>("src")->End("cam", 1);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const auto out = pipeline.GetModule<test::Recorder>("out")->kept("cam");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], frame);
  EXPECT_EQ(out[0]->image.buffer().get(), pixels) << "the Osd copied pixels no one else has";
  EXPECT_GT(BytesOtherThan(out[0]->image, SourceValue(*out[0])), 0u);
}

TEST(OsdAlone, CopiesPixelsThatAnotherFrameShares) {
  ModuleRunner runner("Osd", {{"show_fps", "false"}});
  ASSERT_TRUE(runner.Open());
  FramePtr frame = SourceFrame("cam", 0, /*gray=*/false);
  DetectedObject object;
  object.box = {0.25f, 0.25f, 0.5f, 0.5f};
  frame->objects.push_back(object);
  FramePtr other = Frame::Create("other", 0);
  other->image = frame->image;  // e.g. a module that kept the image for later
  const Buffer* pixels = frame->image.buffer().get();
  ASSERT_TRUE(runner.Push(frame));
  EXPECT_NE(frame->image.buffer().get(), pixels);
  EXPECT_GT(BytesOtherThan(frame->image, SourceValue(*frame)), 0u);
  EXPECT_EQ(BytesOtherThan(other->image, SourceValue(*frame)), 0u) << "the drawing reached another frame's image";
}

}  // namespace
}  // namespace vstream
