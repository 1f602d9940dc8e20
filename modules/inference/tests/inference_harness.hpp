// Models for the Inferencer tests: BlazeFace from the model cache (scripts/fetch_models.sh), and
// small ONNX models generated at test time by tests/data/make_models.py.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "media.hpp"
#include "test_modules.hpp"
#include "vstream/modules/inferencer.hpp"
#include "vstream/vstream.hpp"

namespace vstream::test {

/// BlazeFace's front model; fails the test with what to run when it is not in the cache.
inline std::string BlazeFaceModel() {
  const char* cache = std::getenv("VSTREAM_CACHE");
  const char* home = std::getenv("HOME");
  const std::filesystem::path root = cache != nullptr ? std::filesystem::path(cache)
                                                      : std::filesystem::path(home != nullptr ? home : "/root") / ".cache/vstream";
  const auto model = root / "models/blazeface/face_detection_front_128x128_barracuda.onnx";
  EXPECT_TRUE(std::filesystem::exists(model)) << model << " is missing: run scripts/fetch_models.sh";
  return model.string();
}

/// colour_classifier.onnx and colours.txt (see tests/data/make_models.py), made once per process.
inline const std::filesystem::path& GeneratedModels() {
  static ScratchDir dir("models");
  static const bool made = [] {
    return Shell(std::string("/usr/bin/python3 ") + VSTREAM_TEST_DATA_DIR + "/make_models.py \"" + dir.path().string() +
                 "\"") == 0;
  }();
  EXPECT_TRUE(made) << "tests/data/make_models.py failed (python3-onnx is installed by scripts/deps.sh)";
  return dir.path();
}

inline std::string ClassifierParams(const std::string& extra = "") {
  const auto& dir = GeneratedModels();
  return R"("model_path": ")" + (dir / "colour_classifier.onnx").string() + R"(", "postproc_name": "classification",
            "labels_path": ")" + (dir / "colours.txt").string() + R"(", "input_width": 16, "input_height": 16)" +
         (extra.empty() ? "" : ", " + extra);
}

/// BlazeFace's preprocessing: 128x128 RGB in [-1, 1], letterboxed.
inline std::string BlazeFaceParams(const std::string& extra = "") {
  return R"("model_path": ")" + BlazeFaceModel() + R"(", "postproc_name": "blazeface", "resize": "letterbox",
            "scale": 0.0078431373, "mean": "1,1,1")" +
         (extra.empty() ? "" : ", " + extra);
}

}  // namespace vstream::test
