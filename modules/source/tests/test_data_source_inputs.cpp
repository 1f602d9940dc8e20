// DataSource input kinds besides files: image sequences, elementary streams pushed from memory,
// and inputs listed in the config (directly or in a list file).
#include <fstream>

#include "data_source_harness.hpp"

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
