// Engines and devices: `engine` selects any registered InferenceBackend (here a fake one, defined
// and registered by this test binary), each instance is bound to its device and says which, devices
// this machine lacks fail Open, and the three name registries (pre/postprocessors, engines) behave
// like every NamedRegistry.
#include <algorithm>
#include <fstream>
#include <mutex>
#include <thread>

#include "inference_harness.hpp"
#include "vstream/inference/backend.hpp"
#include "vstream/inference/processing.hpp"

namespace vstream {
namespace {

// A fake engine: no model, a 32x24 RGB NCHW input, and one SSD-style output per item: a row of
// label 1 ("person") when the item is bright (mean input > 0.5), label 2 ("car") when dark, always
// at (0.1, 0.2)-(0.5, 0.6) with score 0.9, and a row below the default threshold that must vanish.
class FixedSsdBackend : public InferenceBackend {
 public:
  struct Seen {
    std::mutex mutex;
    std::vector<BackendOptions> loads;
    int64_t items_run = 0;
  };
  static Seen& seen() {
    static Seen instance;
    return instance;
  }

  Status Load(const std::filesystem::path&, const BackendOptions& options, ModelInfo* info) override {
    if (options.device_id > 9) {
      return {StatusCode::kUnavailable, "device " + std::to_string(options.device_id) + " is not a fake device"};
    }
    {
      std::lock_guard<std::mutex> lock(seen().mutex);
      seen().loads.push_back(options);
    }
    device_ = options.device_id < 0 ? "fake-cpu" : "fake:" + std::to_string(options.device_id);
    info->input_shape = {-1, 3, 24, 32};
    info->layout = TensorLayout::kNCHW;
    info->input_width = 32;
    info->input_height = 24;
    info->input_channels = 3;
    info->output_names = {"detections"};
    return Status::Ok();
  }
  Status Prepare(const std::vector<int64_t>& item_shape, int wanted_batch, int* max_batch) override {
    if (item_shape != std::vector<int64_t>{1, 3, 24, 32}) {
      return {StatusCode::kInvalidArgument, "unexpected input shape"};
    }
    *max_batch = wanted_batch;
    return Status::Ok();
  }
  Status Run(const Tensor& input, std::vector<Tensor>* outputs) override {
    Tensor out({input.batch(), 2, 7});
    for (int64_t i = 0; i < input.batch(); ++i) {
      const float* pixels = input.item(i);
      double sum = 0;
      for (int64_t k = 0; k < input.item_size(); ++k) sum += pixels[k];
      const float label = sum / static_cast<double>(input.item_size()) > 0.5 ? 1.0f : 2.0f;
      const float rows[14] = {static_cast<float>(i), label, 0.9f, 0.1f, 0.2f, 0.5f, 0.6f,
                              static_cast<float>(i), 1.0f, 0.1f, 0.0f, 0.0f, 1.0f, 1.0f};
      std::copy_n(rows, 14, out.item(i));
    }
    outputs->assign(1, std::move(out));
    std::lock_guard<std::mutex> lock(seen().mutex);
    seen().items_run += input.batch();
    return Status::Ok();
  }
  std::string device() const override { return device_; }

 private:
  std::string device_;
};

const bool kFakeRegistered =
    RegisterInferenceBackend("test_fixed_ssd", [] { return std::make_unique<FixedSsdBackend>(); });

// The fake engine on a slow device: every batch takes at least 30 ms.
class SlowSsdBackend : public FixedSsdBackend {
 public:
  Status Run(const Tensor& input, std::vector<Tensor>* outputs) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the device's work, not synchronization
    return FixedSsdBackend::Run(input, outputs);
  }
};
const bool kSlowRegistered =
    RegisterInferenceBackend("test_slow_ssd", [] { return std::make_unique<SlowSsdBackend>(); });

// ManualSource -> Inferencer(params, parallelism) -> Recorder, started.
class InferPipeline {
 public:
  InferPipeline(const std::string& params, int parallelism) {
    status = pipeline.BuildFromString(R"({
        "src": {"class_name": "ManualSource", "next_modules": ["infer"]},
        "infer": {"class_name": "Inferencer", "parallelism": )" + std::to_string(parallelism) +
                                      R"(, "next_modules": ["sink"], "custom_params": {)" + params + R"(}},
        "sink": {"class_name": "Recorder", "custom_params": {"keep": true}}})");
    if (status) status = pipeline.Start();
    source = pipeline.GetModule<test::ManualSource>("src");
    infer = pipeline.GetModule<Inferencer>("infer");
    sink = pipeline.GetModule<test::Recorder>("sink");
  }
  // Pushes `frames` frames to each stream (bright on even indices, dark on odd), ends them, waits.
  void Run(const std::vector<std::string>& streams, int frames) {
    for (const auto& id : streams) ASSERT_TRUE(pipeline.AddSource(id, ""));
    for (int i = 0; i < frames; ++i) {
      for (const auto& id : streams) {
        const uint8_t v = i % 2 == 0 ? 240 : 15;
        ASSERT_TRUE(source->Push(test::SolidFrame(id, i, v, v, v)));
      }
    }
    for (const auto& id : streams) source->End(id, frames);
    ASSERT_TRUE(pipeline.WaitForStreams(std::chrono::seconds(60)));
  }
  Status status;
  Pipeline pipeline;
  test::ManualSource* source = nullptr;
  Inferencer* infer = nullptr;
  test::Recorder* sink = nullptr;
};

std::string StartError(const std::string& params, int parallelism = 1) {
  InferPipeline p(params, parallelism);
  const std::string message = p.status ? "" : p.status.message();
  EXPECT_TRUE(p.pipeline.Stop());
  return message;
}

void ExpectOpenFails(const std::string& params, const std::string& expected, int parallelism = 1) {
  const std::string message = StartError(params, parallelism);
  EXPECT_NE(message.find("module 'infer' (Inferencer) failed to open"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << "got: " << message << "\nwanted: " << expected;
}

bool Contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(InferencerEngines, ARegisteredBackendRunsByName) {
  ASSERT_TRUE(kFakeRegistered);
  test::ScratchDir dir("inference_engines");
  std::ofstream(dir / "fake.model") << "the fake engine does not read its model";
  std::ofstream(dir / "labels.txt") << "background\nperson\ncar\n";
  const std::string params = R"("engine": "test_fixed_ssd", "model_path": ")" + dir / "fake.model" +
                             R"(", "postproc_name": "PostprocSsd", "labels_path": ")" + dir / "labels.txt" +
                             R"(", "scale": 0.0039215686, "batch_size": 3, "batching_timeout": 5,
                                "devices": "3,5", "backend": "fake_backend", "target": "fake_target")";
  {
    std::lock_guard<std::mutex> lock(FixedSsdBackend::seen().mutex);
    FixedSsdBackend::seen().loads.clear();
    FixedSsdBackend::seen().items_run = 0;
  }
  InferPipeline p(params, /*parallelism=*/2);
  ASSERT_TRUE(p.status) << p.status.message();
  // Each instance is bound to its turn in `devices` and says so.
  EXPECT_EQ(p.infer->InstanceDevices(), (std::vector<std::string>{"fake:3", "fake:5"}));
  const std::vector<std::string> streams = {"cam0", "cam1", "cam2", "cam3"};
  p.Run(streams, 6);
  EXPECT_TRUE(p.pipeline.Stop());
  EXPECT_FALSE(p.sink->out_of_order());
  for (const auto& id : streams) {
    const auto frames = p.sink->kept(id);
    ASSERT_EQ(frames.size(), 6u) << id;
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->objects.size(), 1u) << id << " #" << frame->frame_index;
      const DetectedObject& object = frame->objects[0];
      EXPECT_EQ(object.label, frame->frame_index % 2 == 0 ? "person" : "car") << id << " #" << frame->frame_index;
      EXPECT_FLOAT_EQ(object.score, 0.9f);
      EXPECT_NEAR(object.box.x, 0.1f, 1e-5);
      EXPECT_NEAR(object.box.y, 0.2f, 1e-5);
      EXPECT_NEAR(object.box.w, 0.4f, 1e-5);
      EXPECT_NEAR(object.box.h, 0.4f, 1e-5);
    }
  }
  std::lock_guard<std::mutex> lock(FixedSsdBackend::seen().mutex);
  EXPECT_EQ(FixedSsdBackend::seen().items_run, 24);
  // The engine got the device and the backend/target strings as written; `devices` allows no fallback.
  ASSERT_EQ(FixedSsdBackend::seen().loads.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const BackendOptions& o = FixedSsdBackend::seen().loads[i];
    EXPECT_EQ(o.device_id, i == 0 ? 3 : 5);
    EXPECT_FALSE(o.device_fallback);
    EXPECT_EQ(o.backend, "fake_backend");
    EXPECT_EQ(o.target, "fake_target");
    EXPECT_EQ(o.wanted_batch, 3);
    EXPECT_EQ(o.module, "infer");
  }
}

TEST(InferencerEngines, LatencyInStatsIsTheInferenceNotTheHandOver) {
  // Process only queues the frame for the executor's thread; the stats must show the work.
  ASSERT_TRUE(kSlowRegistered);
  test::ScratchDir dir("inference_latency");
  std::ofstream(dir / "fake.model") << "the fake engine does not read its model";
  InferPipeline p(R"("engine": "test_slow_ssd", "model_path": ")" + dir / "fake.model" +
                      R"(", "postproc_name": "ssd", "infer_interval": 2)",
                  1);
  ASSERT_TRUE(p.status) << p.status.message();
  p.Run({"cam0"}, 10);
  EXPECT_TRUE(p.pipeline.Stop());
  const PipelineStats stats = p.pipeline.GetStats();
  ASSERT_EQ(stats.modules[1].name, "infer");
  // Every inferred frame (0, 2, 4, 6, 8) took a 30 ms batch; the passed-through ones are not counted.
  EXPECT_GE(stats.modules[1].latency_p50_ms, 30.0);
  EXPECT_GE(stats.modules[1].latency_p99_ms, stats.modules[1].latency_p50_ms);
}

TEST(InferencerEngines, AnEngineThatIsNotRegisteredFailsOpen) {
  const std::string classifier = (test::GeneratedModels() / "colour_classifier.onnx").string();
  ExpectOpenFails(R"("engine": "tensorrt", "model_path": ")" + classifier + R"(", "postproc_name": "classification")",
                  "engine: inference backend 'tensorrt' is not registered; known: ");
  ExpectOpenFails(R"("engine": "opencvv", "model_path": ")" + classifier + R"(", "postproc_name": "classification")",
                  "engine: inference backend 'opencvv' is not registered (did you mean 'opencv'?); known: opencv");
  // The engine's own device errors name the param that chose the device.
  ExpectOpenFails(R"("engine": "test_fixed_ssd", "model_path": ")" + classifier +
                      R"(", "postproc_name": "ssd", "device_id": 12)",
                  "device_id: device 12 is not a fake device");
}

TEST(InferencerEngines, EngineRegistry) {
  EXPECT_TRUE(Contains(InferenceBackendNames(), "opencv"));
  EXPECT_TRUE(Contains(InferenceBackendNames(), "test_fixed_ssd"));
  EXPECT_FALSE(RegisterInferenceBackend("opencv", [] { return std::make_unique<FixedSsdBackend>(); }));
  EXPECT_FALSE(RegisterInferenceBackend("test_null_factory", nullptr));
  EXPECT_FALSE(RegisterInferenceBackend("", [] { return std::make_unique<FixedSsdBackend>(); }));
  EXPECT_NE(CreateInferenceBackend("opencv"), nullptr);
  EXPECT_NE(CreateInferenceBackend("vstream::opencv"), nullptr);
  EXPECT_EQ(CreateInferenceBackend("nope"), nullptr);
}

TEST(InferencerEngines, PreAndPostprocessorRegistries) {
  // CNStream's names are aliases: found, but not listed, and not registrable again.
  const auto names = PostprocessorNames();
  for (const char* name : {"blazeface", "classification", "ssd", "yolo"}) EXPECT_TRUE(Contains(names, name)) << name;
  for (const char* alias : {"PostprocClassification", "PostprocSsd", "PostprocYolov5"}) {
    EXPECT_FALSE(Contains(names, alias)) << alias;
    EXPECT_TRUE(FindPostprocessor(alias)) << alias;
    EXPECT_FALSE(RegisterPostprocessor(alias, FindPostprocessor("ssd"))) << alias;
  }
  EXPECT_TRUE(FindPostprocessor("cnstream::PostprocSsd"));
  EXPECT_FALSE(FindPostprocessor("nope"));
  EXPECT_TRUE(Contains(PreprocessorNames(), "image"));
  EXPECT_TRUE(FindPreprocessor("image"));
  EXPECT_FALSE(RegisterPreprocessor("image", PreprocessImage));
  EXPECT_FALSE(RegisterPreprocessor("test_empty", nullptr));
  EXPECT_TRUE(RegisterPreprocessor("test_plain_image", PreprocessImage));
  EXPECT_TRUE(FindPreprocessor("test_plain_image"));

  const std::string classifier = (test::GeneratedModels() / "colour_classifier.onnx").string();
  ExpectOpenFails(R"("model_path": ")" + classifier + R"(", "postproc_name": "clasification")",
                  "postproc_name: postprocessor 'clasification' is not registered (did you mean 'classification'?); "
                  "known: blazeface, classification");
  ExpectOpenFails(R"("model_path": ")" + classifier + R"(", "postproc_name": "ssd", "preproc_name": "imagee")",
                  "preproc_name: preprocessor 'imagee' is not registered (did you mean 'image'?); known: image");
}

TEST(InferencerDevices, TwoInstancesBoundToTheCpuRun) {
  InferPipeline p(test::ClassifierParams(R"("devices": "-1,-1", "batch_size": 2, "batching_timeout": 5)"),
                  /*parallelism=*/2);
  ASSERT_TRUE(p.status) << p.status.message();
  EXPECT_EQ(p.infer->InstanceDevices(), (std::vector<std::string>{"cpu", "cpu"}));
  const std::vector<std::string> streams = {"a", "b", "c"};
  p.Run(streams, 4);
  EXPECT_TRUE(p.pipeline.Stop());
  for (const auto& id : streams) {
    const auto frames = p.sink->kept(id);
    ASSERT_EQ(frames.size(), 4u) << id;
    for (const auto& frame : frames) {
      ASSERT_EQ(frame->objects.size(), 1u);
      EXPECT_FALSE(frame->objects[0].label.empty());
    }
  }
}

TEST(InferencerDevices, ADeviceThisMachineLacksFailsOpen) {
  // Debian's OpenCV has no CUDA, and no machine has 42 of them: `devices` allows no fallback.
  ExpectOpenFails(test::ClassifierParams(R"("devices": "-1,42")"),
                  "devices: device 42 does not exist: this machine or this OpenCV build has no such device", 2);
  // An explicit target binds strictly too, even from device_id.
  ExpectOpenFails(test::ClassifierParams(R"("device_id": 3, "target": "cpu")"),
                  "device_id: device 3 does not exist: target 'cpu' runs on the CPU only");
  ExpectOpenFails(test::ClassifierParams(R"("target": "opencll")"),
                  "target: 'opencll' is not an OpenCV DNN target (did you mean 'opencl'?); known: auto, cpu, cuda");
  ExpectOpenFails(test::ClassifierParams(R"("backend": "openvno")"),
                  "backend: 'openvno' is not an OpenCV DNN backend (did you mean 'openvino'?)");
  ExpectOpenFails(test::ClassifierParams(R"("devices": "0,x")"), "devices must be device numbers");
}

TEST(InferencerDevices, CnstreamDeviceIdRunsOnTheBestAvailableDevice) {
  // A CNStream MLU card id in device_id (target auto): the instance runs on what this machine has.
  InferPipeline p(test::ClassifierParams(R"("device_id": 1)"), 1);
  ASSERT_TRUE(p.status) << p.status.message();
  const auto devices = p.infer->InstanceDevices();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_TRUE(devices[0] == "cpu" || devices[0] == "opencl" || devices[0] == "cuda:1") << devices[0];
  p.Run({"cam"}, 2);
  EXPECT_TRUE(p.pipeline.Stop());
  EXPECT_EQ(p.sink->kept("cam").size(), 2u);
}

}  // namespace
}  // namespace vstream
