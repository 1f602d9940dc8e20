// A config in CNStream's shape, run by the vstream tool end to end: `vstream check` accepts it and
// says once what does not apply on this machine, and `vstream run` decodes, detects faces
// (BlazeFace, from scripts/fetch_models.sh), tracks, draws and encodes, with every frame reaching
// the ResultSink.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "media.hpp"

namespace vstream::test {
namespace {

std::string BlazeFace() {
  const char* home = std::getenv("HOME");
  return std::string(home == nullptr ? "" : home) +
         "/.cache/vstream/models/blazeface/face_detection_front_128x128_barracuda.onnx";
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CnstreamConfigs, ACnstreamShapedConfigRunsEndToEnd) {
  const std::string model = BlazeFace();
  ASSERT_TRUE(std::filesystem::exists(model)) << model << " is missing: run scripts/fetch_models.sh";
  ScratchDir dir("cnstream_run");
  // 20 frames of opencv-doc's Megamind.avi: a face in nearly every one.
  ASSERT_EQ(Shell("ffmpeg -nostdin -v error -y -i /usr/share/doc/opencv-doc/examples/data/Megamind.avi "
                  "-frames:v 20 -c:v libx264 -pix_fmt yuv420p \"" + dir / "megamind.mp4" + "\""),
            0);
  std::ofstream(dir / "labels.txt") << "face\n";
  // CNStream's shape: MLU source settings, an Inferencer2 with its preprocessing keys, an Osd that
  // names labels, cnstream::Encode with file_name. Model and files are this machine's.
  std::ofstream(dir / "config.json") << R"({
    "profiler_config": {"enable_profiling": true, "enable_tracing": false},
    "source": {
      "class_name": "cnstream::DataSource", "parallelism": 0, "next_modules": ["detector"], "show_perf_info": true,
      "custom_params": {"source_type": "ffmpeg", "output_type": "mlu", "decoder_type": "mlu",
                        "reuse_cndec_buf": "false", "output_buf_number": 32, "device_id": 0}
    },
    "detector": {
      "class_name": "cnstream::Inferencer2", "parallelism": 1, "max_input_queue_size": 20,
      "next_modules": ["tracker"],
      "custom_params": {"model_path": ")" + model + R"(", "func_name": "subnet0",
                        "preproc_name": "CNCV", "postproc_name": "blazeface", "keep_aspect_ratio": "true",
                        "model_input_pixel_format": "RGBA32", "normalize": "true", "mean": "0.5, 0.5, 0.5",
                        "std": "0.5, 0.5, 0.5", "threshold": "0.5", "batching_timeout": "30", "engine_num": 1,
                        "device_id": 0}
    },
    "tracker": {"class_name": "cnstream::Tracker", "parallelism": 1, "next_modules": ["osd", "results"],
                "custom_params": {"track_name": "IoUMatch"}},
    "osd": {"class_name": "cnstream::Osd", "parallelism": 1, "next_modules": ["encode"],
            "custom_params": {"label_path": "labels.txt", "label_size": "normal"}},
    "encode": {"class_name": "cnstream::Encode", "parallelism": 1,
               "custom_params": {"file_name": "out/output.mp4", "encoder_type": "cpu", "frame_rate": 25,
                                 "bit_rate": 1000000, "gop_size": 10, "device_id": 0}},
    "results": {"class_name": "ResultSink", "custom_params": {"path": "results.jsonl"}}
  })";

  const std::string cli = VSTREAM_CLI;
  const std::string check = ShellOutput(cli + " check \"" + dir / "config.json" + "\" 2>&1");
  EXPECT_NE(check.find("config.json: OK (6 modules)"), std::string::npos) << check;
  EXPECT_EQ(Count(check, "module 'source': 'reuse_cndec_buf' (CNStream) does not apply here"), 1u) << check;
  EXPECT_EQ(Count(check, "module 'detector': preproc_name 'CNCV'"), 1u) << check;
  EXPECT_EQ(Count(check, "module 'encode': 'device_id' (CNStream) does not apply here"), 1u) << check;

  ASSERT_EQ(Shell(cli + " run \"" + dir / "config.json" + "\" --input cam=\"" + dir / "megamind.mp4" + "\" 2>\"" +
                  dir / "run.log" + "\""),
            0)
      << ShellOutput("cat \"" + dir / "run.log" + "\"");
  std::ifstream results(dir / "results.jsonl");
  std::vector<int64_t> frames;
  size_t with_face = 0;
  for (std::string line; std::getline(results, line);) {
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["stream_id"], "cam");
    frames.push_back(json["frame_index"].get<int64_t>());
    with_face += json["objects"].empty() ? 0 : 1;
  }
  ASSERT_EQ(frames.size(), 20u) << ShellOutput("cat \"" + dir / "run.log" + "\"");
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(frames[static_cast<size_t>(i)], i);
  EXPECT_GE(with_face, 15u);  // the translated preprocessing feeds BlazeFace what it expects
  // CNStream's file_name out/output.mp4 is out/output_<stream>.mp4.
  EXPECT_EQ(ProbeFrameCount(dir / "out/output_cam.mp4"), 20);
}

}  // namespace
}  // namespace vstream::test
