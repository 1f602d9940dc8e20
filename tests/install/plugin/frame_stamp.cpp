// FrameStamp: a module class in a plugin (libframe_stamp.so). It stamps every `every`-th frame of
// each stream with an object labelled `label` whose "frame" attribute is the frame's index, which
// ResultSink writes out; it also counts the frames it stamped.
#include <atomic>
#include <string>
#include <utility>

#include <vstream/vstream.hpp>

namespace {

class FrameStamp : public vstream::Module {
 public:
  using Module::Module;

  static vstream::ModuleDescription Describe() {
    return {"Stamps frames with an object labelled `label` (a plugin built out of tree).",
            {vstream::ParamSpec::String("label", "stamp", "label of the object added to stamped frames"),
             vstream::ParamSpec::Int("every", 1, "stamp every Nth frame of each stream (frame_index % every == 0)")
                 .Range(1, 1000)}};
  }

  vstream::Status Open(const vstream::ModuleParams& params) override {
    label_ = params.GetString("label");
    every_ = params.GetInt("every");
    return {};
  }
  void Close() override {}

  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->IsEos() || frame->frame_index % every_ != 0) return {};
    vstream::DetectedObject stamp;
    stamp.box = {0.f, 0.f, 1.f, 1.f};
    stamp.label = label_;
    stamp.score = 1.f;
    stamp.attributes["frame"] = std::to_string(frame->frame_index);
    {
      auto lock = frame->LockObjects();
      frame->objects.push_back(std::move(stamp));
    }
    frame->data.Set("frame_stamp", label_);
    ++stamped_;
    return {};
  }

 private:
  std::string label_;
  int64_t every_ = 1;
  std::atomic<int64_t> stamped_{0};
};

}  // namespace

VSTREAM_REGISTER_MODULE(FrameStamp);
