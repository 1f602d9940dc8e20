// An application that embeds a face-detection pipeline: it builds the pipeline from a config,
// watches its events, and reads the results through a module of its own.
//
//   scripts/fetch_models.sh && build/samples/sample_embed_face_detection [VIDEO...]
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>

#include <vstream/vstream.hpp>

// The application's end of the pipeline: counts faces per stream and remembers the best one.
class FaceCollector : public vstream::Module {
 public:
  using Module::Module;
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->IsEos()) return {};
    std::lock_guard<std::mutex> lock(mutex_);
    Summary& s = summaries_[frame->stream_id];
    ++s.frames;
    for (const auto& face : frame->objects) {
      ++s.faces;
      if (face.score > s.best_score) {
        s.best_score = face.score;
        s.best_frame = frame->frame_index;
      }
    }
    return {};
  }
  void Print() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [stream, s] : summaries_) {
      std::cout << s.faces << " faces in " << stream << " (" << s.frames << " frames; best score " << s.best_score
                << " at frame " << s.best_frame << ")\n";
    }
  }

 private:
  struct Summary {
    int64_t frames = 0;
    int64_t faces = 0;
    float best_score = 0;
    int64_t best_frame = -1;
  };
  std::mutex mutex_;
  std::map<std::string, Summary> summaries_;  // guarded by mutex_
};
VSTREAM_REGISTER_MODULE(FaceCollector);

int main(int argc, char** argv) {
  const char* config = R"({
    "source": { "class_name": "DataSource", "next_modules": ["detect"] },
    "detect": { "class_name": "Inferencer", "parallelism": 2, "next_modules": ["track"],
                "custom_params": {
                  "model_path": "~/.cache/vstream/models/blazeface/face_detection_front_128x128_barracuda.onnx",
                  "postproc_name": "blazeface", "resize": "letterbox", "scale": 0.0078431373, "mean": [1, 1, 1] } },
    "track":  { "class_name": "Tracker", "next_modules": ["app"] },
    "app":    { "class_name": "FaceCollector" }
  })";
  vstream::Pipeline pipeline("faces");
  if (vstream::Status s = pipeline.BuildFromString(config); !s) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  // Events arrive on their own thread, in order: stream ends, errors, drops.
  pipeline.SetObserver([](const vstream::Event& event) {
    if (event.type == vstream::EventType::kStreamEos) std::cout << "finished: " << event.stream_id << "\n";
    if (event.type == vstream::EventType::kStreamError) std::cout << "error: " << event.message << "\n";
  });
  if (vstream::Status s = pipeline.Start(); !s) {
    std::cerr << s.message() << "\n";  // e.g. the model is missing: run scripts/fetch_models.sh
    return 1;
  }
  std::vector<std::string> videos(argv + 1, argv + argc);
  if (videos.empty()) videos = {"/usr/share/doc/opencv-doc/examples/data/Megamind.avi"};
  for (size_t i = 0; i < videos.size(); ++i) {
    const std::string id = i == 0 && argc == 1 ? "megamind" : "video" + std::to_string(i);
    if (vstream::Status s = pipeline.AddSource(id, videos[i]); !s) std::cerr << s.message() << "\n";
  }
  pipeline.WaitForStreams();
  if (vstream::Status s = pipeline.Stop(); !s) std::cerr << s.message() << "\n";  // delivers the remaining events
  pipeline.GetModule<FaceCollector>("app")->Print();
  return 0;
}
