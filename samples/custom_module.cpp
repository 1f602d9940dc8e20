// A custom module (brightness.hpp), registered by name and used from a JSON config, in a pipeline
// embedded in an application that watches events and prints stats. The same class is also built as
// a plugin, libsample_brightness.so, for the vstream tool.
//
//   build/samples/sample_custom_module
#include <iostream>

#include <vstream/vstream.hpp>

#include "brightness.hpp"  // the module class (registered in brightness.cpp)


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
  if (vstream::Status s = pipeline.Stop(); !s) std::cerr << s.message() << "\n";
  std::cout << pipeline.GetStats().ToTable();
  std::cout << "bright frames: " << pipeline.GetModule<Brightness>("bright")->bright << " (expected 110)\n";
  return 0;
}
