// Encoder, ResultSink and Osd: files that FFmpeg reads back, the JSON line contract, drawing.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "media.hpp"
#include "test_modules.hpp"
#include "vstream/modules/result_sink.hpp"
#include "vstream/opencv.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(Encoder, EachStreamBecomesAPlayableFileAtItsEos) {
  test::ScratchDir dir("encoder");
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["encode"],
              "custom_params": {"frames": 0, "width": 322, "height": 182, "pattern": "moving_box"}},
      "encode": {"class_name": "Encoder", "parallelism": 2, "custom_params": {"path": ")" + dir / "{stream}.mp4" + R"("}}})"));
  test::EventLog events;
  pipeline.SetObserver(events.Callback());
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("short", "", {{"frames", "25"}}));
  ASSERT_TRUE(pipeline.AddSource("endless", ""));
  // The short stream's EOS completes its file while the pipeline is still running.
  ASSERT_TRUE(events.WaitFor(EventType::kStreamEos, 1));
  EXPECT_EQ(events.Of(EventType::kStreamEos)[0].stream_id, "short");
  EXPECT_EQ(test::ProbeFrameCount(dir / "short.mp4"), 25);
  ASSERT_TRUE(pipeline.Stop());  // the endless one is completed by the graceful stop
  EXPECT_GT(test::ProbeFrameCount(dir / "endless.mp4"), 0);
  EXPECT_EQ(test::ShellOutput("ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 \"" +
                              dir / "short.mp4" + "\""),
            "h264,322,182");
}

TEST(Encoder, JpegFramesAndBadPaths) {
  test::ScratchDir dir("encoder_jpeg");
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["encode"],
              "custom_params": {"streams": 1, "frames": 7, "width": 64, "height": 48}},
      "encode": {"class_name": "Encoder", "custom_params": {"path": ")" + dir / "{stream}/{index}.jpg" + R"("}}})"));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  for (int i = 0; i < 7; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "stream_0/%06d.jpg", i);
    EXPECT_TRUE(std::filesystem::exists(dir / name)) << name;
  }
  Pipeline bad;
  ASSERT_TRUE(bad.BuildFromString(R"({"src": {"class_name": "SyntheticSource", "next_modules": ["encode"]},
      "encode": {"class_name": "Encoder", "custom_params": {"path": "/tmp/x.jpg"}}})"));
  Status s = bad.Start();
  EXPECT_NE(s.message().find("the path needs {index}"), std::string::npos) << s.message();
  Pipeline codec;
  ASSERT_TRUE(codec.BuildFromString(R"({"src": {"class_name": "SyntheticSource", "next_modules": ["encode"]},
      "encode": {"class_name": "Encoder", "custom_params": {"codec": "nosuchcodec"}}})"));
  s = codec.Start();
  EXPECT_NE(s.message().find("no encoder 'nosuchcodec'"), std::string::npos) << s.message();
}

TEST(ResultSink, TheLineFormatIsTheContract) {
  FramePtr frame = Frame::Create("cam1", 41);
  frame->pts = 1640000;  // microseconds
  frame->image = VideoFrame::Allocate(1280, 720, PixelFormat::kBGR24);
  DetectedObject face;
  face.box = {0.25f, 0.5f, 0.125f, 0.25f};
  face.label = "face";
  face.label_id = 0;
  face.score = 0.5f;
  face.track_id = 7;
  face.attributes["age"] = "30";
  frame->objects.push_back(face);
  EXPECT_EQ(ResultSink::ToJsonLine(*frame),
            R"({"stream_id":"cam1","frame_index":41,"pts":1.64,"width":1280,"height":720,"objects":[{"label":"face",)"
            R"("label_id":0,"score":0.5,"box":[320.0,360.0,160.0,180.0],"track_id":7,"attributes":{"age":"30"}}]})");
}

TEST(ResultSink, OneLinePerFrameAndFilesPerStream) {
  test::ScratchDir dir("result_sink");
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "SyntheticSource", "next_modules": ["all", "each"],
              "custom_params": {"streams": 3, "frames": 20, "width": 32, "height": 16}},
      "all": {"class_name": "ResultSink", "custom_params": {"path": ")" + dir / "all.jsonl" + R"("}},
      "each": {"class_name": "ResultSink", "custom_params": {"path": ")" + dir / "per/{stream}.jsonl" + R"("}}})"));
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const auto all = Lines(dir / "all.jsonl");
  ASSERT_EQ(all.size(), 60u);  // EOS frames write nothing
  std::map<std::string, int64_t> next;
  for (const auto& line : all) {
    const auto json = nlohmann::json::parse(line);
    const std::string stream = json["stream_id"];
    EXPECT_EQ(json["frame_index"], next[stream]++) << "in order per stream";
    EXPECT_EQ(json["width"], 32);
    EXPECT_TRUE(json["objects"].is_array());
  }
  for (int s = 0; s < 3; ++s) EXPECT_EQ(Lines(dir / ("per/stream_" + std::to_string(s) + ".jsonl")).size(), 20u);
}

TEST(Osd, DrawsBoxesAndConvertsNv12) {
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(R"({
      "src": {"class_name": "ManualSource", "next_modules": ["osd"]},
      "osd": {"class_name": "Osd", "next_modules": ["sink"], "custom_params": {"thickness": 3, "show_fps": false}},
      "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})"));
  ASSERT_TRUE(pipeline.Start());
  auto* source = pipeline.GetModule<test::ManualSource>("src");
  ASSERT_TRUE(pipeline.AddSource("cam", ""));
  FramePtr bgr = test::SolidFrame("cam", 0, 0, 0, 0, 200, 100);
  DetectedObject object;
  object.box = {0.25f, 0.4f, 0.5f, 0.4f};
  object.label = "thing";
  bgr->objects.push_back(object);
  ASSERT_TRUE(source->Push(bgr));
  FramePtr nv12 = Frame::Create("cam", 1);
  nv12->image = VideoFrame::Allocate(200, 100, PixelFormat::kNV12);
  std::fill(nv12->image.plane(0), nv12->image.plane(0) + 200 * 150, 128);
  nv12->objects.push_back(object);
  ASSERT_TRUE(source->Push(nv12));
  source->End("cam", 2);
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  const auto frames = pipeline.GetModule<test::Recorder>("sink")->kept("cam");
  ASSERT_EQ(frames.size(), 2u);
  for (const auto& frame : frames) {
    ASSERT_EQ(frame->image.format(), PixelFormat::kBGR24);
    cv::Mat canvas = ToMat(frame->image);
    const cv::Vec3b edge = canvas.at<cv::Vec3b>(60, 50);    // on the box's left edge (x = 50)
    const cv::Vec3b inside = canvas.at<cv::Vec3b>(60, 100);  // inside: untouched
    EXPECT_GT(edge[0] + edge[1] + edge[2], 200) << "frame " << frame->frame_index;
    EXPECT_EQ(inside, canvas.at<cv::Vec3b>(5, 5)) << "frame " << frame->frame_index;
  }
}

TEST(Osd, LabelPathNamesLabelIds) {
  // CNStream's Osd names objects by their label id with a label file; an object whose id the file
  // has no line for keeps its own label.
  test::ScratchDir dir("osd_labels");
  std::ofstream(dir / "labels.txt") << "zero\na label much longer than the object's own\n";
  auto draw = [](ModuleRunner& osd, int label_id) {
    FramePtr frame = test::SolidFrame("cam", label_id, 0, 0, 0, 400, 200);
    DetectedObject object;
    object.box = {0.1f, 0.5f, 0.2f, 0.2f};  // from x = 40, y = 100: the label is drawn above
    object.label = "x";
    object.label_id = label_id;
    frame->objects.push_back(object);
    EXPECT_TRUE(osd.Push(frame));
    return ToMat(frame->image).at<cv::Vec3b>(92, 200);  // in a long label's background, far right of "x"'s
  };
  const ParamValues params = {{"show_scores", "false"}, {"show_fps", "false"}};
  ModuleRunner plain("Osd", params);
  ASSERT_TRUE(plain.Open());
  ParamValues with_labels = params;
  with_labels["label_path"] = dir / "labels.txt";
  ModuleRunner named("Osd", with_labels);
  ASSERT_TRUE(named.Open());
  EXPECT_EQ(draw(plain, 1), cv::Vec3b(0, 0, 0));    // "x" is short
  EXPECT_NE(draw(named, 1), cv::Vec3b(0, 0, 0));    // line 1 of label_path
  EXPECT_EQ(draw(named, 7), cv::Vec3b(0, 0, 0));    // no line 7: "x" again

  with_labels["label_path"] = dir / "missing.txt";
  ModuleRunner missing("Osd", with_labels);
  const Status s = missing.Open();
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("label_path: cannot read"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vstream
