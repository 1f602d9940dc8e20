// DataSource input kinds besides files: image sequences, elementary streams pushed from memory,
// and inputs listed in the config (directly or in a list file).
#include <sys/stat.h>

#include <fstream>

#include "data_source_harness.hpp"
#include "log_capture.hpp"

namespace vstream {
namespace {

using test::Harness;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(DataSourceInputs, ImageSequenceByPatternAndByFolder) {
  test::ScratchDir dir("datasource_images");
  std::filesystem::create_directories(dir.path() / "seq");
  ASSERT_TRUE(test::MakeVideo(dir / "seq/img_%03d.png", "png", 320, 240, 12));
  for (const std::string& uri : {dir / "seq/img_%03d.png", dir / "seq"}) {
    SCOPED_TRACE(uri);
    Harness h;
    ASSERT_TRUE(h.pipeline.AddSource("images", uri));
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->kept("images");
    ASSERT_EQ(frames.size(), 12u);
    test::ExpectFramesShowTheirNumber(frames);  // in name order
    EXPECT_EQ(frames[0]->image.width(), 320);
    EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  }
}

TEST(DataSourceInputs, ImageSequenceByPatternGoesOnPastMissingNumbers) {
  test::ScratchDir dir("datasource_image_gaps");
  std::filesystem::create_directories(dir.path() / "seq");
  ASSERT_TRUE(test::MakeVideo(dir / "seq/img_%03d.png", "png", 160, 120, 9));  // img_001 .. img_009
  // A second sequence that starts at 100 (image2 alone looks for the first file among 0..4) and
  // misses two numbers in a row: frame100, 101, 104, 105.
  std::filesystem::create_directories(dir.path() / "late");
  for (int n : {1, 2, 5, 6}) {
    std::filesystem::copy_file(dir.path() / ("seq/img_00" + std::to_string(n) + ".png"),
                               dir.path() / ("late/frame" + std::to_string(99 + n) + ".png"));
  }
  std::filesystem::remove(dir.path() / "seq/img_005.png");
  test::LogCapture log;
  for (const std::string& uri : {dir / "seq/img_%03d.png", dir / "seq"}) {
    SCOPED_TRACE(uri);
    Harness h;
    ASSERT_TRUE(h.pipeline.AddSource("images", uri));
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->kept("images");
    ASSERT_EQ(frames.size(), 8u);  // all the files there are, in number order
    for (size_t i = 0; i < frames.size(); ++i) {
      const int file_frame = static_cast<int>(i < 4 ? i : i + 1);  // img_005 (frame 4) is missing
      ASSERT_NEAR(test::CenterMean(frames[i]->image), test::BgrOfFrame(file_frame), 4.0) << "frame " << i;
      if (i > 0) {
        ASSERT_GT(frames[i]->pts, frames[i - 1]->pts);
      }
    }
    EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  }
  const auto warned = log.Containing("has no file numbered 5; going on with number 6");
  EXPECT_EQ(warned.size(), 1u) << "the pattern's gap is logged (the folder form has no numbers)";
  {
    Harness h(R"("loop": true)");
    ASSERT_TRUE(h.pipeline.AddSource("late", dir / "late/frame%d.png"));
    ASSERT_TRUE(h.sink->WaitFrames(9));  // two passes over 4 files and one more
    ASSERT_TRUE(h.pipeline.RemoveSource("late"));
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->kept("late");
    ASSERT_GE(frames.size(), 9u);
    const int expected[] = {0, 1, 4, 5};  // frame100, 101, 104, 105
    for (size_t i = 0; i < frames.size(); ++i) {
      ASSERT_NEAR(test::CenterMean(frames[i]->image), test::BgrOfFrame(expected[i % 4]), 4.0) << "frame " << i;
    }
    EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
  }
  EXPECT_FALSE(log.Containing("has no files numbered 102 to 103; going on with number 104").empty());
}

TEST(DataSourceInputs, FifoIsReadAsItComes) {
  test::ScratchDir dir("datasource_fifo");
  ASSERT_TRUE(test::MakeVideo(dir / "clip.ts", "libx264", 160, 120, 20, 25, "-f mpegts"));
  const std::string fifo = dir / "live.ts";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Harness h("", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("fifo", fifo));  // waits for a writer
  ASSERT_EQ(test::Shell("dd bs=64k if=\"" + dir / "clip.ts" + "\" of=\"" + fifo + "\""), 0);
  ASSERT_TRUE(h.Finish(std::chrono::seconds(30)));  // the writer closed it: the stream ends
  EXPECT_EQ(h.sink->frames()["fifo"].size(), 20u);
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

void PushInChunks(DataSource* source, const std::string& id, const std::vector<uint8_t>& bytes, size_t chunk) {
  for (size_t at = 0; at < bytes.size(); at += chunk) {
    ASSERT_TRUE(source->PushBytes(id, bytes.data() + at, std::min(chunk, bytes.size() - at)));
  }
  ASSERT_TRUE(source->EndBytes(id));
}

TEST(DataSourceInputs, ElementaryStreamsPushedFromMemory) {
  test::ScratchDir dir("datasource_memory");
  const std::string h264 = dir / "clip.h264";
  const std::string hevc = dir / "clip.hevc";
  ASSERT_TRUE(test::MakeVideo(h264, "libx264", 352, 288, 40, 25, "-f h264"));
  const bool have_x265 = test::MakeVideo(hevc, "libx265", 352, 288, 40, 25, "-x265-params log-level=error -f hevc");
  Harness h;
  ASSERT_TRUE(h.pipeline.AddSource("h264", "mem://h264"));
  if (have_x265) {
    ASSERT_TRUE(h.pipeline.AddSource("hevc", "mem://hevc"));
  }
  // Odd chunk sizes: the parser must find frame boundaries itself.
  PushInChunks(h.source, "h264", ReadAll(h264), 1000);
  if (have_x265) PushInChunks(h.source, "hevc", ReadAll(hevc), 4093);
  ASSERT_TRUE(h.Finish());
  const auto frames = h.sink->kept("h264");
  ASSERT_EQ(frames.size(), 40u);
  test::ExpectFramesShowTheirNumber(frames);
  if (have_x265) {
    ASSERT_EQ(h.sink->kept("hevc").size(), 40u);
    test::ExpectFramesShowTheirNumber(h.sink->kept("hevc"));
  }
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST(DataSourceInputs, PushBytesNamesItsErrors) {
  test::ScratchDir dir("datasource_push");
  ASSERT_TRUE(test::MakeVideo(dir / "a.mp4", "libx264", 160, 120, 5));
  Harness h;
  ASSERT_TRUE(h.pipeline.AddSource("file", dir / "a.mp4"));
  ASSERT_TRUE(h.pipeline.AddSource("mem", "mem://h264"));
  const uint8_t byte = 0;
  EXPECT_EQ(h.source->PushBytes("nope", &byte, 1).code(), StatusCode::kNotFound);
  Status wrong = h.source->PushBytes("file", &byte, 1);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.message().find("mem://h264"), std::string::npos) << wrong.message();
  ASSERT_TRUE(h.source->EndBytes("mem"));
  EXPECT_EQ(h.source->PushBytes("mem", &byte, 1).code(), StatusCode::kFailedState);
  ASSERT_TRUE(h.Finish());
  // A memory stream that ends without a single frame is reported.
  EXPECT_EQ(h.ErrorsOf("mem").size(), 1u);
}

TEST(DataSourceInputs, InputsParameterAndListFile) {
  test::ScratchDir dir("datasource_inputs");
  ASSERT_TRUE(test::MakeVideo(dir / "a.mp4", "libx264", 160, 120, 7));
  ASSERT_TRUE(test::MakeVideo(dir / "b.avi", "mpeg4", 160, 120, 9));
  {
    // Relative paths resolve against the config's folder; "id=" names a stream.
    Harness h(R"("inputs": ["front=a.mp4", "b.avi"])", false, dir.path().string());
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->frames();
    EXPECT_EQ(frames.at("front").size(), 7u);
    EXPECT_EQ(frames.at("stream_1").size(), 9u);
  }
  {
    std::filesystem::create_directories(dir.path() / "lists");
    std::ofstream(dir / "lists/cams.txt") << "# one input per line\n../a.mp4\n\nback=../b.avi\n";
    Harness h(R"("inputs": "lists/cams.txt")", false, dir.path().string());
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->frames();
    EXPECT_EQ(frames.at("stream_0").size(), 7u);
    EXPECT_EQ(frames.at("back").size(), 9u);
  }
}

TEST(DataSourceInputs, MissingListFileStopsStart) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({"src": {"class_name": "DataSource", "next_modules": ["sink"],
      "custom_params": {"inputs": "missing.txt"}}, "sink": {"class_name": "Recorder"}})",
                                       "/tmp"));
  Status s = pipeline.Start();
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("cannot read the input list '/tmp/missing.txt'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
