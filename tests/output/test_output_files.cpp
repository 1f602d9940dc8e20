// Output files of ResultSink and Encoder: they stay in their folder whatever the stream id, never
// write through a symbolic link planted at their path, hold no file open after a stream's end,
// and quote names from outside harmlessly in their errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "media.hpp"
#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t LineCount(const std::string& path) {
  const std::string text = Read(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

size_t OpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ResultSink, PerStreamFilesCloseAtTheirEos) {
  test::ScratchDir dir("sink_fds");
  constexpr int kStreams = 300;
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["results"],
              "custom_params": {"streams": )" + std::to_string(kStreams) + R"(, "frames": 2, "width": 0, "height": 0}},
      "results": {"class_name": "ResultSink", "parallelism": 2,
                  "custom_params": {"path": ")" + dir / "{stream}.jsonl" + R"("}}})"));
  const size_t before = OpenFds();
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  // Every stream has ended and the pipeline still runs: their files are closed already.
  const size_t after = OpenFds();
  EXPECT_LT(after, before + 20) << "files still open after " << kStreams << " streams ended";
  EXPECT_TRUE(pipeline.Stop());
  for (int i = 0; i < kStreams; ++i) {
    EXPECT_EQ(LineCount(dir / ("stream_" + std::to_string(i) + ".jsonl")), 2u) << i;
  }
}

TEST(ResultSink, AStreamIdThatComesBackAppendsToItsFile) {
  test::ScratchDir dir("sink_reuse");
  ModuleRunner runner("ResultSink", {{"path", dir / "{stream}.jsonl"}});
  ASSERT_TRUE(runner.Open());
  ASSERT_TRUE(runner.Push("cam", 0));
  ASSERT_TRUE(runner.PushEos("cam"));
  EXPECT_EQ(LineCount(dir / "cam.jsonl"), 1u);  // closed, so complete on disk
  ASSERT_TRUE(runner.Push("cam", 5));            // the id is used again later in the run
  ASSERT_TRUE(runner.PushEos("cam"));
  EXPECT_EQ(LineCount(dir / "cam.jsonl"), 2u);
}

TEST(ResultSink, StreamIdsCannotLeaveTheFolder) {
  test::ScratchDir dir("sink_escape");
  std::filesystem::create_directories(dir / "out");
  ModuleRunner runner("ResultSink", {{"path", dir / "out/{stream}.jsonl"}});
  ASSERT_TRUE(runner.Open());
  Status s = runner.Push("../escaped", 0);  // a frame a custom module made, not through AddSource
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "invalid stream id '../escaped'")) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "escaped.jsonl"));
  s = runner.Push("evil\n\x1b[2J", 0);
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "stream 'evil\\n\\x1b[2J'")) << s.message();  // escaped in the message
  EXPECT_TRUE(runner.Push("cam", 0));
  EXPECT_TRUE(runner.PushEos("../escaped"));  // an EOS of such an id passes; nothing to close
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "out"), {}), 1);  // cam.jsonl only
}

TEST(ResultSink, ASymbolicLinkAtTheOutputPathIsNotFollowed) {
  test::ScratchDir dir("sink_link");
  std::ofstream(dir / "precious.txt") << "keep me\n";
  std::filesystem::create_directories(dir / "out");
  std::filesystem::create_symlink(dir / "precious.txt", dir / "out/cam.jsonl");
  std::filesystem::create_symlink(dir / "created_through_link.txt", dir / "out/dangling.jsonl");
  ModuleRunner runner("ResultSink", {{"path", dir / "out/{stream}.jsonl"}});
  ASSERT_TRUE(runner.Open());
  Status s = runner.Push("cam", 0);
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "out/cam.jsonl' is a symbolic link")) << s.message();
  EXPECT_FALSE(runner.Push("dangling", 0));
  EXPECT_EQ(Read(dir / "precious.txt"), "keep me\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "created_through_link.txt"));
  for (const char* append : {"false", "true"}) {
    ModuleRunner single("ResultSink", {{"path", dir / "out/cam.jsonl"}, {"append", append}});
    Status opened = single.Open();
    EXPECT_FALSE(opened) << append;
    EXPECT_TRUE(Contains(opened.message(), "is a symbolic link")) << opened.message();
  }
  EXPECT_EQ(Read(dir / "precious.txt"), "keep me\n");
}

TEST(Encoder, ASymbolicLinkAtTheOutputPathIsNotFollowed) {
  test::ScratchDir dir("encoder_link");
  std::ofstream(dir / "precious.txt") << "keep me\n";
  std::filesystem::create_directories(dir / "out/cam");
  std::filesystem::create_symlink(dir / "precious.txt", dir / "out/cam.mp4");
  std::filesystem::create_symlink(dir / "precious.txt", dir / "out/cam/000000.jpg");
  {
    ModuleRunner video("Encoder", {{"path", dir / "out/{stream}.mp4"}});
    ASSERT_TRUE(video.Open());
    Status s = video.Push(test::SolidFrame("cam", 0, 10, 20, 30));
    EXPECT_FALSE(s);
    EXPECT_TRUE(Contains(s.message(), "out/cam.mp4' is a symbolic link")) << s.message();
    // Another stream of the same module writes a playable file through the same custom I/O.
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(video.Push(test::SolidFrame("good", i, 10, 20, 30)));
    ASSERT_TRUE(video.PushEos("good"));
    EXPECT_EQ(test::ProbeFrameCount(dir / "out/good.mp4"), 5);
  }
  {
    ModuleRunner mkv("Encoder", {{"path", dir / "out/{stream}.mkv"}});
    ASSERT_TRUE(mkv.Open());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(mkv.Push(test::SolidFrame("good", i, 10, 20, 30)));
    ASSERT_TRUE(mkv.PushEos("good"));
    EXPECT_EQ(test::ProbeFrameCount(dir / "out/good.mkv"), 5);
  }
  {
    ModuleRunner jpeg("Encoder", {{"path", dir / "out/{stream}/{index}.jpg"}});
    ASSERT_TRUE(jpeg.Open());
    Status s = jpeg.Push(test::SolidFrame("cam", 0, 10, 20, 30));
    EXPECT_FALSE(s);
    EXPECT_TRUE(Contains(s.message(), "out/cam/000000.jpg' is a symbolic link")) << s.message();
    EXPECT_TRUE(jpeg.Push(test::SolidFrame("cam", 1, 10, 20, 30)));  // the next path is a plain file
    EXPECT_GT(std::filesystem::file_size(dir / "out/cam/000001.jpg"), 0u);
  }
  EXPECT_EQ(Read(dir / "precious.txt"), "keep me\n");
}

TEST(Encoder, GopSizeSetsTheKeyFrameInterval) {
  test::ScratchDir dir("encoder_gop");
  auto key_frames = [&](const std::string& name, const ParamValues& extra) {
    ParamValues params = extra;
    params["path"] = dir / "{stream}.mp4";
    params["frame_rate"] = "25";
    ModuleRunner encoder("Encoder", params);
    EXPECT_TRUE(encoder.Open());
    for (int i = 0; i < 30; ++i) EXPECT_TRUE(encoder.Push(test::SolidFrame(name, i, 10, 20, 30)));
    EXPECT_TRUE(encoder.PushEos(name));
    const std::string flags = test::ShellOutput("ffprobe -v error -select_streams v:0 -show_entries frame=key_frame "
                                                "-of csv=p=0 \"" + dir / (name + ".mp4") + "\"");
    return std::count(flags.begin(), flags.end(), '1');
  };
  EXPECT_EQ(key_frames("every5", {{"gop_size", "5"}}), 6);  // frames 0, 5, ... 25
  EXPECT_EQ(key_frames("default", {}), 1);                 // libx264's own interval is longer than 30
}

TEST(Encoder, StreamIdsCannotLeaveTheFolderAndNamesAreEscaped) {
  test::ScratchDir dir("encoder_escape");
  ModuleRunner video("Encoder", {{"path", dir / "out/{stream}.mp4"}});
  ASSERT_TRUE(video.Open());
  Status s = video.Push(test::SolidFrame("../escaped", 0, 10, 20, 30));
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "invalid stream id '../escaped'")) << s.message();
  EXPECT_FALSE(std::filesystem::exists(dir / "escaped.mp4"));
  ModuleRunner jpeg("Encoder", {{"path", dir / "out/{stream}/{index}.jpg"}});
  ASSERT_TRUE(jpeg.Open());
  EXPECT_FALSE(jpeg.Push(test::SolidFrame("..", 0, 10, 20, 30)));
  EXPECT_FALSE(std::filesystem::exists(dir / "000000.jpg"));

  ModuleRunner codec("Encoder", {{"path", dir / "x.mp4"}, {"codec", "bad\x1b[2Jcodec\n"}});
  s = codec.Open();
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "no encoder 'bad\\x1b[2Jcodec\\n'")) << s.message();
  EXPECT_FALSE(Contains(s.message(), "\x1b"));
}

}  // namespace
}  // namespace vstream
