// Pre- and postprocessing for the Inferencer, registered by name.
//
// A preprocessor turns an image region (a whole frame, or an object's crop) into one batch item of
// the model's input; the built-in "image" one resizes (stretch or letterbox), converts colour order,
// applies (pixel * scale - mean) / std and writes NCHW or NHWC. A postprocessor turns one batch
// item of the model's outputs into objects whose boxes are normalized to that region. Built in:
// "classification" (softmax/top-k with labels), "blazeface" (anchors + weighted NMS), "ssd"
// (rows of [image, label, score, x1, y1, x2, y2]) and "yolo" ([cx, cy, w, h, objectness, classes...]).
//
// A processor is registered either as one function, shared by every Inferencer that names it
// (Register*processor), or as a factory (Register*processorFactory) that makes one function per
// Inferencer module when it opens: the factory gets the module's preproc_params / postproc_params
// ("key=value" items) and may fail Open with a reason, and the function it returns may keep state of
// its own (a Python instance, a loaded table). Plain processors read the same params from
// PreprocessSpec::params and PostprocessContext::params. Both kinds share one namespace per kind.
// A processor is called from the module's executor threads, by several at once when the module's
// parallelism is above 1: state it changes needs a lock.
//
//   vstream::RegisterPostprocessor("count_head", [](const std::vector<vstream::Tensor>& outputs, int64_t item,
//                                                  const vstream::PostprocessContext& context,
//                                                  std::vector<vstream::DetectedObject>* objects) {
//     ...; return vstream::Status::Ok();
//   });
//   // config: "custom_params": { "postproc_name": "count_head", "postproc_params": ["min_score=0.3"], ... }
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vstream/detected_object.hpp"
#include "vstream/export.hpp"
#include "vstream/geometry.hpp"
#include "vstream/inference/backend.hpp"
#include "vstream/inference/tensor.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class ResizeMode { kStretch, kLetterbox };

/// A processor's parameters: the Inferencer's preproc_params or postproc_params items "key=value",
/// as key -> value (the text after the first '=').
using ProcessorParams = std::map<std::string, std::string>;

struct PreprocessSpec {
  int width = 0;   // model input size
  int height = 0;
  int channels = 3;
  TensorLayout layout = TensorLayout::kNCHW;
  ResizeMode resize = ResizeMode::kStretch;
  bool rgb = true;                        // channel order the model expects
  std::array<float, 3> mean{0, 0, 0};     // in the model's channel order
  std::array<float, 3> std{1, 1, 1};
  float scale = 1.0f;                     // applied before mean/std: (pixel * scale - mean) / std
  ProcessorParams params;                 // the Inferencer's preproc_params
};

/// How model-input pixels map back to the region: region_px = (model_px - pad) / scale.
struct VSTREAM_EXPORT RegionTransform {
  float scale_x = 1;
  float scale_y = 1;
  float pad_x = 0;
  float pad_y = 0;
  int region_width = 0;
  int region_height = 0;

  /// A box in model-input pixels -> normalized to the region (clamped to [0, 1]).
  BoundingBox ToRegion(float x1, float y1, float x2, float y2) const;
};

/// `region` is BGR (CV_8UC3). Writes spec.width * spec.height * spec.channels floats to `out`.
using Preprocessor =
    std::function<Status(const cv::Mat& region, const PreprocessSpec& spec, float* out, RegionTransform* transform)>;

/// An empty ProcessorParams that lives as long as the program (PostprocessContext's default).
VSTREAM_EXPORT const ProcessorParams& NoProcessorParams();

struct PostprocessContext {
  const PreprocessSpec& spec;
  const RegionTransform& transform;
  float threshold;  // NaN: the config sets none, use the postprocessor's own default
  float nms_threshold;
  int top_k;
  const std::vector<std::string>& labels;
  const ProcessorParams& params = NoProcessorParams();  // the Inferencer's postproc_params
};

using Postprocessor = std::function<Status(const std::vector<Tensor>& outputs, int64_t item,
                                           const PostprocessContext& context, std::vector<DetectedObject>* objects)>;

/// What a processor factory is told about the Inferencer module it makes a processor for.
struct ProcessorSetup {
  const std::string& module;      // the Inferencer's name, for messages
  const std::string& name;        // the processor's name as the config wrote it (preproc_name / postproc_name)
  const ProcessorParams& params;  // preproc_params or postproc_params
};

/// Makes the processor of one Inferencer module into `*out`. A failed Status fails that module's
/// Open; its message says what is wrong (the Inferencer adds the module and the processor's name).
using PreprocessorFactory = std::function<Status(const ProcessorSetup& setup, Preprocessor* out)>;
using PostprocessorFactory = std::function<Status(const ProcessorSetup& setup, Postprocessor* out)>;

/// Register under `name`; false when the name is taken (a name or an alias, by a function or a
/// factory) or the function empty. CNStream's names PostprocClassification, PostprocSsd and
/// PostprocYolov5 are aliases of the built-in ones: found (with or without a "cnstream::" prefix, as
/// every name), not listed by *Names.
VSTREAM_EXPORT bool RegisterPreprocessor(const std::string& name, Preprocessor preprocessor);
VSTREAM_EXPORT bool RegisterPostprocessor(const std::string& name, Postprocessor postprocessor);
/// Register a factory under `name` and `aliases` (other spellings, found but not listed); false when
/// one of them is taken or the factory empty.
VSTREAM_EXPORT bool RegisterPreprocessorFactory(const std::string& name, PreprocessorFactory factory,
                                                const std::vector<std::string>& aliases = {});
VSTREAM_EXPORT bool RegisterPostprocessorFactory(const std::string& name, PostprocessorFactory factory,
                                                 const std::vector<std::string>& aliases = {});
/// The function registered under `name`; empty when unknown or when `name` is a factory (MakePreprocessor
/// makes those).
VSTREAM_EXPORT Preprocessor FindPreprocessor(const std::string& name);
VSTREAM_EXPORT Postprocessor FindPostprocessor(const std::string& name);
/// The processor `name` gives one module: the registered function, or what its factory makes from
/// `setup`. kNotFound (listing the known names) when `name` is not registered; a factory's failure
/// as it returned it.
VSTREAM_EXPORT Status MakePreprocessor(const std::string& name, const ProcessorSetup& setup, Preprocessor* out);
VSTREAM_EXPORT Status MakePostprocessor(const std::string& name, const ProcessorSetup& setup, Postprocessor* out);
/// Registered names of functions and factories, sorted (aliases not listed).
VSTREAM_EXPORT std::vector<std::string> PreprocessorNames();
VSTREAM_EXPORT std::vector<std::string> PostprocessorNames();

/// The built-in "image" preprocessing (usable from custom preprocessors).
VSTREAM_EXPORT Status PreprocessImage(const cv::Mat& region, const PreprocessSpec& spec, float* out,
                                      RegionTransform* transform);
/// Greedy NMS by IoU over `objects` (kept in descending score order); per label when `per_label`.
VSTREAM_EXPORT void NonMaximumSuppression(std::vector<DetectedObject>* objects, float iou_threshold, bool per_label);

}  // namespace vstream
