// A custom module, registered by name and used from a JSON config, in a pipeline embedded in an
// application that watches events and prints stats.
//
//   build/samples/sample_custom_module
#include <atomic>
#include <iostream>

#include <vstream/vstream.hpp>

// Marks frames whose average brightness is above a threshold. Declares its parameter so configs
// are validated (and `vstream inspect Brightness` documents it).
class Brightness : public vstream::Module {
 public:
  using Module::Module;

  static vstream::ModuleDescription Describe() {
    return {"Flags bright frames",
            {vstream::ParamSpec::Int("threshold", 128, "mean pixel value that counts as bright").Range(0, 255)}};
  }

  bool Open(const vstream::ModuleParams& params) override {
    threshold_ = static_cast<int>(params.GetInt("threshold"));
    return true;
  }
  void Close() override {}

  int Process(vstream::FramePtr frame) override {
    if (frame->IsEos() || frame->image.empty()) return 0;  // EOS passes through every module
    const vstream::VideoFrame& image = frame->image;
    uint64_t sum = 0;
    for (int y = 0; y < image.height(); ++y) {
      const uint8_t* row = image.plane(0) + static_cast<size_t>(y) * image.stride(0);
      for (int x = 0; x < image.plane_row_bytes(0); ++x) sum += row[x];
    }
    const double mean = static_cast<double>(sum) / (static_cast<double>(image.plane_row_bytes(0)) * image.height());
    frame->data.Set("bright", mean > threshold_);
    if (mean > threshold_) ++bright;
    return 0;
  }

  std::atomic<int> bright{0};

 private:
  int threshold_ = 128;
};
VSTREAM_REGISTER_MODULE(Brightness);

int main() {
  // SyntheticSource fills frame i with the value i % 256: frames 201..255 of each stream are bright.
  const char* config = R"({
    "source": { "class_name": "SyntheticSource", "next_modules": ["bright"],
                "custom_params": { "streams": 2, "frames": 256, "width": 160, "height": 90 } },
    "bright": { "class_name": "Brightness", "parallelism": 2, "custom_params": { "threshold": 200 } }
  })";
  vstream::Pipeline pipeline;
  if (vstream::Status s = pipeline.BuildFromString(config); !s) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  pipeline.SetObserver([](const vstream::Event& event) {
    std::cout << "event: " << vstream::EventTypeName(event.type) << " " << event.stream_id << "\n";
  });
  if (vstream::Status s = pipeline.Start(); !s) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  pipeline.WaitForStreams();
  pipeline.Stop();
  std::cout << pipeline.GetStats().ToTable();
  std::cout << "bright frames: " << pipeline.GetModule<Brightness>("bright")->bright << " (expected 110)\n";
  return 0;
}
