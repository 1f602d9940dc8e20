// TestPluginStamp: the module class of the test plugins (see CMakeLists.txt). It adds an object
// labelled `label` to every frame, which ResultSink then writes.
#include <string>
#include <utility>

#include "vstream/vstream.hpp"

namespace {

class TestPluginStamp : public vstream::Module {
 public:
  using Module::Module;
  static vstream::ModuleDescription Describe() {
    return {"Adds an object labelled `label` to every frame (a module of the test plugins).",
            {vstream::ParamSpec::String("label", "plugin", "the label of the object it adds")}};
  }
  vstream::Status Open(const vstream::ModuleParams& params) override {
    label_ = params.GetString("label");
    return {};
  }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->IsEos()) return {};
    vstream::DetectedObject object;
    object.box = {0.25f, 0.25f, 0.5f, 0.5f};
    object.label = label_;
    object.score = 1;
    auto lock = frame->LockObjects();
    frame->objects.push_back(std::move(object));
    return {};
  }

 private:
  std::string label_;
};

}  // namespace

VSTREAM_REGISTER_MODULE(TestPluginStamp);
