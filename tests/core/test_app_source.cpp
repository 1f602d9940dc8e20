// AppSource: frames a program pushes arrive downstream in order with the pixels it pushed (copied,
// or its own memory without a copy, released once), pts given or derived, and every wrong call is
// refused with an error that names the problem.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>

#include "test_modules.hpp"
#include "vstream/modules/app_source.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// Writes 255 into every byte of each frame's image, after MakeWritable (a module that draws).
class StampPixels : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (Status s = MakeWritable(frame); !s) return s;
    if (frame->IsEos() || frame->image.empty()) return {};
    VideoFrame& image = frame->image;
    for (int p = 0; p < image.plane_count(); ++p) {
      for (int r = 0; r < image.plane_rows(p); ++r) {
        std::memset(image.plane(p) + static_cast<size_t>(r) * image.stride(p), 255,
                    static_cast<size_t>(image.plane_row_bytes(p)));
      }
    }
    return {};
  }
};
VSTREAM_REGISTER_MODULE(StampPixels);

// `rows` rows of `stride` bytes; byte x of row y is (seed + 7y + x) % 251, padding 0xEE.
std::vector<uint8_t> Pattern(int rows, int row_bytes, int stride, int seed) {
  std::vector<uint8_t> bytes(static_cast<size_t>(rows) * stride, 0xEE);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < row_bytes; ++x) {
      bytes[static_cast<size_t>(y) * stride + x] = static_cast<uint8_t>((seed + 7 * y + x) % 251);
    }
  }
  return bytes;
}

// The rows of plane after plane of `image`, without padding.
std::vector<uint8_t> Rows(const VideoFrame& image) {
  std::vector<uint8_t> out;
  for (int p = 0; p < image.plane_count(); ++p) {
    for (int r = 0; r < image.plane_rows(p); ++r) {
      const uint8_t* row = image.plane(p) + static_cast<size_t>(r) * image.stride(p);
      out.insert(out.end(), row, row + image.plane_row_bytes(p));
    }
  }
  return out;
}

// The same without the padding of a `stride`-byte layout.
std::vector<uint8_t> Unpadded(const std::vector<uint8_t>& bytes, int rows, int row_bytes, int stride) {
  std::vector<uint8_t> out;
  for (int y = 0; y < rows; ++y) {
    out.insert(out.end(), bytes.begin() + y * stride, bytes.begin() + y * stride + row_bytes);
  }
  return out;
}

// A running pipeline: an AppSource named "src" with `params` feeding `body` (whose first module is
// `first`).
struct Running {
  explicit Running(const std::string& params, const std::string& first = "\"sink\"",
                   const std::string& body = R"("sink": {"class_name": "Recorder", "custom_params": {"keep": true}})") {
    const std::string json = R"({"src": {"class_name": "AppSource", "next_modules": [)" + first +
                             R"(], "custom_params": )" + params + "}, " + body + "}";
    const Status built = pipeline.BuildFromString(json);
    EXPECT_TRUE(built) << built.message();
    const Status started = pipeline.Start();
    EXPECT_TRUE(started) << started.message();
    app = pipeline.GetModule<AppSource>("src");
  }
  test::Recorder* Sink(const std::string& name = "sink") { return pipeline.GetModule<test::Recorder>(name); }

  Pipeline pipeline;
  AppSource* app = nullptr;
};

TEST(AppSource, FramesArriveInOrderWithThePushedPixelsAndDerivedPts) {
  Running run(R"({"streams": ["a", "b"], "frame_rate": 25})");
  ASSERT_NE(run.app, nullptr);
  std::map<std::string, std::vector<std::vector<uint8_t>>> pushed;
  for (int i = 0; i < 5; ++i) {
    for (const std::string id : {"a", "b"}) {
      std::vector<uint8_t> bytes = Pattern(12, 16 * 3, 16 * 3, i + (id == "b" ? 100 : 0));
      ASSERT_TRUE(run.app->Push(id, AppSource::Image{bytes.data(), 16, 12, 0, PixelFormat::kBGR24}));
      pushed[id].push_back(std::move(bytes));
    }
  }
  ASSERT_TRUE(run.app->EndStream("a"));
  ASSERT_TRUE(run.app->EndStream("b"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  ASSERT_TRUE(run.pipeline.Stop());
  test::Recorder* sink = run.Sink();
  EXPECT_EQ(sink->frames()["a"], (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sink->frames()["b"], (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sink->eos()["a"], 1);
  EXPECT_EQ(sink->eos()["b"], 1);
  EXPECT_FALSE(sink->frame_after_eos());
  for (const std::string id : {"a", "b"}) {
    const auto frames = sink->kept(id);
    ASSERT_EQ(frames.size(), 5u);
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(frames[i]->pts, static_cast<int64_t>(i) * 40000) << id << " frame " << i;  // 25 fps in microseconds
      EXPECT_EQ(frames[i]->image.format(), PixelFormat::kBGR24);
      EXPECT_EQ(frames[i]->image.width(), 16);
      EXPECT_EQ(Rows(frames[i]->image), pushed[id][i]) << id << " frame " << i;
    }
  }
}

TEST(AppSource, EachFormatAndRowStrideIsCopiedRowByRow) {
  Running run(R"({"streams": ["s"]})");
  struct Case {
    PixelFormat format;
    int width, height, row_bytes, rows, stride;
  };
  const std::vector<Case> cases = {{PixelFormat::kBGR24, 10, 6, 30, 6, 40},
                                   {PixelFormat::kRGB24, 10, 6, 30, 6, 0},
                                   {PixelFormat::kGray8, 9, 5, 9, 5, 16},
                                   {PixelFormat::kNV12, 8, 6, 8, 9, 12}};  // Y 6 rows + UV 3 rows
  std::vector<std::vector<uint8_t>> expected;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const int stride = c.stride == 0 ? c.row_bytes : c.stride;
    const std::vector<uint8_t> bytes = Pattern(c.rows, c.row_bytes, stride, static_cast<int>(i) * 13);
    const Status s = run.app->Push("s", AppSource::Image{bytes.data(), c.width, c.height, c.stride, c.format});
    ASSERT_TRUE(s) << s.message();
    expected.push_back(Unpadded(bytes, c.rows, c.row_bytes, stride));
  }
  ASSERT_TRUE(run.app->EndStream("s"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  const auto frames = run.Sink()->kept("s");
  ASSERT_EQ(frames.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(frames[i]->image.format(), cases[i].format) << i;
    EXPECT_EQ(frames[i]->image.width(), cases[i].width) << i;
    EXPECT_EQ(frames[i]->image.height(), cases[i].height) << i;
    EXPECT_EQ(Rows(frames[i]->image), expected[i]) << "case " << i;
    EXPECT_TRUE(frames[i]->image.buffer()->writable());  // a copy of the module's own
  }
}

TEST(AppSource, AMatIsCopiedUnlessPushedWithoutACopy) {
  Running run(R"({"streams": ["m"]})");
  cv::Mat whole(20, 30, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::Mat region = whole(cv::Rect(5, 4, 10, 8));  // rows 90 bytes apart: not continuous
  ASSERT_TRUE(run.app->Push("m", region));
  cv::Mat gray(6, 7, CV_8UC1, cv::Scalar(9));
  ASSERT_TRUE(run.app->PushZeroCopy("m", gray));
  EXPECT_GT(gray.u->refcount, 1);  // the frame holds a reference to the Mat's pixels
  whole.setTo(cv::Scalar(50, 60, 70));  // after the push: the copy does not change
  ASSERT_TRUE(run.app->EndStream("m"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  const auto frames = run.Sink()->kept("m");
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]->image.format(), PixelFormat::kBGR24);
  EXPECT_EQ(frames[0]->image.width(), 10);
  EXPECT_EQ(frames[0]->image.height(), 8);
  std::vector<uint8_t> expected;
  for (int i = 0; i < 10 * 8; ++i) expected.insert(expected.end(), {1, 2, 3});
  EXPECT_EQ(Rows(frames[0]->image), expected);
  EXPECT_EQ(frames[1]->image.format(), PixelFormat::kGray8);
  EXPECT_EQ(frames[1]->image.plane(0), gray.data);
  EXPECT_FALSE(frames[1]->image.buffer()->writable());
  ASSERT_TRUE(run.pipeline.Stop());
}

TEST(AppSource, ZeroCopyFramesUseTheCallersMemoryAndReleaseItOnceAfterTheLastFrame) {
  std::atomic<int> released{0};
  std::vector<uint8_t> pixels = Pattern(8, 12 * 3, 12 * 3, 5);
  const std::vector<uint8_t> original = pixels;
  {
    // Fan-out: both branches hold the same frame.
    Running run(R"({"streams": ["z"]})", R"("left", "right")",
                R"("left": {"class_name": "Recorder", "custom_params": {"keep": true}},
                   "right": {"class_name": "Recorder", "custom_params": {"keep": true}})");
    const Status s = run.app->PushZeroCopy("z", AppSource::Image{pixels.data(), 12, 8, 0, PixelFormat::kBGR24},
                                           [&released] { ++released; });
    ASSERT_TRUE(s) << s.message();
    ASSERT_TRUE(run.app->EndStream("z"));
    ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
    ASSERT_TRUE(run.pipeline.Stop());
    for (const std::string branch : {"left", "right"}) {
      const auto frames = run.Sink(branch)->kept("z");
      ASSERT_EQ(frames.size(), 1u);
      EXPECT_EQ(frames[0]->image.plane(0), pixels.data());  // no copy
      EXPECT_FALSE(frames[0]->image.buffer()->writable());
    }
    EXPECT_EQ(released.load(), 0);  // the recorders still hold the frame
  }
  EXPECT_EQ(released.load(), 1);  // the pipeline, its recorders and their frames are gone
  EXPECT_EQ(pixels, original);
}

TEST(AppSource, AModuleThatWritesPixelsWritesACopyNotTheCallersMemory) {
  std::atomic<int> released{0};
  std::vector<uint8_t> pixels = Pattern(6, 8, 8, 1);
  const std::vector<uint8_t> original = pixels;
  {
    Running run(R"({"streams": ["w"]})", R"("stamp")",
                R"("stamp": {"class_name": "StampPixels", "next_modules": ["sink"]},
                   "sink": {"class_name": "Recorder", "custom_params": {"keep": true}})");
    ASSERT_TRUE(run.app->PushZeroCopy("w", AppSource::Image{pixels.data(), 8, 6, 0, PixelFormat::kGray8},
                                      [&released] { ++released; }));
    ASSERT_TRUE(run.app->EndStream("w"));
    ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
    ASSERT_TRUE(run.pipeline.Stop());
    const auto frames = run.Sink()->kept("w");
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_NE(frames[0]->image.plane(0), pixels.data());
    EXPECT_EQ(Rows(frames[0]->image), std::vector<uint8_t>(6 * 8, 255));
    EXPECT_EQ(pixels, original);
    EXPECT_EQ(released.load(), 1);  // the writer's copy replaced the caller's memory in the frame
  }
  EXPECT_EQ(released.load(), 1);
}

TEST(AppSource, GivenPtsAreKeptAndMustIncrease) {
  Running run(R"({"streams": ["p"], "frame_rate": 10})");
  std::vector<uint8_t> pixel(3, 0);
  const AppSource::Image image{pixel.data(), 1, 1, 0, PixelFormat::kBGR24};
  ASSERT_TRUE(run.app->Push("p", image, 5000));
  ASSERT_TRUE(run.app->Push("p", image));  // derived: 5000 + 100000
  const Status back = run.app->Push("p", image, 105000);
  EXPECT_EQ(back.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(back.message().find("pts 105000 is not after the previous frame's pts 105000"), std::string::npos)
      << back.message();
  ASSERT_TRUE(run.app->Push("p", image, 200000));
  ASSERT_TRUE(run.app->EndStream("p"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  std::vector<int64_t> pts;
  for (const auto& frame : run.Sink()->kept("p")) pts.push_back(frame->pts);
  EXPECT_EQ(pts, (std::vector<int64_t>{5000, 105000, 200000}));
  EXPECT_EQ(run.Sink()->frames()["p"], (std::vector<int64_t>{0, 1, 2}));  // the refused push took no index
}

TEST(AppSource, DerivedPtsNeverOverflow) {
  Running run(R"({"streams": ["p"], "frame_rate": 10})");
  std::vector<uint8_t> pixel(3, 0);
  const AppSource::Image image{pixel.data(), 1, 1, 0, PixelFormat::kBGR24};
  const int64_t last = std::numeric_limits<int64_t>::max() - 10;
  ASSERT_TRUE(run.app->Push("p", image, last));
  const Status next = run.app->Push("p", image);  // last + 100000 would not fit
  EXPECT_EQ(next.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(next.message().find("the next pts would pass the largest one after pts " + std::to_string(last)),
            std::string::npos)
      << next.message();
  ASSERT_TRUE(run.app->EndStream("p"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_EQ(run.Sink()->frames()["p"], (std::vector<int64_t>{0}));
}

TEST(AppSource, ClockPtsIncrease) {
  Running run(R"({"streams": ["c"], "frame_rate": 0})");
  std::vector<uint8_t> pixel(1, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(run.app->Push("c", AppSource::Image{pixel.data(), 1, 1, 0, PixelFormat::kGray8}));
  }
  ASSERT_TRUE(run.app->EndStream("c"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  const auto frames = run.Sink()->kept("c");
  ASSERT_EQ(frames.size(), 20u);
  EXPECT_EQ(frames[0]->pts, 0);
  for (size_t i = 1; i < frames.size(); ++i) EXPECT_GT(frames[i]->pts, frames[i - 1]->pts);
}

void ExpectError(const Status& status, StatusCode code, const std::string& text) {
  EXPECT_EQ(status.code(), code) << status.message();
  EXPECT_NE(status.message().find(text), std::string::npos) << status.message();
}

TEST(AppSource, BadImagesAreRefusedNamingTheProblem) {
  Running run(R"({"streams": ["e"]})");
  std::vector<uint8_t> bytes(64 * 64 * 3);
  const uint8_t* data = bytes.data();
  ExpectError(run.app->Push("e", AppSource::Image{nullptr, 4, 4, 0, PixelFormat::kBGR24}), StatusCode::kInvalidArgument,
              "stream 'e': the image's data pointer is null");
  ExpectError(run.app->Push("e", AppSource::Image{data, 0, 4, 0, PixelFormat::kBGR24}), StatusCode::kInvalidArgument,
              "the image is 0x4; width and height must be 1 to 32768");
  ExpectError(run.app->Push("e", AppSource::Image{data, 10, 4, 20, PixelFormat::kBGR24}), StatusCode::kInvalidArgument,
              "stride 20 is less than one row of the 10x4 bgr24 image (30 bytes)");
  ExpectError(run.app->Push("e", AppSource::Image{data, 10, 4, -40, PixelFormat::kBGR24}), StatusCode::kInvalidArgument,
              "stride -40 is less than one row");
  ExpectError(run.app->Push("e", AppSource::Image{data, 10, 4, 0, PixelFormat::kNone}), StatusCode::kInvalidArgument,
              "pixel format is not set");
  ExpectError(run.app->Push("e", AppSource::Image{data, 7, 4, 0, PixelFormat::kNV12}), StatusCode::kInvalidArgument,
              "an nv12 image needs an even width and height, got 7x4");
  ExpectError(run.app->Push("e", cv::Mat(4, 4, CV_32FC1)), StatusCode::kInvalidArgument,
              "a cv::Mat of 8-bit pixels with 3 channels (CV_8UC3) or 1 (CV_8UC1) is needed");
  ExpectError(run.app->Push("e", cv::Mat(4, 4, CV_8UC3), AppSource::kAutoPts, PixelFormat::kGray8),
              StatusCode::kInvalidArgument, "a 3-channel cv::Mat is bgr24 or rgb24, not gray8");
  ExpectError(run.app->Push("e", cv::Mat(5, 4, CV_8UC1), AppSource::kAutoPts, PixelFormat::kNV12),
              StatusCode::kInvalidArgument, "a multiple of 3; got 5");
  ExpectError(run.app->Push("e", VideoFrame()), StatusCode::kInvalidArgument, "the image is empty");
  // A zero-copy push that fails releases the memory before it returns.
  int released = 0;
  ExpectError(
      run.app->PushZeroCopy("e", AppSource::Image{data, 10, 4, 1, PixelFormat::kGray8}, [&released] { ++released; }),
      StatusCode::kInvalidArgument, "stride 1");
  EXPECT_EQ(released, 1);
  ASSERT_TRUE(run.app->EndStream("e"));
  ASSERT_TRUE(run.pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_EQ(run.Sink()->total(), 0u);  // nothing refused went on
}

TEST(AppSource, TheModuleParametersRefuseOtherFormatsAndSizes) {
  Running run(R"({"streams": ["r"], "pixel_format": "rgb24", "width": 4, "height": 2})");
  std::vector<uint8_t> bytes(4 * 2 * 3);
  ExpectError(run.app->Push("r", AppSource::Image{bytes.data(), 4, 2, 0, PixelFormat::kBGR24}),
              StatusCode::kInvalidArgument,
              "the image is bgr24 but the module's pixel_format parameter asks for rgb24 (convert the image, or set "
              "pixel_format to any)");
  ExpectError(run.app->Push("r", AppSource::Image{bytes.data(), 2, 4, 0, PixelFormat::kRGB24}),
              StatusCode::kInvalidArgument,
              "the image is 2x4 but the module's width and height parameters ask for 4x2");
  EXPECT_TRUE(run.app->Push("r", AppSource::Image{bytes.data(), 4, 2, 0, PixelFormat::kRGB24}));
}

TEST(AppSource, StreamsAreCheckedWhereverTheyAreUsed) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({"src": {"class_name": "AppSource", "next_modules": ["sink"]},
                                           "sink": {"class_name": "Recorder"}})"));
  auto* app = pipeline.GetModule<AppSource>("src");
  std::vector<uint8_t> pixel(3);
  const AppSource::Image image{pixel.data(), 1, 1, 0, PixelFormat::kBGR24};
  ExpectError(app->Push("x", image), StatusCode::kFailedState, "module 'src' is not running");
  ASSERT_TRUE(pipeline.Start());
  ExpectError(app->Push("x", image), StatusCode::kNotFound,
              "module 'src': no stream 'x'; start it with the streams parameter or AddSource(id, \"app://\")");
  ExpectError(app->EndStream("x"), StatusCode::kNotFound, "no stream 'x' to end");
  ExpectError(pipeline.AddSource("x", "x.mp4"), StatusCode::kInvalidArgument,
              "add stream 'x' with the uri \"app://\", not 'x.mp4'");
  ExpectError(pipeline.AddSource("x", "app://", {{"loop", "1"}}), StatusCode::kInvalidArgument,
              "unknown option 'loop'; AppSource takes only frame_rate");
  ExpectError(pipeline.AddSource("x", "app://", {{"frame_rate", "-1"}}), StatusCode::kInvalidArgument,
              "option frame_rate='-1' must be a number >= 0");
  ASSERT_TRUE(pipeline.AddSource("x", "app://", {{"frame_rate", "50"}}));
  ASSERT_TRUE(app->Push("x", image));
  ASSERT_TRUE(app->Push("x", image));
  ASSERT_TRUE(app->EndStream("x"));
  ExpectError(app->EndStream("x"), StatusCode::kFailedState, "stream 'x' has already ended");
  ExpectError(app->Push("x", image), StatusCode::kFailedState, "stream 'x' has ended");
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  // Once its EOS has left, the stream is still known as ended, and the id may start again.
  ExpectError(app->Push("x", image), StatusCode::kFailedState, "stream 'x' has ended");
  ASSERT_TRUE(pipeline.AddSource("x", "app://"));
  ASSERT_TRUE(app->Push("x", image));
  ASSERT_TRUE(pipeline.RemoveSource("x"));  // RemoveSource ends it as EndStream does
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  auto* sink = pipeline.GetModule<test::Recorder>("sink");
  EXPECT_EQ(sink->frames()["x"], (std::vector<int64_t>{0, 1, 0}));  // the second run counts from 0 again
  EXPECT_EQ(sink->eos()["x"], 2);
  ASSERT_TRUE(pipeline.Stop());
  ExpectError(app->Push("x", image), StatusCode::kFailedState, "is not running");
}

TEST(AppSource, CapacityCountsAPushedFramePerStream) {
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(R"({"src": {"class_name": "AppSource", "next_modules": ["sink"],
                                            "custom_params": {"width": 320, "height": 240, "pixel_format": "gray8"}},
                                          "sink": {"class_name": "PassThrough", "max_input_queue_size": 4}})",
                                      ".", &config));
  std::vector<ConfigCapacity> capacity;
  ASSERT_TRUE(ComputeCapacity({&config}, {}, &capacity));
  ASSERT_EQ(capacity.size(), 1u);
  EXPECT_EQ(capacity[0].frames_per_stream, 1);
  EXPECT_EQ(capacity[0].width, 320);
  EXPECT_EQ(capacity[0].height, 240);
  EXPECT_EQ(capacity[0].format, PixelFormat::kGray8);
  EXPECT_FALSE(capacity[0].size_assumed);
}

}  // namespace
}  // namespace vstream
