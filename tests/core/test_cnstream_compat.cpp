// CNStream configs: configs in the shape of CNStream's samples (6.x and 7.x, with subgraphs) pass
// the validation `vstream check` does, CNStream's keys and values arrive in the modules' params as
// vstream's, each key that does not apply here is logged once per config read, and what vstream
// cannot honour (classes, postprocessors, MLU-only model files ...) is an error that says what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "vstream/vstream.hpp"

namespace vstream {
namespace {

const std::filesystem::path kData = std::filesystem::path(VSTREAM_TEST_DATA_DIR) / "cnstream";

// Collects the log's lines while it lives.
class LogLines {
 public:
  LogLines() {
    SetLogCallback([this](LogLevel level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.push_back({level, std::string(line)});
    });
  }
  ~LogLines() { ResetLogOutput(); }

  /// Lines about `key` of `module`: they start with "module 'MODULE': " and quote the key.
  std::vector<std::pair<LogLevel, std::string>> About(const std::string& module, const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::pair<LogLevel, std::string>> found;
    const std::string prefix = "module '" + module + "': ";
    for (const auto& line : lines_) {
      if (line.second.rfind(prefix, 0) != 0) continue;
      const std::string text = line.second.substr(prefix.size());
      if (text.rfind("'" + key + "'", 0) == 0 || text.rfind(key + " '", 0) == 0) found.push_back(line);
    }
    return found;
  }
  size_t CountContaining(const std::string& text) const {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t count = 0;
    for (const auto& line : lines_) count += line.second.find(text) != std::string::npos ? 1 : 0;
    return count;
  }
  std::string All() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string all;
    for (const auto& line : lines_) all += line.second + "\n";
    return all;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<LogLevel, std::string>> lines_;  // guarded by mutex_
};

// What `vstream check CONFIG` does: read, then validate.
GraphConfig Check(const std::filesystem::path& file) {
  GraphConfig config;
  Status s = GraphConfig::FromFile(file, &config);
  EXPECT_TRUE(s) << s.message();
  if (s) s = config.Validate();
  EXPECT_TRUE(s) << s.message();
  return config;
}

GraphConfig CheckString(const std::string& json) {
  GraphConfig config;
  Status s = GraphConfig::FromString(json, kData, &config);
  EXPECT_TRUE(s) << s.message();
  if (s) s = config.Validate();
  EXPECT_TRUE(s) << s.message();
  return config;
}

// The message of a config that reading or validating refuses.
std::string Refusal(const std::string& json) {
  GraphConfig config;
  Status s = GraphConfig::FromString(json, kData, &config);
  if (s) s = config.Validate();
  EXPECT_FALSE(s) << "the config was accepted:\n" << json;
  EXPECT_EQ(s.code(), StatusCode::kInvalidConfig);
  return s.message();
}

// The params module `name` opens with: its config's params checked against its class's.
ModuleParams ParamsOf(const GraphConfig& config, const std::string& name) {
  const ModuleConfig* module = config.Find(name);
  EXPECT_NE(module, nullptr) << name;
  if (module == nullptr) return {};
  const ModuleRegistry::Entry* entry = ModuleRegistry::Instance().Find(module->class_name);
  EXPECT_NE(entry, nullptr) << module->class_name;
  if (entry == nullptr) return {};
  ModuleParams params;
  const Status s = ModuleParams::Validate(name, entry->describe().params, module->params, module->base_dir, &params);
  EXPECT_TRUE(s) << s.message();
  return params;
}

std::string ClassOf(const GraphConfig& config, const std::string& name) {
  const ModuleConfig* module = config.Find(name);
  if (module == nullptr) return "no module " + name;
  const ModuleRegistry::Entry* entry = ModuleRegistry::Instance().Find(module->class_name);
  return entry == nullptr ? "unknown " + module->class_name : entry->class_name;
}

// A pipeline around one module under test: a source first, and `json` (the module "m"'s body).
std::string WithModule(const std::string& class_name, const std::string& params, const std::string& extra = "") {
  return R"({"src": {"class_name": "cnstream::DataSource", "next_modules": ["m"]},
             "m": {"class_name": ")" + class_name + R"(", "custom_params": {)" + params + "}" + extra + "}}";
}

TEST(CnstreamConfigs, ADetectionConfigOfCnstream6PassesCheckWithItsValuesTranslated) {
  LogLines log;
  const GraphConfig config = Check(kData / "detection_6x.json");
  ASSERT_EQ(config.modules.size(), 5u);
  EXPECT_EQ(ClassOf(config, "source"), "DataSource");
  EXPECT_EQ(ClassOf(config, "detector"), "Inferencer");
  EXPECT_EQ(ClassOf(config, "tracker"), "Tracker");
  EXPECT_EQ(ClassOf(config, "osd"), "Osd");
  EXPECT_EQ(ClassOf(config, "encode"), "Encoder");  // cnstream::Encode

  const ModuleParams source = ParamsOf(config, "source");
  EXPECT_EQ(source.GetString("decoder_type"), "hw");  // mlu: the best decoder this machine has
  EXPECT_EQ(source.GetInt("interval"), 2);            // "2"
  EXPECT_EQ(source.GetInt("device_id"), 0);
  for (const char* gone : {"source_type", "output_type", "reuse_cndec_buf", "input_buf_number", "output_buf_number"}) {
    EXPECT_EQ(config.Find("source")->params.count(gone), 0u) << gone;
  }

  const ModuleParams detector = ParamsOf(config, "detector");
  EXPECT_EQ(config.Find("detector")->parallelism, 2);
  EXPECT_EQ(config.Find("detector")->max_input_queue_size, 20);  // "20"
  EXPECT_EQ(detector.GetPath("model_path"), (kData / "models/ssd.onnx").lexically_normal());
  EXPECT_EQ(detector.GetString("preproc_name"), "image");  // PreprocCpu
  EXPECT_EQ(detector.GetString("postproc_name"), "ssd");   // PostprocSsd
  EXPECT_EQ(detector.GetString("resize"), "letterbox");    // keep_aspect_ratio "true"
  EXPECT_EQ(detector.GetString("channel_order"), "bgr");   // model_input_pixel_format BGRA32
  EXPECT_DOUBLE_EQ(detector.GetDouble("threshold"), 0.6);  // "0.6"
  EXPECT_DOUBLE_EQ(detector.GetDouble("batching_timeout"), 30);
  EXPECT_EQ(detector.GetInt("device_id"), 0);

  const ModuleParams osd = ParamsOf(config, "osd");
  EXPECT_EQ(osd.GetPath("label_path"), (kData / "models/label_voc.txt").lexically_normal());
  EXPECT_DOUBLE_EQ(osd.GetDouble("font_scale"), 1.5);  // 0.5 x label_size large (1.5) x text_scale 2
  EXPECT_EQ(osd.GetInt("thickness"), 3);               // label_size 1.5 x box_thickness 2

  const ModuleParams encode = ParamsOf(config, "encode");
  EXPECT_EQ(encode.GetString("path"), "output/output_{stream}.mp4");  // CNStream's file_name_<stream>.mp4
  EXPECT_EQ(encode.GetInt("bitrate_kbps"), 3000);                     // bit_rate "3000000"
  EXPECT_EQ(encode.GetInt("gop_size"), 30);
  EXPECT_DOUBLE_EQ(encode.GetDouble("frame_rate"), 25);

  // One line per module and key that does not apply, at info level (a warning for what would
  // look different from CNStream's output).
  const std::vector<std::pair<std::string, std::string>> info = {
      {"source", "show_perf_info"},     {"source", "source_type"},       {"source", "output_type"},
      {"source", "decoder_type"},       {"source", "reuse_cndec_buf"},   {"source", "input_buf_number"},
      {"source", "output_buf_number"},  {"detector", "show_perf_info"},  {"detector", "func_name"},
      {"detector", "data_order"},       {"tracker", "model_path"},       {"tracker", "func_name"},
      {"tracker", "track_name"},        {"osd", "show_perf_info"},       {"osd", "text_thickness"},
      {"encode", "show_perf_info"},     {"encode", "encoder_type"},      {"encode", "input_frame"},
      {"encode", "device_id"}};
  for (const auto& [module, key] : info) {
    const auto lines = log.About(module, key);
    ASSERT_EQ(lines.size(), 1u) << module << " " << key << "\n" << log.All();
    EXPECT_EQ(lines[0].first, LogLevel::kInfo) << lines[0].second;
    EXPECT_NE(lines[0].second.find("(CNStream"), std::string::npos) << lines[0].second;
  }
  const auto font = log.About("osd", "font_path");
  ASSERT_EQ(font.size(), 1u) << log.All();
  EXPECT_EQ(font[0].first, LogLevel::kWarn);
  EXPECT_NE(font[0].second.find("is not supported"), std::string::npos) << font[0].second;
  // Keys vstream honours say nothing.
  for (const auto& [module, key] : std::vector<std::pair<std::string, std::string>>{
           {"detector", "keep_aspect_ratio"}, {"encode", "file_name"}, {"encode", "bit_rate"}, {"osd", "label_size"}}) {
    EXPECT_TRUE(log.About(module, key).empty()) << module << " " << key;
  }

  // Once per config read: reading it again says it all again, once.
  Check(kData / "detection_6x.json");
  EXPECT_EQ(log.About("source", "reuse_cndec_buf").size(), 2u);
}

TEST(CnstreamConfigs, AConfigOfCnstream7PassesCheckWithItsValuesTranslated) {
  LogLines log;
  const GraphConfig config = Check(kData / "yolov5_7x.json");
  EXPECT_EQ(ClassOf(config, "encode"), "Encoder");  // cnstream::VEncode

  const ModuleParams detector = ParamsOf(config, "detector");
  EXPECT_EQ(detector.GetString("preproc_name"), "image");      // preproc name=PreprocYolov5
  EXPECT_EQ(detector.GetString("resize"), "letterbox");        // which keeps the aspect ratio
  EXPECT_EQ(detector.GetString("postproc_name"), "yolo");      // postproc name=PostprocYolov5
  EXPECT_DOUBLE_EQ(detector.GetDouble("threshold"), 0.5);      // postproc threshold=0.5
  EXPECT_EQ(detector.GetString("channel_order"), "rgb");       // RGB24
  EXPECT_DOUBLE_EQ(detector.GetDouble("batching_timeout"), 300);  // batch_timeout
  EXPECT_EQ(config.Find("detector")->parallelism, 2);          // engine_num "2": one model instance per worker
  EXPECT_EQ(detector.GetPath("labels_path"), (kData / "models/label_map_coco.txt").lexically_normal());

  EXPECT_EQ(ParamsOf(config, "source").GetInt("interval"), 1);
  EXPECT_EQ(ParamsOf(config, "osd").GetPath("label_path"), (kData / "models/label_map_coco.txt").lexically_normal());
  const ModuleParams encode = ParamsOf(config, "encode");
  EXPECT_EQ(encode.GetString("path"), "output/output_{stream}.mkv");
  EXPECT_EQ(encode.GetInt("bitrate_kbps"), 4000);
  EXPECT_EQ(encode.GetInt("gop_size"), 10);

  for (const auto& [module, key] : std::vector<std::pair<std::string, std::string>>{
           {"source", "bufpool_size"},   {"detector", "preproc.use_cpu"}, {"detector", "priority"},
           {"detector", "show_stats"},   {"tracker", "model_path"},        {"tracker", "track_name"},
           {"tracker", "max_cosine_distance"}, {"tracker", "engine_num"},  {"tracker", "batch_timeout"},
           {"tracker", "device_id"},     {"osd", "hw_accel"},              {"encode", "hw_accel"},
           {"encode", "device_id"}}) {
    const std::string quoted = key == "preproc.use_cpu" ? "preproc" : key;
    EXPECT_EQ(log.About(module, quoted).size(), 1u) << module << " " << key << "\n" << log.All();
  }
  // A 1x1 mosaic and rtsp_port -1 are what vstream does: nothing to say.
  EXPECT_TRUE(log.About("encode", "view_rows").empty());
  EXPECT_TRUE(log.About("encode", "rtsp_port").empty());
}

TEST(CnstreamConfigs, ASubgraphConfigPassesCheckAndItsNotesNameTheExpandedModules) {
  LogLines log;
  const GraphConfig config = Check(kData / "subgraph" / "object_tracking.json");
  ASSERT_EQ(config.modules.size(), 5u);
  const std::vector<std::pair<std::string, std::string>> chain = {{"decode/source", "object_detection/detector"},
                                                                  {"object_detection/detector", "object_tracking/tracker"},
                                                                  {"object_tracking/tracker", "osd/osd"},
                                                                  {"osd/osd", "sinker/encode"}};
  for (const auto& [from, to] : chain) {
    ASSERT_NE(config.Find(from), nullptr) << from;
    EXPECT_EQ(config.Find(from)->next_modules, std::vector<std::string>{to}) << from;
  }
  EXPECT_EQ(ClassOf(config, "object_detection/detector"), "Inferencer");  // cnstream::Inferencer2
  const ModuleParams detector = ParamsOf(config, "object_detection/detector");
  EXPECT_EQ(detector.GetString("preproc_name"), "image");  // CNCV: an MLU operator
  EXPECT_EQ(detector.GetString("resize"), "letterbox");
  EXPECT_EQ(detector.GetString("postproc_name"), "yolo");  // VideoPostprocYolov5
  EXPECT_NEAR(detector.GetDouble("scale"), 1.0 / 255, 1e-9);  // normalize
  EXPECT_EQ(detector.GetPath("model_path"), (kData / "subgraph/models/yolov5s.onnx").lexically_normal());
  EXPECT_EQ(ParamsOf(config, "sinker/encode").GetString("path"), "output/output_{stream}.mp4");
  EXPECT_EQ(ParamsOf(config, "sinker/encode").base_dir(), (kData / "subgraph/configs").lexically_normal());

  EXPECT_EQ(log.About("decode/source", "reuse_cndec_buf").size(), 1u) << log.All();
  EXPECT_EQ(log.About("decode/source", "decoder_type").size(), 1u);
  EXPECT_EQ(log.About("object_detection/detector", "preproc_name").size(), 1u);
  EXPECT_EQ(log.About("object_tracking/tracker", "device_id").size(), 1u);
  EXPECT_EQ(log.CountContaining("module 'source'"), 0u);  // never the name inside its file
}

TEST(CnstreamConfigs, StringsCnstreamAcceptsAreAccepted) {
  const GraphConfig config = CheckString(WithModule(
      "cnstream::Inferencer2",
      R"("model_path": "m.onnx", "postproc_name": "VideoPostprocClassification", "keep_aspect_ratio": "1",
         "normalize": "TRUE", "engine_num": "3", "batch_strategy": "STATIC", "batching_timeout": "100",
         "object_infer": "True", "filter": "categories=2,car")"));
  const ModuleParams m = ParamsOf(config, "m");
  EXPECT_EQ(m.GetString("postproc_name"), "classification");
  EXPECT_EQ(m.GetString("resize"), "letterbox");
  EXPECT_NEAR(m.GetDouble("scale"), 1.0 / 255, 1e-9);
  EXPECT_EQ(config.Find("m")->parallelism, 3);
  EXPECT_DOUBLE_EQ(m.GetDouble("batching_timeout"), 100);  // the config's own key wins over batch_strategy's 0
  EXPECT_TRUE(m.GetBool("object_infer"));
  EXPECT_EQ(m.GetList("object_filter"), (std::vector<std::string>{"2", "car"}));

  const GraphConfig encode = CheckString(WithModule("cnstream::Encode", R"("kbit_rate": "2500", "file_name": "x/shot.jpg")"));
  EXPECT_EQ(ParamsOf(encode, "m").GetInt("bitrate_kbps"), 2500);
  EXPECT_EQ(ParamsOf(encode, "m").GetString("path"), "x/shot_{stream}_{index}.jpg");  // JPEG: one image per frame

  const GraphConfig statics = CheckString(WithModule("cnstream::Inferencer2",
                                                     R"("model_path": "m.onnx", "postproc_name": "PostprocSsd",
                                                        "batch_strategy": "static", "filter": "categories=all")"));
  EXPECT_DOUBLE_EQ(ParamsOf(statics, "m").GetDouble("batching_timeout"), 0);  // run what has arrived at once
  EXPECT_TRUE(ParamsOf(statics, "m").GetList("object_filter").empty());      // all objects
}

TEST(CnstreamConfigs, VstreamsOwnKeysWinOverTranslatedOnes) {
  const GraphConfig config = CheckString(WithModule(
      "cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", "keep_aspect_ratio": true,
                                 "resize": "stretch", "batch_timeout": 5, "batching_timeout": 7)"));
  EXPECT_EQ(ParamsOf(config, "m").GetString("resize"), "stretch");
  EXPECT_DOUBLE_EQ(ParamsOf(config, "m").GetDouble("batching_timeout"), 7);
}

TEST(CnstreamConfigs, ClassesVstreamDoesNotHaveNameTheClosestOne) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cnstream::RtspSink", "the closest class is Encoder"},
      {"cnstream::Displayer", "the closest class is Encoder"},
      {"cnstream::Vout", "the closest class is Encoder"},
      {"cnstream::Kafka", "the closest class is ResultSink"},
      {"cnstream::FpsStats", "PassThrough"},
      {"cnstream::FeatureExtractor", "Inferencer"}};
  for (const auto& [class_name, closest] : cases) {
    const std::string message = Refusal(WithModule(class_name, R"("device_id": 0)"));
    EXPECT_NE(message.find("module 'm': class_name '" + class_name + "' is CNStream's"), std::string::npos) << message;
    EXPECT_NE(message.find(closest), std::string::npos) << message;
  }
}

TEST(CnstreamConfigs, PostprocessorsVstreamDoesNotHaveAreErrorsNamingItsOwn) {
  for (const std::string& params : {std::string(R"("model_path": "y.onnx", "postproc_name": "PostprocYolov3")"),
                                    std::string(R"("model_path": "y.onnx", "preproc": "name=PreprocYolov3;use_cpu=false",
                                                   "postproc": "name=PostprocYolov3;threshold=0.5")")}) {
    const std::string message = Refusal(WithModule("cnstream::Inferencer", params));
    EXPECT_NE(message.find("'PostprocYolov3' is CNStream's decoder of Darknet YOLOv3"), std::string::npos) << message;
    for (const char* ours : {"classification", "blazeface", "ssd", "yolo", "vstream::RegisterPostprocessor"}) {
      EXPECT_NE(message.find(ours), std::string::npos) << ours << "\n" << message;
    }
  }
  const std::string lpr = Refusal(WithModule("cnstream::Inferencer", R"("model_path": "l.onnx", "postproc_name": "PostprocLprnet")"));
  EXPECT_NE(lpr.find("license-plate"), std::string::npos) << lpr;
  // A name CNStream's samples do not use is left to the registry (checked when the module opens).
  const GraphConfig custom = CheckString(WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "MyPostproc")"));
  EXPECT_EQ(ParamsOf(custom, "m").GetString("postproc_name"), "MyPostproc");
}

TEST(CnstreamConfigs, WhatCannotWorkHereIsAnErrorThatSaysWhatToDo) {
  struct Case {
    std::string json;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {WithModule("cnstream::Inferencer", R"("model_path": "resnet50.cambricon", "postproc_name": "PostprocClassification")"),
       "is a Cambricon offline model, which only an MLU runs; export the network to ONNX"},
      {WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", "model_input_pixel_format": "TENSOR")"),
       "register one with vstream::RegisterPreprocessor"},
      {WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", "obj_filter_name": "VehicleFilter")"),
       "set object_filter to their labels"},
      {WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc": "PostprocSsd")"),
       "'postproc' must be KEY=VALUE items separated by ';' with keys name, threshold"},
      {WithModule("cnstream::Osd", R"("osd_handler": "MyHandler")"), "names a CNStream OsdHandler class"},
      {WithModule("cnstream::VEncode", R"("rtsp_port": 8554)"), "asks for an RTSP server, which vstream does not have"},
      {WithModule("cnstream::Tracker", R"("track_name": "Sort")"), "'track_name' must be FeatureMatch, IoUMatch or KCF"},
      {WithModule("cnstream::Encode", R"("encoder_type": "gpu")"), "'encoder_type' must be cpu or mlu, got 'gpu'"},
      {R"({"src": {"class_name": "cnstream::DataSource", "custom_params": {"reuse_cndec_buf": "maybe"}}})",
       "module 'src': 'reuse_cndec_buf' must be true or false, got 'maybe'"},
      {R"({"src": {"class_name": "cnstream::DataSource", "show_perf_info": "sometimes"}})",
       "module 'src': 'show_perf_info' must be true or false, got 'sometimes'"},
      {R"({"src": {"class_name": "cnstream::DataSource", "custom_params": {"source_type": "camera"}}})",
       "'source_type' must be ffmpeg or raw"},
      {R"({"src": {"class_name": "cnstream::DataSource"}, "streams": {"url": "rtsp://cam/1", "type": "rtsp"}})",
       "module 'streams': an entry with \"type\", \"url\" and no \"class_name\" is not a module"},
  };
  for (const auto& c : cases) {
    const std::string message = Refusal(c.json);
    EXPECT_NE(message.find(c.expected), std::string::npos) << "got: " << message << "\nwanted: " << c.expected;
  }
}

TEST(CnstreamConfigs, FeaturesVstreamDoesNotHaveAreWarnedAboutOnce) {
  LogLines log;
  CheckString(WithModule("cnstream::Encode", R"("dst_width": 1280, "dst_height": "720", "view_rows": 2, "view_cols": 2)"));
  for (const char* key : {"dst_width", "dst_height", "view_rows", "view_cols"}) {
    const auto lines = log.About("m", key);
    ASSERT_EQ(lines.size(), 1u) << key << "\n" << log.All();
    EXPECT_EQ(lines[0].first, LogLevel::kWarn) << lines[0].second;
  }
  // CNStream 7 writes custom_postproc_params as a JSON object: accepted (it becomes postproc_params),
  // while a key CNStream does not have either is still an error.
  const std::string message = Refusal(WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd",
                                                                           "custom_postproc_params": {"anchors": [1, 2]},
                                                                           "unknown_key": 1)"));
  EXPECT_NE(message.find("unknown parameter 'unknown_key'"), std::string::npos) << message;
  EXPECT_EQ(message.find("custom_postproc_params"), std::string::npos) << message;  // accepted (a JSON object)
}

TEST(CnstreamConfigs, ProcessorSettingsBecomeProcessorParams) {
  // CNStream's PyPostproc reads pyclass_name and hands the other settings to the Python class; here
  // they become postproc_params items, values as strings, whatever their JSON type.
  const GraphConfig config = CheckString(WithModule(
      "cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "PyPostproc", "preproc_name": "PyPreproc",
                                 "custom_postproc_params": {"pyclass_name": "decoders.Faces", "threshold": 0.6,
                                                            "keep": true, "anchors": [1, 2], "label": "face"},
                                 "custom_preproc_params": "{\"pyclass_name\": \"resizers.Square\"}")"));
  const ModuleParams params = ParamsOf(config, "m");
  EXPECT_EQ(params.GetList("postproc_params"), (std::vector<std::string>{"anchors=[1,2]", "keep=true", "label=face",
                                                                         "pyclass_name=decoders.Faces", "threshold=0.6"}));
  EXPECT_EQ(params.GetList("preproc_params"), std::vector<std::string>{"pyclass_name=resizers.Square"});
  EXPECT_EQ(params.GetString("postproc_name"), "PyPostproc");  // the registry's alias of "python"

  // The config's own postproc_params win; settings that are not an object are errors that say so.
  const GraphConfig own = CheckString(WithModule(
      "cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", "postproc_params": ["a=1"],
                                 "custom_postproc_params": {"a": "2"})"));
  EXPECT_EQ(ParamsOf(own, "m").GetList("postproc_params"), std::vector<std::string>{"a=1"});
  for (const std::string& bad : {std::string(R"("custom_postproc_params": "threshold=0.5")"),
                                 std::string(R"("custom_postproc_params": ["threshold=0.5"])")}) {
    const std::string message =
        Refusal(WithModule("cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", )" + bad));
    EXPECT_NE(message.find("module 'm': 'custom_postproc_params' must be a JSON object of settings"), std::string::npos)
        << message;
  }
  const std::string equals = Refusal(WithModule(
      "cnstream::Inferencer", R"("model_path": "m.onnx", "postproc_name": "ssd", "custom_preproc_params": {"a=b": 1})"));
  EXPECT_NE(equals.find("'custom_preproc_params': the setting name 'a=b' cannot be passed on"), std::string::npos)
      << equals;
}

TEST(CnstreamConfigs, CnstreamClassNamesThatMapOneToOneAreRegistryAliases) {
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  for (const auto& [alias, name] : std::vector<std::pair<std::string, std::string>>{
           {"cnstream::Encode", "Encoder"}, {"cnstream::VEncode", "Encoder"}, {"VEncode", "Encoder"},
           {"cnstream::Inferencer2", "Inferencer"}}) {
    const ModuleRegistry::Entry* entry = registry.Find(alias);
    ASSERT_NE(entry, nullptr) << alias;
    EXPECT_EQ(entry->class_name, name) << alias;
  }
  const std::vector<std::string> names = registry.ClassNames();
  EXPECT_EQ(std::count(names.begin(), names.end(), "VEncode"), 0);  // aliases are not classes of their own
}

}  // namespace
}  // namespace vstream
