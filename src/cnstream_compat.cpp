#include "cnstream_compat.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "config_text.hpp"
#include "vstream/registry.hpp"
#include "vstream/text.hpp"

namespace vstream::detail {

void CnstreamNotes::Add(const std::string& module, const std::string& key, LogLevel level, std::string text) {
  if (!seen_.insert(module + '\n' + key).second) return;
  notes_.push_back({module, key, level, std::move(text)});
}

void CnstreamNotes::Prefix(size_t first, const std::string& prefix) {
  for (size_t i = first; i < notes_.size(); ++i) notes_[i].module = prefix + notes_[i].module;
}

void CnstreamNotes::Log() const {
  for (const auto& note : notes_) vstream::Log(note.level, "module '" + note.module + "': " + note.text);
}

namespace {

std::string Quoted(std::string_view s) { return "'" + Excerpt(s) + "'"; }

// One module's translation: the CNStream values rules take out of its custom_params, and the
// vstream values they produce. The config's own vstream keys win over produced ones.
class Translation {
 public:
  Translation(ModuleConfig* module, CnstreamNotes* notes, std::vector<std::string>* errors)
      : module_(*module), notes_(*notes), errors_(*errors) {}

  ModuleConfig& module() { return module_; }
  bool Has(const std::string& key) const { return module_.params.count(key) != 0; }

  /// Takes the value of `key` out of the config's params; nullopt when the config does not set it.
  /// A JSON value (an object) is left where it is, untranslated: no CNStream key takes one, and
  /// validation says so in the words it uses for every module.
  std::optional<ParamValue> Take(const std::string& key) {
    auto it = module_.params.find(key);
    if (it == module_.params.end() || it->second.is_json()) return std::nullopt;
    ParamValue value = std::move(it->second);
    module_.params.erase(it);
    return value;
  }

  /// `value` as one scalar (trimmed); nullopt, after an error, for a list.
  std::optional<std::string> Scalar(const std::string& key, const ParamValue& value) {
    if (!value.is_list()) return vstream::Trim(value.text());
    Error("'" + key + "' takes one value, got a list: [" + Excerpt(value.text()) + "]");
    return std::nullopt;
  }
  /// true/false, 1/0, yes/no, on/off (CNStream writes "true" and true alike).
  std::optional<bool> Flag(const std::string& key, const ParamValue& value) {
    auto text = Scalar(key, value);
    if (!text) return std::nullopt;
    if (auto flag = ParseBool(*text)) return flag;
    Error("'" + key + "' must be true or false, got " + Quoted(*text));
    return std::nullopt;
  }
  /// A whole number >= `min` ("30" and 30 alike).
  std::optional<int64_t> Whole(const std::string& key, const ParamValue& value, int64_t min) {
    auto text = Scalar(key, value);
    if (!text) return std::nullopt;
    int64_t v = 0;
    if (ParseWhole(*text, &v) == WholeText::kOk && v >= min) return v;
    Error("'" + key + "' must be a whole number of at least " + std::to_string(min) + ", got " + Quoted(*text));
    return std::nullopt;
  }
  /// A number >= `min`.
  std::optional<double> Number(const std::string& key, const ParamValue& value, double min) {
    auto text = Scalar(key, value);
    if (!text) return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(text->c_str(), &end);
    if (!text->empty() && end == text->c_str() + text->size() && std::isfinite(v) && v >= min) return v;
    Error("'" + key + "' must be a number of at least " + FormatNumber(min) + ", got " + Quoted(*text));
    return std::nullopt;
  }

  /// A vstream custom param this translation produces (a later rule's value replaces an earlier one's).
  void Set(const std::string& key, ParamValue value) { produced_[key] = std::move(value); }

  void Note(const std::string& key, LogLevel level, std::string text) {
    notes_.Add(module_.name, key, level, std::move(text));
  }
  /// The key is accepted and ignored: it has no effect here (info).
  void NotApplicable(const std::string& key, const std::string& why) {
    Note(key, LogLevel::kInfo, "'" + key + "' (CNStream) does not apply here: " + why + "; ignored");
  }
  /// The key is accepted and ignored: vstream has no such feature (a warning: the result differs).
  void Unsupported(const std::string& key, const std::string& what, LogLevel level = LogLevel::kWarn) {
    Note(key, level, "'" + key + "' (CNStream) is not supported: " + what + "; ignored");
  }
  void Error(const std::string& message) { errors_.push_back("module " + Quoted(module_.name) + ": " + message); }

  /// Adds the produced params the config does not set itself.
  void Finish() {
    for (auto& [key, value] : produced_) module_.params.emplace(key, std::move(value));
  }

 private:
  ModuleConfig& module_;
  CnstreamNotes& notes_;
  std::vector<std::string>& errors_;
  std::map<std::string, ParamValue> produced_;
};

using Apply = std::function<void(Translation& t, const std::string& key, const ParamValue& value)>;

// What one CNStream key of a class becomes.
struct Rule {
  std::string key;
  Apply apply;
  bool ours = false;  // the key is vstream's too: the rule converts CNStream's values of it only
};

Rule Rename(std::string cnstream_key, std::string to) {
  return {std::move(cnstream_key),
          [to = std::move(to)](Translation& t, const std::string&, const ParamValue& v) { t.Set(to, v); }};
}
Rule NotApplicable(std::string cnstream_key, std::string why) {
  return {std::move(cnstream_key),
          [why = std::move(why)](Translation& t, const std::string& key, const ParamValue&) { t.NotApplicable(key, why); }};
}
Rule Unsupported(std::string cnstream_key, std::string what, LogLevel level = LogLevel::kWarn) {
  return {std::move(cnstream_key),
          [what = std::move(what), level](Translation& t, const std::string& key, const ParamValue&) {
            t.Unsupported(key, what, level);
          }};
}
Rule Ours(std::string key, Apply apply) { return {std::move(key), std::move(apply), true}; }

// "name=PreprocYolov3;use_cpu=false" (CNStream 7's preproc, postproc and filter): the settings in
// order; nullopt, after an error, when an item is not KEY=VALUE or a key is not in `known`.
std::optional<std::vector<std::pair<std::string, std::string>>> Settings(Translation& t, const std::string& key,
                                                                         const ParamValue& value,
                                                                         const std::vector<std::string>& known) {
  auto text = t.Scalar(key, value);
  if (!text) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& item : Split(*text, ';')) {
    const std::string trimmed = Trim(item);
    if (trimmed.empty()) continue;
    const size_t equals = trimmed.find('=');
    const std::string name = Trim(trimmed.substr(0, equals));
    if (equals == std::string::npos || std::find(known.begin(), known.end(), name) == known.end()) {
      t.Error("'" + key + "' must be KEY=VALUE items separated by ';' with keys " + Join(known, ", ") +
              " (e.g. \"name=" + (key == "filter" ? "MyFilter;categories=2,5" : "Example") + "\"), got " +
              Quoted(*text));
      return std::nullopt;
    }
    settings.emplace_back(name, Trim(trimmed.substr(equals + 1)));
  }
  return settings;
}

// --- pre- and postprocessor names -------------------------------------------------------------

// CNStream's preprocessor classes and MLU preprocessing operators, done by vstream's `image`
// preprocessor (resize, colour order, normalization) on the CPU.
void ApplyPreprocessor(Translation& t, const std::string& key, const std::string& name) {
  static const std::vector<std::string> kStretch = {"PreprocCpu", "VideoPreprocCpu", "ObjPreprocCpu",
                                                    "VideoObjPreprocCpu"};
  static const std::vector<std::string> kLetterbox = {"PreprocYolov3", "VideoPreprocYolov3", "PreprocYolov5",
                                                      "VideoPreprocYolov5"};
  static const std::vector<std::string> kMluOperators = {"cncv", "rcop", "scaler"};
  auto in = [](const std::vector<std::string>& names, const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  if (in(kStretch, name)) {
    t.Set("preproc_name", "image");
  } else if (in(kLetterbox, name)) {
    t.Set("preproc_name", "image");
    t.Set("resize", "letterbox");  // these keep the aspect ratio whatever keep_aspect_ratio says
  } else if (name.empty() || in(kMluOperators, ToLower(name))) {
    t.Set("preproc_name", "image");
    t.Note(key, LogLevel::kInfo,
           key + " " + Quoted(name) + " (CNStream: " + (name.empty() ? "the default preprocessing" : "an operator") +
               " on the MLU) does not apply here: vstream's image preprocessor resizes (keep_aspect_ratio: "
               "letterbox), orders the colours and normalizes on the CPU");
  } else {
    t.Set("preproc_name", name);  // vstream's, or one registered with vstream::RegisterPreprocessor
  }
}

struct PostprocessorFamily {
  std::vector<std::string> names;
  std::string ours;  // the vstream postprocessor; empty: none
  std::string what;  // for the error when there is none
};

// CNStream's own postprocessor classes (its samples'), and what decodes the same network's output
// here once the model is exported to ONNX.
const std::vector<PostprocessorFamily>& PostprocessorFamilies() {
  static const std::vector<PostprocessorFamily> kFamilies = {
      {{"PostprocClassification", "ObjPostprocClassification", "VideoPostprocClassification",
        "VideoObjPostprocClassification"},
       "classification",
       ""},
      {{"PostprocSsd", "VideoPostprocSsd"}, "ssd", ""},
      {{"PostprocYolov5", "VideoPostprocYolov5", "VideoPostprocYolov5MM"}, "yolo", ""},
      {{"PostprocYolov3", "PostprocFakeYolov3", "VideoPostprocYolov3", "VideoPostprocYolov3MM"},
       "",
       "CNStream's decoder of Darknet YOLOv3 outputs (three grids of anchor boxes)"},
      {{"PostprocSsdLpd", "PostprocLprnet", "ObjPostprocLprnet", "PostprocVehicleCts", "ObjPostprocVehicleCts"},
       "",
       "a decoder of CNStream's license-plate and vehicle-attribute sample networks"},
      {{"PostprocPose", "PostprocBody25Pose"}, "", "CNStream's OpenPose keypoint decoder"},
  };
  return kFamilies;
}

void ApplyPostprocessor(Translation& t, const std::string& key, const std::string& name) {
  for (const auto& family : PostprocessorFamilies()) {
    if (std::find(family.names.begin(), family.names.end(), name) == family.names.end()) continue;
    if (!family.ours.empty()) {
      t.Set("postproc_name", family.ours);
      return;
    }
    t.Error(key + " " + Quoted(name) + " is " + family.what +
            ", which vstream does not have. vstream's postprocessors: classification (top-k of a score vector), "
            "blazeface (MediaPipe's face detector), ssd (rows [image_id, label, score, x1, y1, x2, y2], as OpenCV's "
            "DetectionOutput writes them) and yolo (rows [cx, cy, w, h, objectness, class scores...], as YOLOv5's "
            "ONNX export writes them); export the model to ONNX and name the one that reads its output, or "
            "register your own with vstream::RegisterPostprocessor under a name of its own "
            "(`vstream inspect Inferencer` describes them)");
    return;
  }
  t.Set("postproc_name", name);  // vstream's, or one registered with vstream::RegisterPostprocessor
}

// custom_preproc_params / custom_postproc_params: CNStream hands its pre/postprocessor class a JSON
// object of settings (the config reader keeps an object as its JSON text; a string holding one works
// too). They become `to` (preproc_params / postproc_params): items "key=value", a string value as it
// is, any other as its JSON text (0.5, true, [1,2]).
void ApplyProcessorSettings(Translation& t, const std::string& key, const ParamValue& value, const std::string& to) {
  const std::string expected = "'" + key + "' must be a JSON object of settings (e.g. {\"threshold\": \"0.5\"})";
  if (value.is_list()) {
    t.Error(expected + ", got a list: [" + Excerpt(value.text()) + "]");
    return;
  }
  const nlohmann::json settings = nlohmann::json::parse(value.text(), nullptr, /*allow_exceptions=*/false);
  if (!settings.is_object()) {
    t.Error(expected + ", got " + Quoted(value.text()));
    return;
  }
  std::vector<std::string> items;
  for (const auto& [name, setting] : settings.items()) {
    if (name.empty() || name.find('=') != std::string::npos) {
      t.Error("'" + key + "': the setting name " + Quoted(name) + " cannot be passed on (it is empty or has a '=')");
      return;
    }
    items.push_back(name + "=" + (setting.is_string() ? setting.get<std::string>() : setting.dump()));
  }
  t.Set(to, ParamValue::List(std::move(items)));
}

// --- DataSource -------------------------------------------------------------------------------

std::vector<Rule> DataSourceRules() {
  const std::string raw = "a setting of CNStream's raw source_type (FFmpeg finds the frame boundaries and sizes of "
                          "an H.264/H.265 elementary stream itself)";
  const std::string decoder = "a buffer count of CNStream's MLU decoder (FFmpeg manages its own buffers)";
  return {
      {"source_type",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         if (*text == "ffmpeg" || *text == "raw") {
           t.NotApplicable(key, "vstream reads every input with FFmpeg (raw H.264/H.265 files included)");
         } else {
           t.Error("'source_type' must be ffmpeg or raw (CNStream's values), got " + Quoted(*text) +
                   "; vstream reads every input with FFmpeg, so the key can go");
         }
       }},
      NotApplicable("chunk_size", raw),
      NotApplicable("width", raw),
      NotApplicable("height", raw),
      NotApplicable("interlaced", raw),
      {"output_type",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string value = ToLower(*text);
         if (value == "mlu") {
           t.NotApplicable(key, "frames are always delivered in CPU memory (there is no MLU)");
         } else if (value != "cpu") {
           t.Error("'output_type' must be cpu or mlu, got " + Quoted(*text));
         }  // cpu: what vstream does
       }},
      Ours("decoder_type",
           [](Translation& t, const std::string& key, const ParamValue& v) {
             if (!v.is_list() && ToLower(Trim(v.text())) == "mlu") {
               t.Set(key, "hw");
               t.Note(key, LogLevel::kInfo,
                      "decoder_type 'mlu' (CNStream's MLU decoder) does not apply here: decoding with FFmpeg's "
                      "hardware decoder when this machine has one, else on the CPU (decoder_type hw)");
             } else {
               t.Set(key, v);
             }
           }),
      {"reuse_cndec_buf",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (t.Flag(key, v)) {
           t.NotApplicable(key, "it passes MLU decoder buffers on; decoded frames are always copied out of "
                                "FFmpeg's buffers");
         }
       }},
      NotApplicable("input_buf_number", decoder),
      NotApplicable("output_buf_number", decoder),
      NotApplicable("bufpool_size", "each stream's frames come from a buffer pool that grows as needed"),
      NotApplicable("apply_stride_align_for_scaler", "an alignment for the MLU220 scaler (rows are aligned to 64 "
                                                     "bytes)"),
  };
}

// --- Inferencer (CNStream's Inferencer, Inferencer2 and CNStream 7's Inferencer) ---------------

std::vector<Rule> InferencerRules() {
  const std::string stats = "vstream measures every module (vstream run --stats-interval, Pipeline::GetStats)";
  const std::string cpu_preprocessing = "preprocessing runs on the CPU";
  return {
      NotApplicable("func_name", "a function of a Cambricon offline model; an ONNX model has one graph"),
      Ours("model_path",
           [](Translation& t, const std::string& key, const ParamValue& v) {
             std::string extension = std::filesystem::path(v.text()).extension().string();
             extension = ToLower(extension);
             if (!v.is_list() && (extension == ".cambricon" || extension == ".magicmind")) {
               t.Error("model_path " + Quoted(v.text()) +
                       " is a Cambricon offline model, which only an MLU runs; export the network to ONNX (or "
                       "another format OpenCV DNN reads) and set model_path to that file");
             }
             t.Set(key, v);
           }),
      Rename("batchsize", "batch_size"),
      Rename("batch_timeout", "batching_timeout"),
      {"batch_strategy",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string value = ToLower(*text);
         if (value == "static") {
           t.Set("batching_timeout", "0");  // run what has arrived at once
         } else if (value != "dynamic") {
           t.Error("'batch_strategy' must be dynamic or static, got " + Quoted(*text));
         }  // dynamic: batches wait up to batching_timeout, as vstream's do
       }},
      {"engine_num",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         // Each of vstream's workers loads its own model instance: instances are the parallelism.
         if (auto engines = t.Whole(key, v, 1)) {
           if (*engines > 1024) {
             t.Error("'engine_num' must be at most 1024 (vstream runs one model instance per worker), got " +
                     std::to_string(*engines));
           } else if (t.module().parallelism == 1) {  // a parallelism the config set itself wins
             t.module().parallelism = static_cast<int>(*engines);
           }
         }
       }},
      NotApplicable("priority", "it orders the sessions of CNStream's inference server on one device"),
      NotApplicable("show_stats", stats),
      NotApplicable("data_order", "the layout of the model's outputs is read from the model"),
      NotApplicable("use_scaler", "the MLU220 scaler; " + cpu_preprocessing),
      NotApplicable("mem_on_mlu_for_postproc", "outputs are always in CPU memory"),
      Unsupported("saving_infer_input", "the preprocessed input is not kept with the frame"),
      Unsupported("dump_resized_image_dir", "preprocessed images are not written out"),
      {"keep_aspect_ratio",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto keep = t.Flag(key, v)) t.Set("resize", *keep ? "letterbox" : "stretch");
       }},
      {"pad_method",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string value = ToLower(*text);
         if (value == "origin") {
           t.Unsupported(key, "letterbox padding is centred ('center'); boxes are mapped back to the frame either "
                              "way",
                         LogLevel::kInfo);
         } else if (value != "center") {
           t.Error("'pad_method' must be center or origin, got " + Quoted(*text));
         }
       }},
      {"model_input_pixel_format",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string value = ToLower(*text);
         if (value == "rgba32" || value == "argb32" || value == "rgb24") {
           t.Set("channel_order", "rgb");  // the alpha byte of 4-channel MLU inputs has no ONNX counterpart
         } else if (value == "bgra32" || value == "abgr32" || value == "bgr24") {
           t.Set("channel_order", "bgr");
         } else if (value == "gray") {
           t.NotApplicable(key, "the number of input channels is read from the model");
         } else if (value == "tensor") {
           t.Error("model_input_pixel_format 'TENSOR' means a custom preprocessor fills the input: register one "
                   "with vstream::RegisterPreprocessor and name it in preproc_name");
         } else {
           t.Error("'model_input_pixel_format' must be RGB24, BGR24, RGBA32, BGRA32, ARGB32, ABGR32, GRAY or "
                   "TENSOR, got " + Quoted(*text));
         }
       }},
      {"normalize",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto normalize = t.Flag(key, v); normalize && *normalize) t.Set("scale", "0.00392156862745098");  // 1/255
       }},
      Rename("interval", "infer_interval"),
      {"label_path",
       [](Translation& t, const std::string&, const ParamValue& v) {
         std::vector<std::string> files = v.is_list() ? v.items() : Split(v.text(), ',');
         std::erase_if(files, [](std::string& f) { return (f = Trim(f)).empty(); });
         if (files.size() > 1) {
           t.Error("'label_path' names " + std::to_string(files.size()) +
                   " label files; vstream's labels_path takes one (label_id = line number)");
         } else if (files.size() == 1) {
           t.Set("labels_path", files[0]);
         }
       }},
      {"obj_filter_name",
       [](Translation& t, const std::string&, const ParamValue& v) {
         t.Error("obj_filter_name " + Quoted(v.text()) +
                 " names a CNStream object-filter class, which vstream does not have; vstream chooses the objects "
                 "to run on by label: set object_filter to their labels (or their label ids, when the detector "
                 "has no labels_path)");
       }},
      {"filter",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto settings = Settings(t, key, v, {"name", "categories"});
         if (!settings) return;
         for (const auto& [name, value] : *settings) {
           if (name == "name") {
             t.Error("filter name " + Quoted(value) +
                     " is a CNStream object-filter class, which vstream does not have; keep categories=... (it "
                     "becomes object_filter: objects with these labels, or label ids when the detector has no "
                     "labels_path)");
             return;
           }
           std::vector<std::string> categories;
           for (auto& c : Split(value, ',')) {
             if (std::string trimmed = Trim(c); !trimmed.empty()) categories.push_back(std::move(trimmed));
           }
           const bool all = categories.size() == 1 && (categories[0] == "-1" || ToLower(categories[0]) == "all");
           t.Set("object_filter", ParamValue::List(all ? std::vector<std::string>{} : categories));
         }
       }},
      {"custom_preproc_params",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         ApplyProcessorSettings(t, key, v, "preproc_params");
       }},
      {"custom_postproc_params",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         ApplyProcessorSettings(t, key, v, "postproc_params");
       }},
      {"preproc",
       [cpu_preprocessing](Translation& t, const std::string& key, const ParamValue& v) {
         auto settings = Settings(t, key, v, {"name", "use_cpu"});
         if (!settings) return;
         for (const auto& [name, value] : *settings) {
           if (name == "name") {
             ApplyPreprocessor(t, key, value);
           } else if (auto on_cpu = ParseBool(value); !on_cpu) {
             t.Error("preproc's use_cpu must be true or false, got " + Quoted(value));
           } else if (!*on_cpu) {
             t.Note(key + ".use_cpu", LogLevel::kInfo,
                    "'preproc' use_cpu=false (CNStream: preprocess on the MLU) does not apply here: " +
                        cpu_preprocessing);
           }
         }
       }},
      Ours("preproc_name",
           [](Translation& t, const std::string& key, const ParamValue& v) { ApplyPreprocessor(t, key, Trim(v.text())); }),
      {"postproc",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto settings = Settings(t, key, v, {"name", "threshold"});
         if (!settings) return;
         for (const auto& [name, value] : *settings) {
           if (name == "name") {
             ApplyPostprocessor(t, key, value);
           } else {
             t.Set("threshold", value);  // checked as vstream's threshold
           }
         }
       }},
      Ours("postproc_name",
           [](Translation& t, const std::string& key, const ParamValue& v) { ApplyPostprocessor(t, key, Trim(v.text())); }),
  };
}

// --- Tracker ----------------------------------------------------------------------------------

std::vector<Rule> TrackerRules() {
  const std::string model = "a setting of FeatureMatch's feature-extraction model; vstream's Tracker uses no model";
  return {
      {"track_name",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         if (*text == "FeatureMatch" || *text == "KCF") {
           t.Note(key, LogLevel::kInfo,
                  "track_name " + Quoted(*text) +
                      " (CNStream) does not apply here: vstream's Tracker matches boxes by IoU with motion "
                      "prediction (CNStream's IoUMatch), without appearance features");
         } else if (*text != "IoUMatch") {
           t.Error("'track_name' must be FeatureMatch, IoUMatch or KCF, got " + Quoted(*text) +
                   "; vstream's Tracker matches by IoU (iou_threshold, max_age, min_hits)");
         }
       }},
      NotApplicable("model_path", model),
      NotApplicable("func_name", model),
      NotApplicable("engine_num", model),
      NotApplicable("batch_timeout", model),
      NotApplicable("priority", model),
      NotApplicable("model_input_pixel_format", model),
      NotApplicable("max_cosine_distance", "FeatureMatch's appearance threshold; vstream's Tracker matches by IoU "
                                           "(iou_threshold)"),
      NotApplicable("show_stats", "vstream measures every module (vstream run --stats-interval)"),
      NotApplicable("device_id", "the Tracker runs on the CPU"),
  };
}

// --- Osd --------------------------------------------------------------------------------------

// CNStream's label_size as a factor: normal, large, larger, small, smaller or a number.
std::optional<double> LabelSize(Translation& t, const ParamValue& v) {
  auto text = t.Scalar("label_size", v);
  if (!text) return std::nullopt;
  static const std::map<std::string, double> kSizes = {
      {"normal", 1.0}, {"large", 1.5}, {"larger", 2.0}, {"small", 0.75}, {"smaller", 0.5}};
  if (auto it = kSizes.find(ToLower(*text)); it != kSizes.end()) return it->second;
  char* end = nullptr;
  const double size = std::strtod(text->c_str(), &end);
  if (!text->empty() && end == text->c_str() + text->size() && std::isfinite(size) && size > 0) return size;
  t.Error("'label_size' must be normal, large, larger, small, smaller or a number above 0, got " + Quoted(*text));
  return std::nullopt;
}

// label_size scales text_scale and box_thickness, as in CNStream; vstream's font_scale is 0.5 at
// CNStream's defaults (label_size normal, text_scale 1).
void ApplyLabelSize(Translation& t, double size, const std::optional<ParamValue>& text_scale,
                    const std::optional<ParamValue>& box_thickness) {
  double scale = 1.0;
  if (text_scale) {
    auto given = t.Number("text_scale", *text_scale, 0.01);
    if (!given) return;
    scale = *given;
  }
  t.Set("font_scale", FormatNumber(std::clamp(0.5 * size * scale, 0.1, 10.0)));
  if (box_thickness) {
    if (auto thickness = t.Number("box_thickness", *box_thickness, 0)) {
      t.Set("thickness", std::to_string(std::clamp<long>(std::lround(size * *thickness), 1, 50)));
    }
  }
}

std::vector<Rule> OsdRules() {
  return {
      {"label_size",
       [](Translation& t, const std::string&, const ParamValue& v) {
         auto text_scale = t.Take("text_scale");
         auto box_thickness = t.Take("box_thickness");
         if (auto size = LabelSize(t, v)) ApplyLabelSize(t, *size, text_scale, box_thickness);
       }},
      {"text_scale",  // without label_size
       [](Translation& t, const std::string&, const ParamValue& v) { ApplyLabelSize(t, 1.0, v, t.Take("box_thickness")); }},
      {"box_thickness",  // without label_size and text_scale
       [](Translation& t, const std::string&, const ParamValue& v) { ApplyLabelSize(t, 1.0, std::nullopt, v); }},
      Unsupported("text_thickness", "text is drawn 1 pixel thick, its size following font_scale", LogLevel::kInfo),
      Unsupported("secondary_label_path",
                  "the Osd writes each object's own label; secondary classifiers' results are in its attributes "
                  "(ResultSink writes them)"),
      Unsupported("attr_keys", "the Osd does not draw attributes (ResultSink writes them)"),
      Unsupported("font_path", "text is drawn with OpenCV's built-in font (ASCII only)"),
      Unsupported("logo", "no logo is drawn"),
      {"osd_handler",
       [](Translation& t, const std::string&, const ParamValue& v) {
         t.Error("osd_handler " + Quoted(v.text()) +
                 " names a CNStream OsdHandler class, which vstream does not have: remove it (the Osd draws boxes, "
                 "labels, scores, track ids and keypoints), or draw what you need in a module of your own "
                 "(docs/writing-a-module.md)");
       }},
      NotApplicable("hw_accel", "drawing is done on the CPU"),
  };
}

// --- Encoder (CNStream's Encode and VEncode) --------------------------------------------------

// CNStream's file_name "dir/out.mp4" writes dir/out_<stream>.mp4 per stream, and JPEG images as
// dir/out_<stream>_<count>.jpg.
std::string PathFromFileName(const std::string& file_name) {
  std::filesystem::path path(file_name);
  std::string extension = path.extension().string();
  const std::string lower = ToLower(extension);
  const bool jpeg = lower == ".jpg" || lower == ".jpeg";
  path.replace_extension();
  return path.string() + (jpeg ? "_{stream}_{index}" : "_{stream}") + extension;
}

std::string CodecFor(Translation& t, const std::string& codec_type) {
  const std::string value = ToLower(codec_type);
  if (value == "h264") return "libx264";
  if (value == "h265" || value == "hevc") return "libx265";
  if (value == "jpeg" || value == "jpg") return "jpeg";
  t.Error("'codec_type' must be h264, h265 or jpeg, got " + Quoted(codec_type));
  return {};
}

std::vector<Rule> EncoderRules() {
  return {
      {"output_dir",  // CNStream 5: a folder, with the format in codec_type
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto dir = t.Scalar(key, v);
         if (!dir) return;
         std::string codec = "libx264";
         if (auto type = t.Take("codec_type")) {
           auto text = t.Scalar("codec_type", *type);
           if (!text) return;
           codec = CodecFor(t, *text);
           if (codec.empty()) return;
         }
         if (codec == "jpeg") {
           t.Set("path", (std::filesystem::path(*dir) / "{stream}_{index}.jpg").string());
         } else {
           t.Set("path", (std::filesystem::path(*dir) / "{stream}.mp4").string());
           t.Set("codec", codec);
         }
       }},
      {"codec_type",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string codec = CodecFor(t, *text);
         if (codec.empty()) return;
         if (t.Has("file_name")) {
           t.Note(key, LogLevel::kInfo,
                  "'codec_type' (CNStream) does not apply here: file_name's extension decides the format, as in "
                  "CNStream 6; ignored");
         } else if (codec == "jpeg") {
           t.Set("path", "output/{stream}_{index}.jpg");
         } else {
           t.Set("codec", codec);
         }
       }},
      {"file_name",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto file = t.Scalar(key, v);
         if (!file) return;
         t.Set("path", PathFromFileName(*file));
         const std::string extension = ToLower(std::filesystem::path(*file).extension().string());
         if (extension == ".h265" || extension == ".hevc" || extension == ".265") t.Set("codec", "libx265");
       }},
      {"encoder_type",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         auto text = t.Scalar(key, v);
         if (!text) return;
         const std::string value = ToLower(*text);
         if (value == "mlu") {
           t.NotApplicable(key, "there is no MLU encoder here; frames are encoded on the CPU with FFmpeg (codec)");
         } else if (value != "cpu" && value != "ffmpeg") {
           t.Error("'encoder_type' must be cpu or mlu, got " + Quoted(*text));
         }
       }},
      NotApplicable("hw_accel", "frames are encoded on the CPU with FFmpeg (codec)"),
      NotApplicable("input_frame", "frames are in CPU memory"),
      NotApplicable("preproc_type", "frames are converted for the encoder on the CPU"),
      NotApplicable("use_ffmpeg", "frames are always converted and encoded with FFmpeg"),
      NotApplicable("device_id", "the Encoder runs on the CPU"),
      {"dst_width",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto width = t.Whole(key, v, 0); width && *width > 0) {
           t.Unsupported(key, "each stream is written at its own size (the Encoder does not scale)");
         }
       }},
      {"dst_height",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto height = t.Whole(key, v, 0); height && *height > 0) {
           t.Unsupported(key, "each stream is written at its own size (the Encoder does not scale)");
         }
       }},
      {"bit_rate",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto bits = t.Whole(key, v, 0)) {
           t.Set("bitrate_kbps", std::to_string(*bits == 0 ? 0 : std::max<int64_t>(1, (*bits + 500) / 1000)));
         }
       }},
      Rename("kbit_rate", "bitrate_kbps"),
      {"view_rows",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto rows = t.Whole(key, v, 0); rows && *rows > 1) {
           t.Unsupported(key, "mosaic output: each stream gets a file of its own");
         }
       }},
      {"view_cols",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto cols = t.Whole(key, v, 0); cols && *cols > 1) {
           t.Unsupported(key, "mosaic output: each stream gets a file of its own");
         }
       }},
      {"resample",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto resample = t.Flag(key, v); resample && *resample) {
           t.Unsupported(key, "frames are written as they come (set frame_rate to space them evenly)");
         }
       }},
      {"rtsp_port",
       [](Translation& t, const std::string& key, const ParamValue& v) {
         if (auto port = t.Whole(key, v, -1); port && *port > 0) {
           t.Error("'rtsp_port' " + std::to_string(*port) +
                   " asks for an RTSP server, which vstream does not have; remove rtsp_port to write each stream to "
                   "file_name's files");
         }
       }},
  };
}

// --- ModuleIPC --------------------------------------------------------------------------------

std::vector<Rule> ModuleIpcRules() {
  return {NotApplicable("device_id", "frames from the client arrive in CPU memory; the Inferencer's device_id "
                                     "chooses where inference runs")};
}

// The rules for a vstream class; nullptr for a class CNStream does not have.
const std::vector<Rule>* RulesFor(std::string_view class_name) {
  static const std::map<std::string, std::vector<Rule>, std::less<>> kRules = {
      {"DataSource", DataSourceRules()}, {"Inferencer", InferencerRules()}, {"Tracker", TrackerRules()},
      {"Osd", OsdRules()},               {"Encoder", EncoderRules()},       {"ModuleIPC", ModuleIpcRules()},
  };
  auto it = kRules.find(class_name);
  return it == kRules.end() ? nullptr : &it->second;
}

}  // namespace

void TranslateCnstreamModule(ModuleConfig* module, CnstreamNotes* notes, std::vector<std::string>* errors) {
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  const ModuleRegistry::Entry* entry = registry.Find(module->class_name);
  const std::string target = entry != nullptr ? entry->class_name : std::string(ModuleRegistry::Canonical(module->class_name));
  const std::vector<Rule>* rules = RulesFor(target);
  if (rules == nullptr || module->params.empty()) return;
  // Keys the class declares are vstream's: only the rules that convert CNStream values of them apply.
  std::set<std::string> declared;
  if (entry != nullptr) {
    for (const auto& spec : entry->describe().params) declared.insert(spec.name);
  }
  Translation translation(module, notes, errors);
  for (const Rule& rule : *rules) {
    if (!rule.ours && declared.count(rule.key) != 0) continue;
    if (auto value = translation.Take(rule.key)) rule.apply(translation, rule.key, *value);
  }
  translation.Finish();
}

bool CnstreamModuleKey(const std::string& module, const std::string& key, const std::string* text,
                       CnstreamNotes* notes, std::vector<std::string>* errors) {
  if (key != "show_perf_info") return false;
  if (text == nullptr || !ParseBool(*text)) {
    errors->push_back("module " + Quoted(module) + ": 'show_perf_info' must be true or false, got " +
                      (text == nullptr ? std::string("a list or an object") : Quoted(*text)));
    return true;
  }
  notes->Add(module, key, LogLevel::kInfo,
             "'show_perf_info' (CNStream) does not apply here: vstream measures every module all the time "
             "(vstream run --stats-interval prints the table, Pipeline::GetStats returns it); ignored");
  return true;
}

std::string CnstreamForeignEntry(const std::string& name, const std::vector<std::string>& keys) {
  std::vector<std::string> foreign;
  for (const auto& key : keys) {
    if (key == "url" || key == "type" || key == "include") foreign.push_back("\"" + key + "\"");
  }
  if (foreign.empty()) return {};
  return "module " + Quoted(name) + ": an entry with " + Join(foreign, ", ") +
         " and no \"class_name\" is not a module. A config (vstream's, like CNStream's) holds modules "
         "({\"class_name\": ..., \"custom_params\": {...}}), \"profiler_config\" and \"subgraph:NAME\": "
         "{\"config_path\": \"other.json\"}: put inputs in a DataSource's \"inputs\" (or give them with vstream run "
         "--input URI), and include another config as a subgraph";
}

bool CnstreamTakesJsonText(std::string_view key) {
  return key == "custom_preproc_params" || key == "custom_postproc_params";
}

std::string CnstreamClassAdvice(std::string_view class_name) {
  struct Missing {
    std::string_view name;
    std::string_view what;
    std::string_view instead;
  };
  static const Missing kMissing[] = {
      {"RtspSink", "serves each stream over RTSP",
       "the closest class is Encoder, which writes each stream to a video file: \"class_name\": \"Encoder\", "
       "\"custom_params\": {\"path\": \"out/{stream}.mp4\"}"},
      {"Displayer", "shows the streams in a window",
       "the closest class is Encoder, which writes each stream to a video file to play: \"class_name\": "
       "\"Encoder\", \"custom_params\": {\"path\": \"out/{stream}.mp4\"}"},
      {"Vout", "shows a stream on a video output",
       "the closest class is Encoder, which writes each stream to a video file to play: \"class_name\": "
       "\"Encoder\", \"custom_params\": {\"path\": \"out/{stream}.mp4\"}"},
      {"Kafka", "publishes results to Kafka",
       "the closest class is ResultSink, which writes each frame's detections as a JSON line to a file or stdout "
       "(pipe it to a Kafka producer): \"class_name\": \"ResultSink\""},
      {"FpsStats", "measures frame rates",
       "vstream measures every module (vstream run --stats-interval, Pipeline::GetStats): use PassThrough in its "
       "place, or link its neighbours directly"},
      {"DiscardFrame", "drops frames",
       "use the DataSource's interval, or \"skip_if\": \"except_every_nth:N\" on the module after it, with "
       "PassThrough in its place"},
      {"FeatureExtractor", "extracts appearance features",
       "the closest class is Inferencer with object_infer, and a postprocessor registered with "
       "vstream::RegisterPostprocessor that writes each object's feature"},
  };
  const std::string_view canonical = ModuleRegistry::Canonical(class_name);
  for (const auto& missing : kMissing) {
    if (canonical != missing.name) continue;
    return "class_name " + Quoted(class_name) + " is CNStream's " + std::string(missing.name) + ", which " +
           std::string(missing.what) + "; vstream has no such module: " + std::string(missing.instead);
  }
  return {};
}

}  // namespace vstream::detail
