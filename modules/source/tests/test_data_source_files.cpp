// DataSource on video files: every frame decoded, in order, with the right pixels and timestamps.
#include <set>

#include "data_source_harness.hpp"

namespace vstream {
namespace {

using test::Harness;

class DataSourceFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDir("datasource_files");
    // Odd sizes on purpose: rows that are not a multiple of 16 or 32.
    ASSERT_TRUE(test::MakeVideo(H264(), "libx264", 642, 362, 60));
    ASSERT_TRUE(test::MakeVideo(Mpeg4(), "mpeg4", 642, 362, 45));
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string H264() { return *dir_ / "h264_642x362.mp4"; }
  static std::string Mpeg4() { return *dir_ / "mpeg4_642x362.avi"; }
  static test::ScratchDir* dir_;
};
test::ScratchDir* DataSourceFiles::dir_ = nullptr;

TEST_F(DataSourceFiles, FrameCountsMatchFfprobe) {
  for (const std::string& file : {H264(), Mpeg4()}) {
    SCOPED_TRACE(file);
    Harness h("", /*keep_frames=*/false);
    ASSERT_TRUE(h.pipeline.AddSource("video", file));
    ASSERT_TRUE(h.Finish());
    const auto indices = h.sink->frames()["video"];
    ASSERT_EQ(static_cast<int64_t>(indices.size()), test::ProbeFrameCount(file));
    for (size_t i = 0; i < indices.size(); ++i) ASSERT_EQ(indices[i], static_cast<int64_t>(i));
    EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
    EXPECT_EQ(h.events.Count(EventType::kStreamEos), 1u);
  }
}

TEST_F(DataSourceFiles, PixelsAndTimestampsAreRight) {
  for (const std::string& file : {H264(), Mpeg4()}) {
    SCOPED_TRACE(file);
    Harness h;
    ASSERT_TRUE(h.pipeline.AddSource("video", file));
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->kept("video");
    ASSERT_FALSE(frames.empty());
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->image.width(), 642);
      ASSERT_EQ(frame->image.height(), 362);
      ASSERT_EQ(frame->image.format(), PixelFormat::kBGR24);
      ASSERT_FALSE(frame->HasFlag(kFrameInvalid));
    }
    test::ExpectFramesShowTheirNumber(frames);
    // 25 frames per second: pts advances 40 ms a frame.
    for (size_t i = 1; i < frames.size(); ++i) {
      ASSERT_NEAR(frames[i]->timestamp() - frames[i - 1]->timestamp(), 0.040, 0.001) << "frame " << i;
    }
  }
}

TEST_F(DataSourceFiles, MissingTimestampsAreRepaired) {
  // opencv-doc's Megamind_bugy.avi: packets without timestamps. Every frame still decodes, and
  // pts increases.
  const std::string bugy = "/usr/share/doc/opencv-doc/examples/data/Megamind_bugy.avi";
  ASSERT_TRUE(std::filesystem::exists(bugy)) << "scripts/deps.sh installs opencv-doc";
  Harness h("", /*keep_frames=*/true);
  ASSERT_TRUE(h.pipeline.AddSource("bugy", bugy));
  ASSERT_TRUE(h.Finish());
  const auto frames = h.sink->kept("bugy");
  EXPECT_EQ(static_cast<int64_t>(frames.size()), test::ProbeFrameCount(bugy));
  for (size_t i = 1; i < frames.size(); ++i) ASSERT_GT(frames[i]->pts, frames[i - 1]->pts) << "frame " << i;
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST_F(DataSourceFiles, EightFilesAtOnceKeepTheirOrder) {
  Harness h("", /*keep_frames=*/false);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(h.pipeline.AddSource("file" + std::to_string(i), i % 2 ? Mpeg4() : H264()));
  ASSERT_TRUE(h.Finish());
  EXPECT_FALSE(h.sink->out_of_order());
  const auto frames = h.sink->frames();
  ASSERT_EQ(frames.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(frames.at("file" + std::to_string(i)).size(), i % 2 ? 45u : 60u);
  }
  EXPECT_EQ(h.events.Count(EventType::kStreamEos), 8u);
}

TEST_F(DataSourceFiles, IntervalKeepsEveryNthFrame) {
  Harness h(R"("interval": 3)");
  ASSERT_TRUE(h.pipeline.AddSource("video", H264()));
  ASSERT_TRUE(h.Finish());
  const auto frames = h.sink->kept("video");
  ASSERT_EQ(frames.size(), 20u);
  for (size_t i = 0; i < frames.size(); ++i) ASSERT_EQ(frames[i]->frame_index, static_cast<int64_t>(3 * i));
  test::ExpectFramesShowTheirNumber(frames);  // frame k is really the file's frame k
}

TEST_F(DataSourceFiles, LoopRestartsAndKeepsCounting) {
  Harness h(R"("loop": true)");
  ASSERT_TRUE(h.pipeline.AddSource("video", Mpeg4()));
  ASSERT_TRUE(h.sink->WaitFrames(100));  // more than two passes over 45 frames
  ASSERT_TRUE(h.pipeline.RemoveSource("video"));
  ASSERT_TRUE(h.Finish());
  const auto frames = h.sink->kept("video");
  ASSERT_GE(frames.size(), 100u);
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i]->frame_index, static_cast<int64_t>(i));
    if (i > 0) {
      ASSERT_GT(frames[i]->pts, frames[i - 1]->pts) << "pts must keep increasing across loops";
    }
  }
  test::ExpectFramesShowTheirNumber(frames, 45);
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST_F(DataSourceFiles, OutputPixelFormats) {
  struct Case {
    const char* name;
    PixelFormat format;
    int planes;
  };
  for (const Case& c : {Case{"nv12", PixelFormat::kNV12, 2}, Case{"gray8", PixelFormat::kGray8, 1},
                        Case{"rgb24", PixelFormat::kRGB24, 1}}) {
    SCOPED_TRACE(c.name);
    Harness h(std::string(R"("pixel_format": ")") + c.name + "\"");
    ASSERT_TRUE(h.pipeline.AddSource("video", H264()));
    ASSERT_TRUE(h.Finish());
    const auto frames = h.sink->kept("video");
    ASSERT_EQ(frames.size(), 60u);
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->image.format(), c.format);
      ASSERT_EQ(frame->image.plane_count(), c.planes);
      const double mean = test::CenterMean(frame->image);
      // NV12 keeps the video's luma as is; GRAY8 and RGB24 are full range.
      const double expected = c.format == PixelFormat::kNV12 ? test::LumaOfFrame(frame->frame_index)
                                                             : test::BgrOfFrame(frame->frame_index);
      ASSERT_NEAR(mean, expected, 4.0) << "frame " << frame->frame_index;
      if (c.format == PixelFormat::kNV12) {
        ASSERT_NEAR(test::CenterMean(frame->image, 1), 128.0, 3.0);
      }
    }
  }
}

TEST_F(DataSourceFiles, CnstreamSeedParametersAndPacingWork) {
  // The DataSource block of CNStream's config_process1.json, with an MLU decoder that this machine
  // does not have (mapped to the best available decoder), plus pacing to 200 fps.
  Harness h(R"("source_type": "ffmpeg", "reuse_cndec_buf": "false", "output_type": "mlu",
               "decoder_type": "mlu", "device_id": 0, "frame_rate": "200")",
            /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("video", H264()));
  ASSERT_TRUE(h.Finish());
  EXPECT_EQ(h.sink->frames()["video"].size(), 60u);
  EXPECT_EQ(h.events.Count(EventType::kStreamError), 0u);
}

TEST_F(DataSourceFiles, StreamOptionsOverrideParameters) {
  Harness h(R"("interval": 2)", /*keep_frames=*/false);
  ASSERT_TRUE(h.pipeline.AddSource("every", H264(), {{"interval", "1"}}));
  ASSERT_TRUE(h.pipeline.AddSource("half", H264()));
  Status bad = h.pipeline.AddSource("bad", H264(), {{"intreval", "1"}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("unknown stream option 'intreval'"), std::string::npos) << bad.message();
  ASSERT_TRUE(h.Finish());
  EXPECT_EQ(h.sink->frames()["every"].size(), 60u);
  EXPECT_EQ(h.sink->frames()["half"].size(), 30u);
}

}  // namespace
}  // namespace vstream
