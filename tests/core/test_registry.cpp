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
  bool Open(const ModuleParams& params) override {
    label_ = params.GetString("label");
    return true;
  }
  void Close() override {}
  int Process(FramePtr frame) override {
    frame->data.Set("stamp", label_);
    return 0;
  }

 private:
  std::string label_;
};
VSTREAM_REGISTER_MODULE(Stamp);

// Checks the stamp and counts it.
class StampCheck : public test::Stage {
 public:
  using Stage::Stage;
  int Process(FramePtr frame) override {
    if (frame->IsEos()) return 0;
    const std::string* stamp = frame->data.Get<std::string>("stamp");
    if (stamp != nullptr && *stamp == "hello") ++stamped;
    return 0;
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
  pipeline.Stop();
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

// A source or a stage depending on its config (as ModuleIPC: server or client).
class Switchable : public SourceModule {
 public:
  using SourceModule::SourceModule;
  static ModuleDescription Describe() {
    return {"source or stage", {ParamSpec::Enum("role", "stage", {"source", "stage"}, "what it is")}};
  }
  static bool IsSource(const std::map<std::string, std::string>& params) {
    auto it = params.find("role");
    return it != params.end() && it->second == "source";
  }
  bool Open(const ModuleParams&) override { return true; }
  void Close() override {}
  int Process(FramePtr frame) override {
    if (!frame->IsEos()) ++processed;
    return 0;
  }
  std::atomic<int> processed{0};

 protected:
  Status OnAddSource(const std::string& id, const std::string&, const StreamOptions&) override {
    for (int64_t i = 0; i < 3; ++i) Transmit(Frame::Create(id, i));
    EndStream(id, 3);
    return Status::Ok();
  }
  void OnRemoveSource(const std::string&) override {}
};
VSTREAM_REGISTER_MODULE(Switchable);

TEST(Registry, SourceOrStageByConfiguration) {
  const auto* entry = ModuleRegistry::Instance().Find("Switchable");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->IsSource({{"role", "source"}}));
  EXPECT_FALSE(entry->IsSource({{"role", "stage"}}));
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
  pipeline.Stop();
  EXPECT_EQ(pipeline.GetModule<Switchable>("middle")->processed, 3);
  EXPECT_EQ(pipeline.GetModule<test::Recorder>("sink")->total(), 3u);
  // In the source role it cannot have parents.
  GraphConfig config;
  ASSERT_TRUE(GraphConfig::FromString(R"({
      "head": {"class_name": "Switchable", "next_modules": ["tail"], "custom_params": {"role": "source"}},
      "tail": {"class_name": "Switchable", "custom_params": {"role": "source"}}})", "/", &config));
  EXPECT_NE(config.Validate().message().find("module 'tail' is a source (Switchable)"), std::string::npos)
      << config.Validate().message();
}

TEST(Registry, OpenFailureNamesTheModuleAndTheReason) {
  class Refuses : public Module {
   public:
    using Module::Module;
    bool Open(const ModuleParams&) override { return Fail("model_path: file not found: /x.onnx"); }
    void Close() override {}
    int Process(FramePtr) override { return 0; }
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
