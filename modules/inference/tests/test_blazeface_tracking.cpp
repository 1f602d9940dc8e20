// BlazeFace and the Tracker on real video (opencv-doc's Megamind_bugy.avi, a clip of three shots
// with damaged frames): the face keeps one track id through each shot, fast turns included (the
// tracker before the Kalman filter gave it a new id halfway through the first shot).
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "inference_harness.hpp"

namespace vstream {
namespace {

const char* kMegamindBugy = "/usr/share/doc/opencv-doc/examples/data/Megamind_bugy.avi";

// Keeps the objects of every frame (not the images, which would hold the decoder's buffers).
class ObjectLog : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    auto objects_lock = frame->LockObjects();
    std::lock_guard<std::mutex> lock(mutex_);
    objects_[frame->frame_index] = frame->objects;
    return {};
  }
  std::map<int64_t, std::vector<DetectedObject>> objects() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return objects_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<int64_t, std::vector<DetectedObject>> objects_;  // by frame index; guarded by mutex_
};
VSTREAM_REGISTER_MODULE(ObjectLog);

TEST(BlazeFaceTracking, TheFaceKeepsOneIdThroughEachShot) {
  ASSERT_TRUE(std::filesystem::exists(kMegamindBugy)) << "scripts/deps.sh installs opencv-doc";
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "src": {"class_name": "DataSource", "next_modules": ["faces"]},
      "faces": {"class_name": "Inferencer", "next_modules": ["track"], "custom_params": {)" +
                                      test::BlazeFaceParams(R"("batch_size": 4)") + R"(}},
      "track": {"class_name": "Tracker", "next_modules": ["log"]},
      "log": {"class_name": "ObjectLog"}})");
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("clip", kMegamindBugy));
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(120)));
  EXPECT_TRUE(pipeline.Stop());
  const auto frames = pipeline.GetModule<ObjectLog>("log")->objects();
  ASSERT_EQ(frames.size(), 270u);

  // The clip cuts to another shot at frames 98 and 154. In each shot, the main face is the largest.
  std::vector<std::set<int64_t>> ids(3);
  std::vector<int> faces(3, 0);
  for (const auto& [index, objects] : frames) {
    for (const auto& face : objects) EXPECT_GE(face.track_id, 1) << "frame " << index;
    if (objects.empty()) continue;
    const auto largest = std::max_element(objects.begin(), objects.end(), [](const auto& a, const auto& b) {
      return a.box.w * a.box.h < b.box.w * b.box.h;
    });
    const size_t shot = index < 98 ? 0 : (index < 154 ? 1 : 2);
    ++faces[shot];
    ids[shot].insert(largest->track_id);
  }
  for (size_t shot = 0; shot < 3; ++shot) {
    EXPECT_GE(faces[shot], 40) << "shot " << shot;
    EXPECT_EQ(ids[shot].size(), 1u) << "shot " << shot << ": the face changed ids";
  }
}

}  // namespace
}  // namespace vstream
