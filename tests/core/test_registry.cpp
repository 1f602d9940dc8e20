// Registration by class name: a module defined here registers itself and runs from JSON.
#include <gtest/gtest.h>

#include "test_modules.hpp"
#include "vstream/vstream.hpp"

namespace vstream {
namespace {

// A custom module as a user would write it: declares a parameter and writes user data.
class Stamp : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"writes a label into every frame's user data", {ParamSpec::String("label", "stamped", "what to write")}};
  }
  Status Open(const ModuleParams& params) override {
    label_ = params.GetString("label");
    return {};
  }
  void Close() override {}
  Status Process(FramePtr frame) override {
    frame->data.Set("stamp", label_);
    return {};
  }

 private:
  std::string label_;
};
VSTREAM_REGISTER_MODULE(Stamp);

// Checks the stamp and counts it.
class StampCheck : public test::Stage {
 public:
  using Stage::Stage;
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    const std::string* stamp = frame->data.Get<std::string>("stamp");
    if (stamp != nullptr && *stamp == "hello") ++stamped;
    return {};
  }
  std::atomic<int> stamped{0};
};
VSTREAM_REGISTER_MODULE(StampCheck);

TEST(Registry, CustomModuleRegistersByNameAndRuns) {
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(test::SyntheticConfig(3, 20, R"("stamp")", R"(
      "stamp": {"class_name": "Stamp", "parallelism": 2, "next_modules": ["check"],
                "custom_params": {"label": "hello"}},
      "check": {"class_name": "cnstream::StampCheck"})"));
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_EQ(pipeline.GetModule<StampCheck>("check")->stamped, 60);
  EXPECT_TRUE(pipeline.Stop());
}

TEST(Registry, AllThreeSpellingsResolve) {
  auto& registry = ModuleRegistry::Instance();
  const auto* plain = registry.Find("Stamp");
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(registry.Find("vstream::Stamp"), plain);
  EXPECT_EQ(registry.Find("cnstream::Stamp"), plain);
  EXPECT_EQ(registry.Find("other::Stamp"), nullptr);
  auto module = registry.Create("cnstream::Stamp", "s1");
  ASSERT_NE(module, nullptr);
  EXPECT_EQ(module->name(), "s1");
  EXPECT_FALSE(plain->is_source);
  EXPECT_TRUE(registry.Find("SyntheticSource")->is_source);
}

TEST(Registry, DescriptionAndDuplicateNames) {
  auto& registry = ModuleRegistry::Instance();
  const ModuleDescription description = registry.Find("Stamp")->describe();
  ASSERT_EQ(description.params.size(), 1u);
  EXPECT_EQ(description.params[0].name, "label");
  // A second class under a taken name is refused; the first stays.
  EXPECT_FALSE(registry.Register(detail::MakeRegistryEntry<StampCheck>("Stamp")));
  EXPECT_EQ(registry.Find("Stamp")->describe().params.size(), 1u);
  // A class without Describe() takes no custom_params.
  EXPECT_TRUE(registry.Find("StampCheck")->describe().params.empty());
}

// One class name that stands for a source or a stage depending on its config (as ModuleIPC stands
// for IpcReceiver or IpcSender): Entry::choose picks the class when the config loads.
ModuleDescription DescribeSwitchable() {
  return {"source or stage", {ParamSpec::Enum("role", "stage", {"source", "stage"}, "what it is")}};
}

class SwitchableSource : public SourceModule {
 public:
  using SourceModule::SourceModule;
  static ModuleDescription Describe() { return DescribeSwitchable(); }
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}

 protected:
  Status OnAddSource(const std::string& id, const std::string&, const StreamOptions&) override {
    for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(Transmit(Frame::Create(id, i)));
    EXPECT_TRUE(EndStream(id, 3));
    return Status::Ok();
  }
  void OnRemoveSource(const std::string&) override {}
};
VSTREAM_REGISTER_MODULE(SwitchableSource);

class SwitchableStage : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() { return DescribeSwitchable(); }
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (!frame->IsEos()) ++processed;
    return {};
  }
  std::atomic<int> processed{0};
};
VSTREAM_REGISTER_MODULE(SwitchableStage);

const bool kSwitchableRegistered = ModuleRegistry::Instance().Register([] {
  ModuleRegistry::Entry entry;
  entry.class_name = "Switchable";
  entry.describe = DescribeSwitchable;
  entry.choose = [](const std::map<std::string, std::string>& params) -> std::string {
    auto it = params.find("role");
    return it != params.end() && it->second == "source" ? "SwitchableSource" : "SwitchableStage";
  };
  return entry;
}());

TEST(Registry, OneNameChoosesTheClassByConfiguration) {
  ASSERT_TRUE(kSwitchableRegistered);
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  ASSERT_NE(registry.Find("Switchable"), nullptr);
  EXPECT_EQ(registry.Resolve("cnstream::Switchable", {{"role", "source"}})->class_name, "SwitchableSource");
  EXPECT_EQ(registry.Resolve("Switchable", {{"role", "stage"}})->class_name, "SwitchableStage");
  EXPECT_TRUE(registry.Resolve("Switchable", {{"role", "source"}})->is_source);
  EXPECT_EQ(registry.Create("Switchable", "x"), nullptr);  // a choice makes no module itself
  Pipeline pipeline;
  Status s = pipeline.BuildFromString(R"({
      "head": {"class_name": "Switchable", "next_modules": ["middle"], "custom_params": {"role": "source"}},
      "middle": {"class_name": "Switchable", "next_modules": ["sink"], "custom_params": {"role": "stage"}},
      "sink": {"class_name": "Recorder"}})");
  ASSERT_TRUE(s) << s.message();
  ASSERT_TRUE(pipeline.Start());
  ASSERT_TRUE(pipeline.AddSource("cam", "", {}, "head"));
  EXPECT_EQ(pipeline.AddSource("other", "", {}, "middle").code(), StatusCode::kNotFound);  // a stage here
  ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(30)));
  EXPECT_TRUE(pipeline.Stop());
  EXPECT_EQ(pipeline.GetModule<SwitchableStage>("middle")->processed, 3);
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 3u);
  // In the source role it cannot have parents; a value outside the choice's parameters is refused.
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(R"({
      "head": {"class_name": "Switchable", "next_modules": ["tail"], "custom_params": {"role": "source"}},
      "tail": {"class_name": "Switchable", "custom_params": {"role": "source"}}})", "/", &config));
  EXPECT_NE(config.Validate().message().find("module 'tail' is a source (SwitchableSource)"), std::string::npos)
      << config.Validate().message();
  ASSERT_TRUE(GraphConfig::FromString(R"({
      "head": {"class_name": "Switchable", "custom_params": {"role": "sauce"}}})", "/", &config));
  EXPECT_NE(config.Validate().message().find("role"), std::string::npos) << config.Validate().message();
}

TEST(Registry, OpenFailureNamesTheModuleAndTheReason) {
  class Refuses : public Module {
   public:
    using Module::Module;
    Status Open(const ModuleParams&) override { return Fail("model_path: file not found: /x.onnx"); }
    void Close() override {}
    Status Process(FramePtr) override { return {}; }
  };
  ModuleRegistry::Instance().Register(detail::MakeRegistryEntry<Refuses>("Refuses"));
  const int threads_before = test::ThreadCount();
  Pipeline pipeline;
  ASSERT_TRUE(pipeline.BuildFromString(test::SyntheticConfig(1, 5, R"("r")", R"("r": {"class_name": "Refuses"})")));
  Status s = pipeline.Start();
  EXPECT_FALSE(s);
  EXPECT_EQ(s.message(), "module 'r' (Refuses) failed to open: model_path: file not found: /x.onnx");
  EXPECT_FALSE(pipeline.running());
  EXPECT_EQ(test::ThreadCount(), threads_before);  // nothing left running
}

}  // namespace
}  // namespace vstream
