// Bad inputs: each one ends its own stream with an error event that names the input and the
// cause, then its EOS; the other streams run to the end.
#include <sys/resource.h>
#include <zlib.h>

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

// A black 8-bit greyscale PNG of width x height, written row by row: all zeros deflate about
// several hundred to one, so 15000x15000 (225 MB decoded, 675 MB as BGR) takes well under 1 MB.
bool WriteBlackPng(const std::string& path, uint32_t width, uint32_t height) {
  std::ofstream out(path, std::ios::binary);
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(type.data()), static_cast<uInt>(type.size()));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    out << be32(static_cast<uint32_t>(data.size())) << type << data << be32(static_cast<uint32_t>(crc));
  };
  out << "\x89PNG\r\n\x1a\n";
  chunk("IHDR", be32(width) + be32(height) + std::string{8, 0, 0, 0, 0});  // 8 bits, grey, no interlace
  z_stream z{};
  if (deflateInit(&z, Z_BEST_SPEED) != Z_OK) return false;
  const std::vector<Bytef> row(width + 1, 0);  // filter byte 0, then black pixels
  std::string compressed;
  std::vector<Bytef> buffer(1 << 16);
  for (uint32_t y = 0; y <= height; ++y) {
    const bool last = y == height;
    z.next_in = last ? nullptr : const_cast<Bytef*>(row.data());
    z.avail_in = last ? 0 : static_cast<uInt>(row.size());
    do {
      z.next_out = buffer.data();
      z.avail_out = static_cast<uInt>(buffer.size());
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      compressed.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  chunk("IDAT", compressed);
  chunk("IEND", "");
  return static_cast<bool>(out);
}

int64_t PeakRssMb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;
}

TEST(DataSourceErrors, FramesAboveMaxFramePixelsEndTheStreamBeforeDecoding) {
  test::ScratchDir dir("datasource_max_pixels");
  // 15000x15000: a few hundred KB of PNG that decodes to 225 MB, or 675 MB as BGR.
  ASSERT_TRUE(WriteBlackPng(dir / "huge.png", 15000, 15000));
  ASSERT_LT(std::filesystem::file_size(dir / "huge.png"), 1u << 20);
  ASSERT_TRUE(test::MakeVideo(dir / "good.mp4", "libx264", 320, 240, 30));
  [[maybe_unused]] const int64_t rss_before = PeakRssMb();  // (compared only without sanitizers)
  {
    Harness h("", /*keep_frames=*/false);  // the default max_frame_pixels: 8192x8192
    ASSERT_TRUE(h.pipeline.AddSource("huge", dir / "huge.png"));
    ASSERT_TRUE(h.pipeline.AddSource("good", dir / "good.mp4"));
    ASSERT_TRUE(h.Finish());
    const auto errors = h.ErrorsOf("huge");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].find("max_frame_pixels"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find("15000x15000"), std::string::npos) << errors[0];
    EXPECT_NE(errors[0].find(dir / "huge.png"), std::string::npos) << errors[0];
    EXPECT_EQ(h.sink->frames()["huge"].size(), 0u);
    EXPECT_EQ(h.sink->frames()["good"].size(), 30u);  // the other stream goes on
    EXPECT_EQ(h.ErrorsOf("good").size(), 0u);
    EXPECT_EQ(h.events.Count(EventType::kStreamEos), 2u);
  }
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Not even FFmpeg's probing decoded it: no allocation anywhere near 225 MB.
  EXPECT_LT(PeakRssMb() - rss_before, 150) << "peak RSS went from " << rss_before << " MB to " << PeakRssMb() << " MB";
#endif
}

TEST(DataSourceErrors, MaxFramePixelsIsAParameterAndAStreamOption) {
  test::ScratchDir dir("datasource_max_pixels_param");
  ASSERT_TRUE(test::MakeVideo(dir / "a.mp4", "libx264", 320, 240, 10));  // 76800 pixels
  Harness h(R"("max_frame_pixels": 76799)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("small_limit", dir / "a.mp4"));
  ASSERT_TRUE(h.pipeline.AddSource("raised", dir / "a.mp4", {{"max_frame_pixels", "76800"}}));
  ASSERT_TRUE(h.Finish());
  const auto errors = h.ErrorsOf("small_limit");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("320x240 (76800 pixels), more than max_frame_pixels (76799)"), std::string::npos)
      << errors[0];
  EXPECT_EQ(h.sink->frames()["raised"].size(), 10u);
  EXPECT_EQ(h.ErrorsOf("raised").size(), 0u);
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
