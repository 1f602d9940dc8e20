// Bad inputs: each one ends its own stream with an error event that names the input and the
// cause, then its EOS; the other streams run to the end.
#include <fstream>
#include <random>

#include "data_source_harness.hpp"

namespace vstream {
namespace {

using test::Harness;

void WriteBytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<char> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(DataSourceErrors, EachBadInputGetsItsEventAndTheOthersFinish) {
  test::ScratchDir dir("datasource_errors");
  ASSERT_TRUE(test::MakeVideo(dir / "good.mp4", "libx264", 320, 240, 100));
  ASSERT_TRUE(test::MakeVideo(dir / "good.avi", "mpeg4", 320, 240, 100));
  ASSERT_TRUE(test::MakeVideo(dir / "good.ts", "libx264", 320, 240, 100, 25, "-f mpegts"));

  // Truncated: the first half of a file whose index announces 100 frames.
  for (const char* name : {"good.mp4", "good.avi"}) {
    std::vector<char> bytes = ReadBytes(dir / name);
    bytes.resize(bytes.size() / 2);
    WriteBytes(dir / (std::string("truncated_") + name), bytes);
  }
  // Unsupported codec: an AVI whose fourcc no decoder knows.
  {
    std::vector<char> bytes = ReadBytes(dir / "good.avi");
    for (size_t i = 0; i + 4 <= bytes.size(); ++i) {
      if (std::string(&bytes[i], 4) == "FMP4") std::copy_n("ZZZZ", 4, &bytes[i]);
    }
    WriteBytes(dir / "unknown_codec.avi", bytes);
  }
  // Not a video at all.
  {
    std::vector<char> bytes(40000);
    std::mt19937 random(1);
    for (char& b : bytes) b = static_cast<char>(random());
    WriteBytes(dir / "garbage.mp4", bytes);
  }
  // Audio only.
  ASSERT_EQ(test::Shell("ffmpeg -nostdin -v error -y -f lavfi -i sine=d=1 \"" + dir / "audio.wav" + "\""), 0);
  // Corrupt data: random bytes in the payload of the middle half of a transport stream's packets
  // (their headers stay intact, so the demuxer keeps going and the decoder gets the garbage).
  {
    std::vector<char> bytes = ReadBytes(dir / "good.ts");
    std::mt19937 random(7);
    const size_t packets = bytes.size() / 188;
    for (size_t p = packets / 4; p < packets * 3 / 4; ++p) {
      for (size_t i = p * 188 + 4; i < (p + 1) * 188; ++i) bytes[i] = static_cast<char>(random());
    }
    WriteBytes(dir / "corrupt.ts", bytes);
  }

  struct Bad {
    std::string id;
    std::string file;
    std::string cause;  // part of the expected message
  };
  const std::vector<Bad> bad = {
      {"missing", dir / "missing.mp4", "no such file"},
      {"truncated_mp4", dir / "truncated_good.mp4", ""},  // a read error or a short index, both name the file
      {"truncated_avi", dir / "truncated_good.avi", "of the 100 frames its index announces"},
      {"unknown_codec", dir / "unknown_codec.avi", "unsupported video codec"},
      {"garbage", dir / "garbage.mp4", "Invalid data found when processing input"},
      {"audio", dir / "audio.wav", "no video stream"},
      {"corrupt", dir / "corrupt.ts", "corrupt data in"},
  };
  Harness h("", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("good_mp4", dir / "good.mp4"));
  for (const auto& b : bad) ASSERT_TRUE(h.pipeline.AddSource(b.id, b.file)) << b.id;
  ASSERT_TRUE(h.pipeline.AddSource("good_avi", dir / "good.avi"));
  ASSERT_TRUE(h.Finish());

  for (const auto& b : bad) {
    SCOPED_TRACE(b.id);
    const auto errors = h.ErrorsOf(b.id);
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find(b.file), std::string::npos) << errors[0];  // names the input
    EXPECT_NE(errors[0].find(b.cause), std::string::npos) << errors[0];  // and the cause
  }
  // Every stream ended with its EOS; the good ones delivered every frame.
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), bad.size() + 2);
  const auto frames = h.sink->frames();
  EXPECT_EQ(frames.at("good_mp4").size(), 100u);
  EXPECT_EQ(frames.at("good_avi").size(), 100u);
  EXPECT_LT(frames.at("corrupt").size(), 100u);
  EXPECT_FALSE(h.sink->out_of_order());
  EXPECT_EQ(h.ErrorsOf("good_mp4").size(), 0u);
}

TEST(DataSourceErrors, TooManyDecodeErrorsInARowEndTheStream) {
  test::ScratchDir dir("datasource_decode_errors");
  // A detailed clip (so that there is plenty of coded data), then noise over all of it but the
  // first kilobyte.
  ASSERT_EQ(test::Shell("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=320x240:rate=25 -frames:v 50 "
                        "-c:v libx264 -pix_fmt yuv420p -f h264 \"" + dir / "clip.h264" + "\""),
            0);
  std::vector<char> bytes = ReadBytes(dir / "clip.h264");
  std::mt19937 random(3);
  for (size_t i = 1024; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(random());
    if (i % 997 == 0 && i + 4 < bytes.size()) {  // start codes, so the parser cuts many packets
      bytes[i] = 0;
      bytes[i + 1] = 0;
      bytes[i + 2] = 1;
      bytes[i + 3] = 0x65;
      i += 3;
    }
  }
  WriteBytes(dir / "noise.h264", bytes);
  Harness h(R"("max_decode_errors": 3)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("noise", dir / "noise.h264"));
  ASSERT_TRUE(h.Finish());
  const auto errors = h.ErrorsOf("noise");
  ASSERT_EQ(errors.size(), 1u);
  // Either the decoder rejected 3 packets in a row, or it swallowed the noise and frames went missing.
  const bool named = errors[0].find("packets in a row were rejected") != std::string::npos ||
                     errors[0].find("could not be decoded") != std::string::npos;
  EXPECT_TRUE(named) << errors[0];
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
}

}  // namespace
}  // namespace vstream
