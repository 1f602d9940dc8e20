// The helpers modules share, tested as a module author uses them: the log's sinks and callback,
// pixel-format conversion to BGR/RGB, box geometry, text helpers and NamedRegistry.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <cstring>
#include <mutex>
#include <sstream>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vstream/opencv.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

TEST(Log, CallbackGetsLevelAndTextAndSinkTakesOver) {
  std::mutex mutex;
  std::vector<std::pair<LogLevel, std::string>> lines;
  SetLogCallback([&](LogLevel level, std::string_view text) {
    std::lock_guard<std::mutex> lock(mutex);
    lines.emplace_back(level, std::string(text));
  });
  VSTREAM_LOG_WARN("camera {} is slow", 3);
  Log(LogLevel::kError, "plain");
  std::ostringstream out;
  SetLogSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
  VSTREAM_LOG_WARN("to the sink");
  ResetLogOutput();
  VSTREAM_LOG_WARN("to stderr again");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].first, LogLevel::kWarn);
  EXPECT_EQ(lines[0].second, "camera 3 is slow");  // the text alone, no time stamp or level
  EXPECT_EQ(lines[1].first, LogLevel::kError);
  EXPECT_NE(out.str().find("to the sink"), std::string::npos);
  EXPECT_EQ(out.str().find("stderr again"), std::string::npos);
}

// An NV12 frame of solid colour (Y, U, V), with its planes contiguous or apart (padded strides and a
// gap between them), as decoders and shared memory hand them out.
VideoFrame Nv12(int width, int height, uint8_t y, uint8_t u, uint8_t v, bool apart) {
  const int stride = apart ? width + 32 : width;
  const size_t luma = static_cast<size_t>(stride) * height;
  const size_t gap = apart ? 64 : 0;
  BufferPtr buffer = Buffer::Allocate(luma + gap + static_cast<size_t>(stride) * (height / 2));
  std::memset(buffer->data(), y, luma);
  for (int r = 0; r < height / 2; ++r) {
    uint8_t* row = buffer->data() + luma + gap + static_cast<size_t>(r) * stride;
    for (int c = 0; c < width; c += 2) {
      row[c] = u;
      row[c + 1] = v;
    }
  }
  VideoFrame frame;
  EXPECT_TRUE(VideoFrame::Wrap(std::move(buffer), width, height, PixelFormat::kNV12, {stride, stride}, {0, luma + gap},
                               &frame));
  return frame;
}

TEST(Convert, Nv12WithPlanesApartMatchesContiguousNv12) {
  VideoFrame contiguous = Nv12(64, 32, 120, 90, 200, false);
  VideoFrame apart = Nv12(64, 32, 120, 90, 200, true);
  ASSERT_TRUE(ToMat(apart).empty());  // no single-Mat view: the two-plane path
  const cv::Mat a = ToBgrMat(contiguous);
  const cv::Mat b = ToBgrMat(apart);
  ASSERT_EQ(a.type(), CV_8UC3);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
  const cv::Mat rgb = ToRgbMat(apart);
  cv::Mat swapped;
  cv::cvtColor(b, swapped, cv::COLOR_BGR2RGB);
  EXPECT_EQ(cv::norm(rgb, swapped, cv::NORM_INF), 0.0);
  EXPECT_GT(b.at<cv::Vec3b>(0, 0)[2], b.at<cv::Vec3b>(0, 0)[0]);  // V 200 > U 90: more red than blue
}

TEST(Convert, ViewsWhenTheFormatAlreadyFitsAndCopiesOtherwise) {
  VideoFrame bgr = VideoFrame::Allocate(8, 4, PixelFormat::kBGR24);
  EXPECT_EQ(ToBgrMat(bgr).data, bgr.plane(0));
  VideoFrame rgb = VideoFrame::Allocate(8, 4, PixelFormat::kRGB24);
  EXPECT_EQ(ToRgbMat(rgb).data, rgb.plane(0));
  EXPECT_NE(ToBgrMat(rgb).data, rgb.plane(0));
  VideoFrame gray = VideoFrame::Allocate(8, 4, PixelFormat::kGray8);
  std::memset(gray.plane(0), 77, static_cast<size_t>(gray.stride(0)) * 4);
  const cv::Mat from_gray = ToBgrMat(gray);
  EXPECT_EQ(from_gray.type(), CV_8UC3);
  EXPECT_EQ(from_gray.at<cv::Vec3b>(3, 7), cv::Vec3b(77, 77, 77));
  VideoFrame none;
  EXPECT_TRUE(ToBgrMat(none).empty());
  EXPECT_TRUE(FromMat(cv::Mat(4, 8, CV_8UC1), PixelFormat::kBGR24).empty());  // one channel is no BGR
}

TEST(Geometry, OverlapClampAndPixels) {
  const BoundingBox a{0, 0, 0.5f, 0.5f};
  const BoundingBox b{0.25f, 0.25f, 0.5f, 0.5f};
  EXPECT_NEAR(IntersectionOverUnion(a, b), 0.0625f / (0.25f + 0.25f - 0.0625f), 1e-6);
  EXPECT_EQ(IntersectionOverUnion(a, BoundingBox{}), 0.0f);
  EXPECT_EQ(Area(Intersection(a, BoundingBox{0.6f, 0.6f, 0.1f, 0.1f})), 0.0f);
  const BoundingBox clamped = ClampToFrame({-0.1f, 0.9f, 0.3f, 0.3f});
  EXPECT_NEAR(clamped.x, 0.0f, 1e-6);
  EXPECT_NEAR(clamped.w, 0.2f, 1e-6);
  EXPECT_NEAR(clamped.h, 0.1f, 1e-6);
  const PixelRect r = ToPixels({0.101f, 0.5f, 0.2f, 0.6f}, 100, 50);  // rounded outwards, inside the image
  EXPECT_EQ(r.x, 10);
  EXPECT_EQ(r.width, 21);
  EXPECT_EQ(r.y, 25);
  EXPECT_EQ(r.height, 25);
  EXPECT_EQ(ToPixels({1.5f, 0, 0.2f, 0.2f}, 100, 50).width, 0);  // entirely outside
}

TEST(Text, HelpersDoWhatTheirHeaderSays) {
  EXPECT_EQ(ClosestMatch("Inferncer", {"Inferencer", "Tracker"}), "Inferencer");
  EXPECT_EQ(ClosestMatch("xyz", {"Inferencer", "Tracker"}), "");
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(Trim("  a b \n"), "a b");
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(FormatNumber(40), "40");
  EXPECT_EQ(FormatNumber(0.5), "0.5");
}

TEST(Text, PrintableEscapesWhatATerminalWouldActOnAndClips) {
  EXPECT_EQ(Printable("cam1"), "cam1");
  EXPECT_EQ(Printable("cam\x1b[2J\n"), "cam\\x1b[2J\\n");
  EXPECT_EQ(Printable(std::string("a\0b\tc\rd\x7f", 8)), "a\\x00b\\tc\\rd\\x7f");
  EXPECT_EQ(Printable(R"(it's "x" \ y)"), R"(it\'s \"x\" \\ y)");
  EXPECT_EQ(Printable("caf\xc3\xa9 \xe6\x97\xa5"), "caf\xc3\xa9 \xe6\x97\xa5");  // valid UTF-8 stays
  EXPECT_EQ(Printable("a\xff\xc3"), "a\\xff\\xc3");  // invalid bytes, a cut sequence
  EXPECT_EQ(Printable("\xc0\xaf"), "\\xc0\\xaf");  // an overlong '/'
  EXPECT_EQ(Printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(Printable("\xc2\x9b" "2J"), "\\xc2\\x9b" "2J");  // C1 CSI
  EXPECT_EQ(Printable("a\xe2\x80\xae" "b"), "a\\xe2\\x80\\xaeb");  // right-to-left override
  EXPECT_EQ(Printable(std::string(100, 'x'), 10), std::string(10, 'x') + "\u2026(90 more bytes)");
  EXPECT_EQ(Printable("ab\xc3\xa9", 3), "ab\u2026(2 more bytes)");  // never half a character
  EXPECT_EQ(Printable(std::string(96, 'y')), std::string(96, 'y'));  // the default keeps 96 bytes
}

TEST(Text, ExcerptKeepsAValueShortPrintableAndSaysHowLongItWas) {
  EXPECT_EQ(Excerpt("cam1"), "cam1");
  EXPECT_EQ(Excerpt(std::string(100, 'x')), std::string(100, 'x'));  // the default keeps 100
  EXPECT_EQ(Excerpt(std::string(100000, 'a')), std::string(100, 'a') + "\u2026 (100000 bytes in all)");
  EXPECT_EQ(Excerpt("a\nb", 10), "a\\nb");
  // The limit counts what is shown, escapes included, and never cuts one.
  EXPECT_EQ(Excerpt(std::string(10, '\x1b'), 10), "\\x1b\\x1b\u2026 (10 bytes in all)");
  EXPECT_EQ(Excerpt("ab\xc3\xa9", 3), "ab\u2026 (4 bytes in all)");  // nor a character
  // Whatever the value, the result is bounded.
  EXPECT_LT(Excerpt(std::string(1 << 20, '\0')).size(), 130u);
}

TEST(NamedRegistry, AliasesPrefixesReplacementAndRemoval) {
  NamedRegistry<int> registry("widget");
  ASSERT_TRUE(registry.Register("round", 1, {"Circle"}));
  EXPECT_FALSE(registry.Register("Circle", 2));           // taken by an alias
  EXPECT_FALSE(registry.Register("square", 2, {"round"}));  // an alias may not take a name
  EXPECT_EQ(registry.Find("cnstream::Circle").value_or(0), 1);
  EXPECT_EQ(registry.NameOf("vstream::Circle"), "round");
  EXPECT_EQ(registry.Names(), std::vector<std::string>{"round"});  // aliases are not listed
  EXPECT_TRUE(registry.Set("round", 5));
  EXPECT_EQ(registry.Find("Circle").value_or(0), 5);
  EXPECT_FALSE(registry.Set("Circle", 6));  // an alias cannot be set
  EXPECT_TRUE(registry.Remove("round"));
  EXPECT_FALSE(registry.Contains("Circle"));  // its aliases went with it
  const Status unknown = registry.Unknown("rond");
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("widget 'rond' is not registered"), std::string::npos) << unknown.message();
}

TEST(UserDataCodec, ANewCodecForATypeReplacesTheOldNameToo) {
  struct Plate {
    std::string text;
  };
  auto encode = [](const Plate& p) { return p.text; };
  auto decode = [](std::string_view bytes, Plate* p) {
    p->text = std::string(bytes);
    return true;
  };
  ASSERT_TRUE(RegisterUserDataCodec<Plate>("test.plate.v1", encode, decode));
  ASSERT_NE(FindUserDataCodec("test.plate.v1"), nullptr);
  ASSERT_TRUE(RegisterUserDataCodec<Plate>("test.plate.v2", encode, decode));
  EXPECT_EQ(FindUserDataCodec("test.plate.v1"), nullptr);
  ASSERT_NE(FindUserDataCodec("test.plate.v2"), nullptr);
  EXPECT_EQ(FindUserDataCodec(typeid(Plate))->name, "test.plate.v2");
}

}  // namespace
}  // namespace vstream
