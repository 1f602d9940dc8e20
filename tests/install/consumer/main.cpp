// A program built against an installed vstream: runs a small pipeline and prints what it saw.
#include <atomic>
#include <iostream>

#include <vstream/vstream.hpp>

class Count : public vstream::Module {
 public:
  using Module::Module;
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    if (!frame->IsEos()) ++frames;
    return {};
  }
  std::atomic<int> frames{0};
};
VSTREAM_REGISTER_MODULE(Count);

int main() {
  vstream::Pipeline pipeline;
  vstream::Status s = pipeline.BuildFromString(R"({
    "src": {"class_name": "SyntheticSource", "next_modules": ["count"],
            "custom_params": {"streams": 3, "frames": 10, "width": 64, "height": 32}},
    "count": {"class_name": "Count"}})");
  if (s) s = pipeline.Start();
  if (!s) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  pipeline.WaitForStreams();
  if (auto s = pipeline.Stop(); !s) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  std::cout << "consumer ok: " << pipeline.GetModule<Count>("count")->frames << " frames\n";
  return 0;
}
