// The split pipeline of configs/config_process1.json + config_process2.json (decode in one
// process, BlazeFace in another, joined by ModuleIPC) run by `vstream run a.json b.json` finds
// the same faces in the same frames as the same modules in one process.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "media.hpp"

namespace vstream::test {
namespace {

nlohmann::json ReadConfig(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
}

// (stream, frame index) -> the objects ResultSink wrote for it.
std::map<std::pair<std::string, int64_t>, nlohmann::json> ReadResults(const std::string& path) {
  std::map<std::pair<std::string, int64_t>, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line);
    out[{json["stream_id"].get<std::string>(), json["frame_index"].get<int64_t>()}] = json["objects"];
  }
  return out;
}

TEST(Multiprocess, SplitConfigsFindTheSameFacesAsOneProcess) {
  const std::string configs = VSTREAM_CONFIG_DIR;
  ScratchDir dir("split");
  const std::string cli = VSTREAM_CLI;
  const std::string split_results = dir / "split.jsonl";
  // The configs as they are, on a socket of this test's own and with the results written here.
  const std::string split = cli + " run " + configs + "/config_process1.json " + configs +
                            "/config_process2.json --set ipc.socket_address=" + (dir / "ipc.sock") +
                            " --set results.path=" + split_results + " 2>" + (dir / "split.log");
  ASSERT_EQ(Shell(split), 0) << ShellOutput("cat " + dir / "split.log");

  // The same modules in one process: process 1's source straight into process 2's detector.
  nlohmann::json first = ReadConfig(configs + "/config_process1.json");
  nlohmann::json second = ReadConfig(configs + "/config_process2.json");
  nlohmann::json single;
  single["source"] = first["source"];
  single["source"]["next_modules"] = {"detect"};
  single["detect"] = second["detect"];
  single["results"] = second["results"];
  const std::string single_results = dir / "single.jsonl";
  single["results"]["custom_params"]["path"] = single_results;
  std::ofstream(dir / "single.json") << single.dump(2);
  ASSERT_EQ(Shell(cli + " run " + dir / "single.json 2>" + dir / "single.log"), 0) << ShellOutput("cat " + dir / "single.log");

  const auto expected = ReadResults(single_results);
  const auto got = ReadResults(split_results);
  ASSERT_GT(expected.size(), 1000u);  // Megamind.avi 270 frames + vtest.avi 795
  ASSERT_EQ(got.size(), expected.size());
  size_t faces = 0;
  for (const auto& [key, objects] : expected) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << key.first << " frame " << key.second << " is missing";
    ASSERT_EQ(it->second.size(), objects.size()) << key.first << " frame " << key.second;
    for (size_t i = 0; i < objects.size(); ++i) {
      ++faces;
      // The same pixels through the same model: equal up to float noise from batch composition.
      EXPECT_NEAR(it->second[i]["score"].get<double>(), objects[i]["score"].get<double>(), 1e-3);
      for (int c = 0; c < 4; ++c) {
        EXPECT_NEAR(it->second[i]["box"][c].get<double>(), objects[i]["box"][c].get<double>(), 0.5) << key.first << " " << key.second;
      }
    }
  }
  EXPECT_GT(faces, 200u);  // Megamind shows a face in almost every frame
}

}  // namespace
}  // namespace vstream::test
