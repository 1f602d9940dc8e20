// Brightness: a custom module class, shared by the sample program (custom_module.cpp) and the
// sample plugin (brightness.cpp built as libsample_brightness.so).
#pragma once

#include <atomic>
#include <cstdint>

#include <vstream/vstream.hpp>

// Marks frames whose average brightness is above a threshold. Declares its parameter so configs
// are validated, and `vstream inspect Brightness --plugin build/samples/libsample_brightness.so`
// documents it.
class Brightness : public vstream::Module {
 public:
  using Module::Module;

  static vstream::ModuleDescription Describe() {
    return {"Flags bright frames",
            {vstream::ParamSpec::Int("threshold", 128, "mean pixel value that counts as bright").Range(0, 255)}};
  }

  vstream::Status Open(const vstream::ModuleParams& params) override {
    threshold_ = static_cast<int>(params.GetInt("threshold"));
    return {};
  }
  void Close() override {}

  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->IsEos() || frame->image.empty()) return {};  // EOS passes through every module
    const vstream::VideoFrame& image = frame->image;
    uint64_t sum = 0;
    for (int y = 0; y < image.height(); ++y) {
      const uint8_t* row = image.plane(0) + static_cast<size_t>(y) * image.stride(0);
      for (int x = 0; x < image.plane_row_bytes(0); ++x) sum += row[x];
    }
    const double mean = static_cast<double>(sum) / (static_cast<double>(image.plane_row_bytes(0)) * image.height());
    frame->data.Set("bright", mean > threshold_);
    if (mean > threshold_) ++bright;
    return {};
  }

  std::atomic<int> bright{0};

 private:
  int threshold_ = 128;
};
