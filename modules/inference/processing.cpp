// The built-in pre- and postprocessors (image; classification, blazeface, ssd, yolo), the two
// processor registries, and the functions that register, find and make processors by name.
#include "vstream/inference/processing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

#include "registries.hpp"

namespace vstream {

BoundingBox RegionTransform::ToRegion(float x1, float y1, float x2, float y2) const {
  auto clamp01 = [](float v) { return std::clamp(v, 0.0f, 1.0f); };
  const float w = static_cast<float>(std::max(1, region_width));
  const float h = static_cast<float>(std::max(1, region_height));
  const float left = clamp01((x1 - pad_x) / scale_x / w);
  const float top = clamp01((y1 - pad_y) / scale_y / h);
  const float right = clamp01((x2 - pad_x) / scale_x / w);
  const float bottom = clamp01((y2 - pad_y) / scale_y / h);
  return {left, top, std::max(0.0f, right - left), std::max(0.0f, bottom - top)};
}

void NonMaximumSuppression(std::vector<DetectedObject>* objects, float iou_threshold, bool per_label) {
  std::sort(objects->begin(), objects->end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  std::vector<DetectedObject> kept;
  for (auto& candidate : *objects) {
    bool suppressed = false;
    for (const auto& k : kept) {
      if ((!per_label || k.label_id == candidate.label_id) && IntersectionOverUnion(k.box, candidate.box) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(std::move(candidate));
  }
  *objects = std::move(kept);
}

Status PreprocessImage(const cv::Mat& region, const PreprocessSpec& spec, float* out, RegionTransform* transform) {
  if (region.empty() || region.type() != CV_8UC3) {
    return {StatusCode::kInvalidArgument, "preprocessing needs a non-empty BGR image"};
  }
  if (spec.width <= 0 || spec.height <= 0) return {StatusCode::kInvalidArgument, "preprocessing needs an input size"};
  transform->region_width = region.cols;
  transform->region_height = region.rows;
  cv::Mat resized;
  if (spec.resize == ResizeMode::kLetterbox) {
    const float scale = std::min(static_cast<float>(spec.width) / region.cols, static_cast<float>(spec.height) / region.rows);
    const int w = std::max(1, static_cast<int>(std::round(region.cols * scale)));
    const int h = std::max(1, static_cast<int>(std::round(region.rows * scale)));
    cv::Mat inner;
    cv::resize(region, inner, cv::Size(w, h), 0, 0, cv::INTER_LINEAR);
    const int pad_x = (spec.width - w) / 2;
    const int pad_y = (spec.height - h) / 2;
    cv::copyMakeBorder(inner, resized, pad_y, spec.height - h - pad_y, pad_x, spec.width - w - pad_x,
                       cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
    *transform = {scale, scale, static_cast<float>(pad_x), static_cast<float>(pad_y), region.cols, region.rows};
  } else {
    cv::resize(region, resized, cv::Size(spec.width, spec.height), 0, 0, cv::INTER_LINEAR);
    *transform = {static_cast<float>(spec.width) / region.cols, static_cast<float>(spec.height) / region.rows, 0, 0,
                  region.cols, region.rows};
  }
  if (spec.channels == 1) cv::cvtColor(resized, resized, cv::COLOR_BGR2GRAY);
  const int channels = spec.channels;
  const size_t plane = static_cast<size_t>(spec.width) * static_cast<size_t>(spec.height);
  for (int y = 0; y < spec.height; ++y) {
    const uint8_t* row = resized.ptr<uint8_t>(y);
    for (int x = 0; x < spec.width; ++x) {
      for (int c = 0; c < channels; ++c) {
        // The model's channel c comes from BGR index (2 - c) when it wants RGB.
        const int source = channels == 3 && spec.rgb ? 2 - c : c;
        const float v = (row[x * channels + source] * spec.scale - spec.mean[c]) / spec.std[c];
        const size_t pixel = static_cast<size_t>(y) * spec.width + x;
        if (spec.layout == TensorLayout::kNHWC) {
          out[pixel * channels + c] = v;
        } else {
          out[c * plane + pixel] = v;
        }
      }
    }
  }
  return Status::Ok();
}

namespace {

float Sigmoid(float v) { return 1.0f / (1.0f + std::exp(-std::clamp(v, -100.0f, 100.0f))); }

std::string LabelOf(const std::vector<std::string>& labels, int id) {
  return id >= 0 && static_cast<size_t>(id) < labels.size() ? labels[static_cast<size_t>(id)] : std::to_string(id);
}

float Threshold(const PostprocessContext& context, float fallback) {
  return std::isnan(context.threshold) ? fallback : context.threshold;
}

// --- classification: softmax (unless the output already is a distribution), then top-k -------
Status Classification(const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
                      std::vector<DetectedObject>* objects) {
  if (outputs.empty()) return {StatusCode::kInvalidArgument, "classification: the model has no output"};
  const Tensor& out = outputs[0];
  const int64_t classes = out.item_size();
  const float* raw = out.item(item);
  std::vector<float> scores(raw, raw + classes);
  const float sum = std::accumulate(scores.begin(), scores.end(), 0.0f);
  const bool distribution = std::all_of(scores.begin(), scores.end(), [](float s) { return s >= 0 && s <= 1; }) &&
                            std::fabs(sum - 1.0f) < 1e-3f;
  if (!distribution) {
    const float top = *std::max_element(scores.begin(), scores.end());
    float total = 0;
    for (float& s : scores) total += (s = std::exp(s - top));
    for (float& s : scores) s /= total;
  }
  std::vector<int> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  const int k = std::min<int>(std::max(1, context.top_k), static_cast<int>(classes));
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int a, int b) { return scores[static_cast<size_t>(a)] > scores[static_cast<size_t>(b)]; });
  for (int i = 0; i < k; ++i) {
    const int id = order[static_cast<size_t>(i)];
    if (scores[static_cast<size_t>(id)] < Threshold(context, 0.0f)) break;
    DetectedObject object;
    object.box = {0, 0, 1, 1};  // the whole region
    object.label_id = id;
    object.label = LabelOf(context.labels, id);
    object.score = scores[static_cast<size_t>(id)];
    objects->push_back(std::move(object));
  }
  return Status::Ok();
}

// --- BlazeFace: SSD anchors, sigmoid scores, weighted NMS, 6 keypoints -------------------------
// Outputs: scores [.., 512, 1] and [.., 384, 1], regressors [.., 512, 16] and [.., 384, 16]: a 16x16
// grid with 2 anchors per cell (stride 8 of 128) and an 8x8 grid with 6 (stride 16), centred in
// their cells, unit size. Regressors are offsets in input pixels: box centre, size, 6 keypoints.
Status BlazeFace(const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
                 std::vector<DetectedObject>* objects) {
  const Tensor* scores[2] = {nullptr, nullptr};
  const Tensor* boxes[2] = {nullptr, nullptr};
  for (const Tensor& t : outputs) {
    if (t.shape.size() < 2) continue;
    const int64_t last = t.shape.back();
    const int64_t anchors = last == 1 || last == 16 ? t.item_size() / last : 0;
    const int group = anchors == 512 ? 0 : anchors == 384 ? 1 : -1;
    if (group < 0) continue;
    (last == 1 ? scores : boxes)[group] = &t;
  }
  if (!scores[0] || !scores[1] || !boxes[0] || !boxes[1]) {
    return {StatusCode::kInvalidArgument,
            "blazeface: expected outputs of 512x1, 384x1, 512x16 and 384x16 (the 896-anchor BlazeFace head); "
            "this model's outputs do not match"};
  }
  const float width = static_cast<float>(context.spec.width);
  const float height = static_cast<float>(context.spec.height);
  const float threshold = Threshold(context, 0.75f);
  struct Candidate {
    float score;
    float values[16];  // x1, y1, x2, y2 (normalized to the input), then 6 keypoints (x, y)
  };
  std::vector<Candidate> candidates;
  const struct {
    int grid;
    int per_cell;
  } layout[2] = {{16, 2}, {8, 6}};
  for (int g = 0; g < 2; ++g) {
    const float* s = scores[g]->item(item);
    const float* r = boxes[g]->item(item);
    const int count = layout[g].grid * layout[g].grid * layout[g].per_cell;
    for (int i = 0; i < count; ++i) {
      const float score = Sigmoid(s[i]);
      if (score < threshold) continue;
      const int cell = i / layout[g].per_cell;
      const float ax = (static_cast<float>(cell % layout[g].grid) + 0.5f) / layout[g].grid;
      const float ay = (static_cast<float>(cell / layout[g].grid) + 0.5f) / layout[g].grid;
      const float* v = r + static_cast<ptrdiff_t>(i) * 16;
      const float cx = v[0] / width + ax;
      const float cy = v[1] / height + ay;
      const float w = v[2] / width;
      const float h = v[3] / height;
      Candidate c{score, {cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2}};
      for (int k = 0; k < 6; ++k) {
        c.values[4 + 2 * k] = v[4 + 2 * k] / width + ax;
        c.values[5 + 2 * k] = v[5 + 2 * k] / height + ay;
      }
      candidates.push_back(c);
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
  auto iou = [](const Candidate& a, const Candidate& b) {
    return IntersectionOverUnion({a.values[0], a.values[1], a.values[2] - a.values[0], a.values[3] - a.values[1]},
                                 {b.values[0], b.values[1], b.values[2] - b.values[0], b.values[3] - b.values[1]});
  };
  std::vector<bool> used(candidates.size(), false);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (used[i]) continue;
    // Weighted NMS: average every overlapping candidate, weighted by score.
    float merged[16] = {0};
    float total = 0;
    for (size_t j = i; j < candidates.size(); ++j) {
      if (used[j] || iou(candidates[i], candidates[j]) <= context.nms_threshold) continue;
      used[j] = true;
      total += candidates[j].score;
      for (int v = 0; v < 16; ++v) merged[v] += candidates[j].values[v] * candidates[j].score;
    }
    for (float& v : merged) v /= total;
    DetectedObject face;
    face.box = context.transform.ToRegion(merged[0] * width, merged[1] * height, merged[2] * width, merged[3] * height);
    face.label_id = 0;
    face.label = context.labels.empty() ? "face" : context.labels[0];
    face.score = candidates[i].score;
    std::vector<float> keypoints;
    for (int k = 0; k < 6; ++k) {
      const BoundingBox p = context.transform.ToRegion(merged[4 + 2 * k] * width, merged[5 + 2 * k] * height,
                                                       merged[4 + 2 * k] * width, merged[5 + 2 * k] * height);
      keypoints.push_back(p.x);
      keypoints.push_back(p.y);
    }
    face.features["keypoints"] = std::move(keypoints);  // right eye, left eye, nose, mouth, right ear, left ear
    if (face.box.w > 0 && face.box.h > 0) objects->push_back(std::move(face));
  }
  return Status::Ok();
}

// --- SSD: rows of [image_id, label, score, x1, y1, x2, y2], coordinates normalized to the input ---
Status Ssd(const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
           std::vector<DetectedObject>* objects) {
  if (outputs.empty() || outputs[0].shape.empty() || outputs[0].shape.back() != 7) {
    return {StatusCode::kInvalidArgument, "ssd: expected an output whose last dimension is 7 "
                                          "([image_id, label, score, x1, y1, x2, y2])"};
  }
  const Tensor& out = outputs[0];
  // OpenCV's DetectionOutput puts every image's rows in one [1, 1, K, 7] blob, told apart by image_id.
  const bool shared = out.batch() == 1;
  const float* rows = shared ? out.data.data() : out.item(item);
  const int64_t count = (shared ? out.count() : out.item_size()) / 7;
  const float w = static_cast<float>(context.spec.width);
  const float h = static_cast<float>(context.spec.height);
  for (int64_t i = 0; i < count; ++i) {
    const float* r = rows + i * 7;
    if (shared && static_cast<int64_t>(r[0]) != item) continue;
    if (r[2] < Threshold(context, 0.5f)) continue;
    DetectedObject object;
    object.label_id = static_cast<int>(r[1]);
    object.label = LabelOf(context.labels, object.label_id);
    object.score = r[2];
    object.box = context.transform.ToRegion(r[3] * w, r[4] * h, r[5] * w, r[6] * h);
    if (object.box.w > 0 && object.box.h > 0) objects->push_back(std::move(object));
  }
  NonMaximumSuppression(objects, context.nms_threshold, true);
  return Status::Ok();
}

// --- YOLO (v5-style export): rows of [cx, cy, w, h, objectness, class scores...] in input pixels ---
Status Yolo(const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
            std::vector<DetectedObject>* objects) {
  if (outputs.empty() || outputs[0].shape.size() < 2 || outputs[0].shape.back() < 6) {
    return {StatusCode::kInvalidArgument,
            "yolo: expected an output [batch, boxes, 5 + classes] ([cx, cy, w, h, objectness, class scores])"};
  }
  const Tensor& out = outputs[0];
  const int64_t stride = out.shape.back();
  const int64_t count = out.item_size() / stride;
  const float* rows = out.item(item);
  for (int64_t i = 0; i < count; ++i) {
    const float* r = rows + i * stride;
    const float* best = std::max_element(r + 5, r + stride);
    const float score = r[4] * *best;
    if (score < Threshold(context, 0.5f)) continue;
    DetectedObject object;
    object.label_id = static_cast<int>(best - (r + 5));
    object.label = LabelOf(context.labels, object.label_id);
    object.score = score;
    object.box = context.transform.ToRegion(r[0] - r[2] / 2, r[1] - r[3] / 2, r[0] + r[2] / 2, r[1] + r[3] / 2);
    if (object.box.w > 0 && object.box.h > 0) objects->push_back(std::move(object));
  }
  NonMaximumSuppression(objects, context.nms_threshold, true);
  return Status::Ok();
}

}  // namespace

namespace detail {

NamedRegistry<PreprocessorEntry>& Preprocessors() {
  static NamedRegistry<PreprocessorEntry> registry("preprocessor");
  static const bool built_in = registry.Register("image", {PreprocessImage, {}});
  (void)built_in;
  return registry;
}

NamedRegistry<PostprocessorEntry>& Postprocessors() {
  static NamedRegistry<PostprocessorEntry> registry("postprocessor");
  // CNStream's postprocessor class names are aliases of the built-in ones.
  static const bool built_in = registry.Register("classification", {Classification, {}}, {"PostprocClassification"}) &&
                               registry.Register("blazeface", {BlazeFace, {}}) &&
                               registry.Register("ssd", {Ssd, {}}, {"PostprocSsd"}) &&
                               registry.Register("yolo", {Yolo, {}}, {"PostprocYolov5"});
  (void)built_in;
  return registry;
}

}  // namespace detail

namespace {

// The processor `name` gives one module: the shared function, or what the factory makes for it.
template <typename Processor, typename Factory>
Status MakeProcessor(const NamedRegistry<detail::ProcessorEntry<Processor, Factory>>& registry,
                     const std::string& name, const ProcessorSetup& setup, Processor* out) {
  const auto entry = registry.Find(name);
  if (!entry) return registry.Unknown(name);
  if (entry->function) {
    *out = entry->function;
    return Status::Ok();
  }
  Processor made;
  if (Status s = entry->factory(setup, &made); !s) return s;
  if (!made) return {StatusCode::kRuntimeError, "its factory made no " + registry.kind()};
  *out = std::move(made);
  return Status::Ok();
}

}  // namespace

const ProcessorParams& NoProcessorParams() {
  static const ProcessorParams none;
  return none;
}

bool RegisterPreprocessor(const std::string& name, Preprocessor preprocessor) {
  return preprocessor && detail::Preprocessors().Register(name, {std::move(preprocessor), {}});
}
bool RegisterPostprocessor(const std::string& name, Postprocessor postprocessor) {
  return postprocessor && detail::Postprocessors().Register(name, {std::move(postprocessor), {}});
}
bool RegisterPreprocessorFactory(const std::string& name, PreprocessorFactory factory,
                                 const std::vector<std::string>& aliases) {
  return factory && detail::Preprocessors().Register(name, {{}, std::move(factory)}, aliases);
}
bool RegisterPostprocessorFactory(const std::string& name, PostprocessorFactory factory,
                                  const std::vector<std::string>& aliases) {
  return factory && detail::Postprocessors().Register(name, {{}, std::move(factory)}, aliases);
}
Preprocessor FindPreprocessor(const std::string& name) {
  const auto entry = detail::Preprocessors().Find(name);
  return entry ? entry->function : Preprocessor{};
}
Postprocessor FindPostprocessor(const std::string& name) {
  const auto entry = detail::Postprocessors().Find(name);
  return entry ? entry->function : Postprocessor{};
}
Status MakePreprocessor(const std::string& name, const ProcessorSetup& setup, Preprocessor* out) {
  return MakeProcessor(detail::Preprocessors(), name, setup, out);
}
Status MakePostprocessor(const std::string& name, const ProcessorSetup& setup, Postprocessor* out) {
  return MakeProcessor(detail::Postprocessors(), name, setup, out);
}
std::vector<std::string> PreprocessorNames() { return detail::Preprocessors().Names(); }
std::vector<std::string> PostprocessorNames() { return detail::Postprocessors().Names(); }

}  // namespace vstream
