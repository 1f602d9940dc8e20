#include "vstream/modules/inferencer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "registries.hpp"
#include "vstream/inference/backend.hpp"
#include "vstream/inference/processing.hpp"
#include "vstream/log.hpp"
#include "vstream/opencv.hpp"
#include "vstream/registry.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace detail {

struct InferenceSettings {
  std::string module;
  PreprocessSpec spec;
  Preprocessor preprocess;
  Postprocessor postprocess;
  ProcessorParams postproc_params;  // (spec.params holds preproc_params)
  std::vector<std::string> labels;
  float threshold = std::nanf("");  // NaN: the postprocessor's own default
  float nms_threshold = 0.45f;
  int top_k = 1;
  int batch_size = 1;
  std::chrono::microseconds batching_timeout{0};
  int infer_interval = 1;
  bool object_infer = false;
  std::vector<std::string> object_filter;
};

namespace {
using Clock = std::chrono::steady_clock;

// Frames an executor queues at most: room for the batch being collected and the next one.
int BatchQueueCapacity(int batch_size) { return std::max(4, batch_size * 2); }

}  // namespace

// One worker's model instance, bound to its device, and the thread that batches and runs its
// frames, in arrival order.
class InferenceExecutor {
 public:
  InferenceExecutor(std::shared_ptr<const InferenceSettings> settings, std::unique_ptr<InferenceBackend> backend,
                    std::string device, int max_batch, std::function<bool(FramePtr)> transmit,
                    std::function<void(const FramePtr&, const std::string&)> fail,
                    std::function<void(std::chrono::nanoseconds)> record)
      : settings_(std::move(settings)),
        backend_(std::move(backend)),
        device_(std::move(device)),
        max_batch_(std::max(1, std::min(max_batch, settings_->batch_size))),
        capacity_(static_cast<size_t>(BatchQueueCapacity(settings_->batch_size))),
        transmit_(std::move(transmit)),
        fail_(std::move(fail)),
        record_(std::move(record)),
        thread_([this] { Run(); }) {}

  ~InferenceExecutor() { Stop(); }

  /// The device its backend bound it to ("cpu", "cuda:1", ...).
  const std::string& device() const { return device_; }

  /// From the worker thread: queues the frame (waiting while the executor is full). A skipped frame
  /// (skip_if) only keeps its place in the stream.
  void Push(FramePtr frame, bool skipped) {
    bool infer = false;
    if (!frame->IsEos() && !skipped) infer = seen_[frame->stream_id]++ % settings_->infer_interval == 0;
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return stop_ || queue_.size() < capacity_; });
    if (stop_) return;
    if (frame->IsEos()) seen_.erase(frame->stream_id);
    queue_.push_back({std::move(frame), infer, Clock::now()});
    inferable_ += infer ? 1 : 0;
    changed_.notify_all();
  }

  /// Frames still queued are dropped (Close runs after the pipeline drained or aborted).
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    not_full_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    FramePtr frame;
    bool infer;
    Clock::time_point arrived;
  };
  struct WorkItem {
    size_t entry;
    int object;  // -1: the whole frame
    cv::Rect rect;
  };

  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      // Wait for a full batch, an end of stream, or the timeout since the oldest frame arrived.
      const Clock::time_point deadline = queue_.front().arrived + settings_->batching_timeout;
      while (!stop_ && inferable_ > 0 && inferable_ < static_cast<size_t>(settings_->batch_size) && !HasEos() &&
             queue_.size() < capacity_) {
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
      if (stop_) return;
      std::vector<Entry> batch;
      size_t taken = 0;
      while (!queue_.empty() && taken < static_cast<size_t>(settings_->batch_size)) {
        Entry entry = std::move(queue_.front());
        queue_.pop_front();
        taken += entry.infer ? 1 : 0;
        const bool eos = entry.frame->IsEos();
        batch.push_back(std::move(entry));
        if (eos) break;
      }
      inferable_ -= taken;
      not_full_.notify_all();
      lock.unlock();
      Execute(batch);
      lock.lock();
    }
  }

  bool HasEos() const {
    for (const auto& e : queue_) {
      if (e.frame->IsEos()) return true;
    }
    return false;
  }

  void Execute(std::vector<Entry>& batch) {
    const Clock::time_point begin = Clock::now();
    const InferenceSettings& s = *settings_;
    std::vector<std::string> errors(batch.size());
    std::vector<cv::Mat> images(batch.size());
    std::vector<WorkItem> items;
    for (size_t e = 0; e < batch.size(); ++e) {
      if (!batch[e].infer) continue;
      Frame& frame = *batch[e].frame;
      images[e] = ToBgrMat(frame.image);
      if (images[e].empty()) {
        errors[e] = "the frame has no image to run '" + s.module + "' on";
        continue;
      }
      const cv::Rect whole(0, 0, images[e].cols, images[e].rows);
      if (!s.object_infer) {
        items.push_back({e, -1, whole});
        continue;
      }
      auto lock = frame.LockObjects();
      for (size_t o = 0; o < frame.objects.size(); ++o) {
        const DetectedObject& object = frame.objects[o];
        if (!s.object_filter.empty() &&
            std::find(s.object_filter.begin(), s.object_filter.end(), object.label) == s.object_filter.end()) {
          continue;
        }
        cv::Rect rect(static_cast<int>(std::floor(object.box.x * images[e].cols)),
                      static_cast<int>(std::floor(object.box.y * images[e].rows)),
                      static_cast<int>(std::ceil(object.box.w * images[e].cols)),
                      static_cast<int>(std::ceil(object.box.h * images[e].rows)));
        rect &= whole;
        if (rect.width >= 2 && rect.height >= 2) items.push_back({e, static_cast<int>(o), rect});
      }
    }

    // Mini-batches of at most max_batch items (1 for models whose graph fixes the batch).
    const int channels = s.spec.channels;
    std::vector<int64_t> shape = s.spec.layout == TensorLayout::kNHWC
                                     ? std::vector<int64_t>{0, s.spec.height, s.spec.width, channels}
                                     : std::vector<int64_t>{0, channels, s.spec.height, s.spec.width};
    for (size_t first = 0; first < items.size(); first += static_cast<size_t>(max_batch_)) {
      const size_t count = std::min(items.size() - first, static_cast<size_t>(max_batch_));
      shape[0] = static_cast<int64_t>(count);
      Tensor input(shape);
      std::vector<RegionTransform> transforms(count);
      for (size_t i = 0; i < count; ++i) {
        const WorkItem& item = items[first + i];
        const cv::Mat region = images[item.entry](item.rect);
        if (Status st = Guarded([&] { return s.preprocess(region, s.spec, input.item(static_cast<int64_t>(i)), &transforms[i]); });
            !st) {
          errors[item.entry] = "preprocessing failed: " + st.message();
        }
      }
      std::vector<Tensor> outputs;
      if (Status st = backend_->Run(input, &outputs); !st) {
        for (size_t i = 0; i < count; ++i) errors[items[first + i].entry] = "inference failed: " + st.message();
        continue;
      }
      for (size_t i = 0; i < count; ++i) {
        const WorkItem& item = items[first + i];
        if (!errors[item.entry].empty()) continue;
        std::vector<DetectedObject> results;
        const PostprocessContext context{
            s.spec, transforms[i], s.threshold, s.nms_threshold, s.top_k, s.labels, s.postproc_params};
        if (Status st = Guarded([&] { return s.postprocess(outputs, static_cast<int64_t>(i), context, &results); }); !st) {
          errors[item.entry] = "postprocessing failed: " + st.message();
          continue;
        }
        Attach(*batch[item.entry].frame, item, images[item.entry].size(), std::move(results));
      }
    }

    // Each inferred frame's latency is its batch's time: what it took from the batch leaving the
    // queue to its results (conversion, preprocessing, inference, postprocessing).
    const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - begin);
    for (size_t e = 0; e < batch.size(); ++e) {
      if (batch[e].infer && errors[e].empty()) record_(took);
    }
    for (size_t e = 0; e < batch.size(); ++e) {
      if (!errors[e].empty()) {
        fail_(batch[e].frame, errors[e]);
        continue;
      }
      if (!transmit_(std::move(batch[e].frame))) return;  // the pipeline is stopping
    }
  }

  // A pre- or postprocessor's call, with what it throws as its failure: processors are user code,
  // and an exception must fail the frame, not end this thread (and the process with it).
  template <typename Call>
  static Status Guarded(Call call) {
    try {
      return call();
    } catch (const std::exception& error) {
      return {StatusCode::kRuntimeError, std::string("it threw ") + error.what()};
    } catch (...) {
      return {StatusCode::kRuntimeError, "it threw an exception that is not a std::exception"};
    }
  }

  // Results of the whole frame become its objects; results of an object's crop become the
  // object's attributes (classifications) or new objects inside it (detections).
  void Attach(Frame& frame, const WorkItem& item, cv::Size size, std::vector<DetectedObject> results) {
    auto lock = frame.LockObjects();
    if (item.object < 0) {
      for (auto& r : results) frame.objects.push_back(std::move(r));
      return;
    }
    const float rx = static_cast<float>(item.rect.x) / size.width;
    const float ry = static_cast<float>(item.rect.y) / size.height;
    const float rw = static_cast<float>(item.rect.width) / size.width;
    const float rh = static_cast<float>(item.rect.height) / size.height;
    const std::string& key = settings_->module;
    bool classified = false;
    for (auto& r : results) {
      const bool whole_region = r.box.x == 0 && r.box.y == 0 && r.box.w == 1 && r.box.h == 1;
      if (whole_region) {
        if (classified) continue;  // top-1 goes to the object; the rest are not kept
        classified = true;
        DetectedObject& object = frame.objects[static_cast<size_t>(item.object)];
        object.attributes[key] = r.label;
        object.attributes[key + ".label_id"] = std::to_string(r.label_id);
        object.attributes[key + ".score"] = vstream::FormatNumber(r.score);
        for (auto& [name, values] : r.features) object.features[key + "." + name] = std::move(values);
        continue;
      }
      r.box = {rx + r.box.x * rw, ry + r.box.y * rh, r.box.w * rw, r.box.h * rh};
      r.attributes["parent"] = std::to_string(item.object);
      frame.objects.push_back(std::move(r));
    }
  }

  const std::shared_ptr<const InferenceSettings> settings_;
  const std::unique_ptr<InferenceBackend> backend_;
  const std::string device_;
  const int max_batch_;
  const size_t capacity_;
  const std::function<bool(FramePtr)> transmit_;
  const std::function<void(const FramePtr&, const std::string&)> fail_;
  const std::function<void(std::chrono::nanoseconds)> record_;
  std::unordered_map<std::string, int64_t> seen_;  // frames per stream; touched by the worker thread only
  std::mutex mutex_;
  std::condition_variable changed_;   // the queue grew, or stop
  std::condition_variable not_full_;  // the queue shrank, or stop
  std::deque<Entry> queue_;           // guarded by mutex_
  size_t inferable_ = 0;              // queued frames to run the model on; guarded by mutex_
  bool stop_ = false;                 // guarded by mutex_
  std::thread thread_;                // last: starts once everything above exists
};

}  // namespace detail

using detail::InferenceSettings;

Inferencer::~Inferencer() { Close(); }

ModuleDescription Inferencer::Describe() {
  return {
      "Runs a model on frames (or on their objects) with batching across streams and named pre/postprocessing.",
      {ParamSpec::Path("model_path", "", "the model file (ONNX, or any format the engine reads)").Required(),
       ParamSpec::String("postproc_name", "",
                         "postprocessor: classification, blazeface, ssd, yolo, CNStream's PostprocClassification / "
                         "PostprocSsd / PostprocYolov5, python (PyPostproc: a Python class, with the vstream Python "
                         "package), or one registered with vstream::RegisterPostprocessor(Factory)")
           .Required(),
       ParamSpec::List("postproc_params", "",
                       "parameters of the postprocessor, items 'key=value' (python: pyclass_name=module.Class and "
                       "the class's own)"),
       ParamSpec::String("preproc_name", "image",
                         "preprocessor: image (resize, colour order, normalization, layout), python (PyPreproc: a "
                         "Python class), or one registered with vstream::RegisterPreprocessor(Factory)"),
       ParamSpec::List("preproc_params", "",
                       "parameters of the preprocessor, items 'key=value' (python: pyclass_name=module.Class and "
                       "the class's own)"),
       ParamSpec::String("engine", "opencv",
                         "inference engine: opencv (OpenCV DNN), or any engine registered with "
                         "vstream::RegisterInferenceBackend; checked at Open"),
       ParamSpec::String("backend", "default",
                         "the engine's compute backend; opencv: default, opencv, cuda, openvino, vulkan"),
       ParamSpec::String("target", "auto",
                         "the engine's device kind; opencv: auto (the CPU for device -1, else the CUDA device), "
                         "cpu, opencl, opencl_fp16, cuda, cuda_fp16, vulkan"),
       ParamSpec::Int("device_id", -1,
                      "device of every instance; -1 is the CPU. With the opencv engine and target auto, a device "
                      "this machine lacks (a CNStream MLU card) runs on the best available one with a warning")
           .Range(-1, 64),
       ParamSpec::List("devices", "",
                       "devices bound to the parallel instances round-robin (\"0,1,2\": instance i uses device "
                       "i % 3; -1 is the CPU); a device this machine lacks is an error at Open"),
       ParamSpec::Int("input_width", 0, "model input width; 0 reads it from the model").Range(0, 16384),
       ParamSpec::Int("input_height", 0, "model input height; 0 reads it from the model").Range(0, 16384),
       ParamSpec::Enum("input_layout", "auto", {"auto", "nchw", "nhwc"}, "model input layout; auto reads it from the model (NCHW when unknown)"),
       ParamSpec::Enum("resize", "stretch", {"stretch", "letterbox"},
                       "stretch to the input size, or keep the aspect ratio and pad (letterbox)"),
       ParamSpec::Enum("channel_order", "rgb", {"rgb", "bgr"}, "colour order the model expects"),
       ParamSpec::List("mean", "0,0,0", "per-channel mean, in the model's channel order: (pixel * scale - mean) / std"),
       ParamSpec::List("std", "1,1,1", "per-channel standard deviation"),
       ParamSpec::Double("scale", 1.0, "pixel scale applied first (e.g. 0.003921569 for 1/255)"),
       ParamSpec::Path("labels_path", "", "text file with one label per line (label_id = line number from 0)"),
       ParamSpec::Double("threshold", 0, "minimum score; 0: the postprocessor's default (blazeface 0.75, "
                                         "ssd/yolo 0.5, classification 0)")
           .Range(0, 1),
       ParamSpec::Double("nms_threshold", 0.45, "IoU above which overlapping detections are merged").Range(0, 1),
       ParamSpec::Int("top_k", 1, "classification: classes kept per image").Range(1, 1000),
       ParamSpec::Int("batch_size", 1, "images per inference call, collected across streams").Range(1, 256),
       ParamSpec::Double("batching_timeout", 50,
                         "ms a partial batch waits for more frames before it runs (CNStream's batching_timeout)")
           .Range(0, 60000),
       ParamSpec::Int("infer_interval", 1, "run the model on every Nth frame of each stream; the others pass through")
           .Range(1, 100000),
       ParamSpec::Bool("object_infer", false,
                       "run on crops of the frame's objects instead of the whole frame (secondary inference)"),
       ParamSpec::List("object_filter", "", "object_infer: only objects with these labels (empty: all)")},
      R"(Every worker (`parallelism`) loads its own instance of the model on its device and runs its
frames on a thread of its own: frames are collected until `batch_size` images are waiting, a
stream ends, or `batching_timeout` ms passed since the oldest one arrived, then preprocessed into
one tensor, run, postprocessed, and sent on in the order they came, so every stream keeps its
order. Models whose graph fixes the batch at 1 (BlazeFace in OpenCV 4.6, for one) still work:
their items run one by one, and the log says so once.

The module's latency in stats is measured where the work happens: for every inferred frame, the
time its batch took from leaving the worker's queue to its results (image conversion,
preprocessing, inference, postprocessing). Frames passed through by `infer_interval` or `skip_if`
are not counted. Time a frame spends waiting for a batch to fill shows in the stream's end-to-end
latency, not here.

Results: on whole frames, the postprocessor's objects are added to the frame, with boxes in the
frame's coordinates (letterbox padding undone). With `object_infer`, each object that passes
`object_filter` is cropped and run through the model in mini-batches of `batch_size`; a
classification becomes the object's attributes `<module>` (label), `<module>.label_id` and
`<module>.score`; detections inside the crop become new objects with attribute `parent` (the index
of the object they were found in).

Input size, layout and batch are read from ONNX models (the graph's input shape); other formats
need `input_width`/`input_height`. `Open` runs the model once on a blank input, so a model that does
not fit the declared preprocessing fails there, with the shapes in the message, and nothing starts.

## Pre- and postprocessors

Built-in postprocessors: `classification` (softmax unless the output already is a distribution,
top-k, labels from `labels_path`), `blazeface` (MediaPipe's 896-anchor face detector: weighted
NMS, 6 keypoints in the feature `keypoints`), `ssd` (rows of `[image_id, label, score, x1, y1, x2,
y2]` normalized to the input, as OpenCV's DetectionOutput writes them) and `yolo` (rows of `[cx, cy,
w, h, objectness, class scores...]` in input pixels, YOLOv5-style). Register your own from C++:

```cpp
vstream::RegisterPostprocessor("plates", [](const std::vector<vstream::Tensor>& outputs, int64_t item,
                                            const vstream::PostprocessContext& context,
                                            std::vector<vstream::DetectedObject>* objects) {
  const float* row = outputs[0].item(item);          // this image's part of the batch
  vstream::DetectedObject plate;
  plate.box = context.transform.ToRegion(row[0], row[1], row[2], row[3]);  // input px -> region
  plate.score = row[4];
  objects->push_back(plate);
  return vstream::Status::Ok();
});
```

and name it in `postproc_name`. `RegisterPreprocessor` does the same for `preproc_name`; the
built-in one is available to it as `vstream::PreprocessImage`.

`postproc_params` and `preproc_params` give a processor parameters, as items `key=value`
(`"postproc_params": ["min_size=0.05", "label=plate"]`; a string is split at commas). Plain
processors read them from `context.params` and `spec.params`. A processor with settings or state of
its own is registered as a factory, which makes one processor per Inferencer module when it opens:

```cpp
vstream::RegisterPostprocessorFactory("plates", [](const vstream::ProcessorSetup& setup,
                                                   vstream::Postprocessor* out) {
  auto it = setup.params.find("min_size");
  if (it == setup.params.end()) return vstream::Status(vstream::StatusCode::kInvalidConfig, "min_size=... is missing");
  auto decoder = std::make_shared<PlateDecoder>(std::stof(it->second));  // this module's own
  *out = [decoder](const auto& outputs, int64_t item, const auto& context, auto* objects) {
    return decoder->Decode(outputs, item, context, objects);
  };
  return vstream::Status::Ok();
});
```

A factory's failure fails `Open` with its reason, naming the module and the processor. The
processor is called from the module's instances, several at once with `parallelism` above 1
(state it changes needs a lock).
Processors written in Python are the `python` pre- and postprocessor of the vstream Python package
(CNStream's names `PyPreproc` and `PyPostproc` work too): `postproc_params` names the class with
`pyclass_name=module.Class` (see [python.md](../python.md#python-pre--and-postprocessors)).

## Engines

`engine` names the inference engine, `opencv` (OpenCV DNN) unless one is registered from C++ with
`vstream::RegisterInferenceBackend(name, factory)` (a class implementing
`vstream::InferenceBackend`: Load, Prepare, Run); an engine that is not registered fails `Open`
with the known ones. `backend` and `target` are passed to the engine as they are written; the
values the parameters below list are OpenCV's.

## Devices

Every instance is bound to one device: `device_id` for all of them, or `devices` round-robin
(`"parallelism": 3, "devices": "0,1"`: instances on 0, 1, 0), as Paddle Serving binds process
ops to cards. -1 is the CPU. The engine applies the binding; `Open` fails when it cannot, naming
the device, and the log says where each instance runs (debug level).

With the opencv engine, a device number N selects CUDA device N (backend and target cuda with
`target: auto`), made current on the instance's thread before every forward pass; that needs an
OpenCV built with CUDA and a machine that has device N. Without them, N is an error ("device N does
not exist: this machine or this OpenCV build has no such device") for `devices`; for `device_id`
with `target: auto` the instance runs on the best available device instead (OpenCV's OpenCL
device, else the CPU) with a warning, so CNStream configs with `"device_id": 1` (an MLU card) run
anywhere. Targets opencl, opencl_fp16 and vulkan run on OpenCV's default device of that kind, so
with them only device 0 (or -1) is accepted. With device -1, a `target` (or `backend`) that this
OpenCV build or machine cannot run (CUDA in Debian's OpenCV, say) is named in a warning and the
instance runs on the CPU.

## CNStream

CNStream's `cnstream::Inferencer` and `cnstream::Inferencer2` name this class. Their settings
(`keep_aspect_ratio`, `model_input_pixel_format`, CNStream 7's `"preproc": "name=...;use_cpu=..."`
and `"postproc": "name=...;threshold=..."`, `batch_timeout`, `engine_num`, the names of CNStream's
pre- and postprocessors ...) are translated when a config is read: see the CNStream table in
[config.md](../config.md#cnstream-configs).)"};
}

HeldFrames Inferencer::FramesHeld(const ModuleParams& params) {
  const int batch_size = static_cast<int>(params.GetInt("batch_size"));
  const int64_t queue = detail::BatchQueueCapacity(batch_size);
  // A batch takes batch_size frames to run the model on; with infer_interval > 1 the frames it
  // passes over ride along, up to the whole queue. (So do frames skip_if skips: add the queue's
  // size per worker for a module with skip_if.)
  const int64_t running = params.GetInt("infer_interval") > 1 ? queue : batch_size;
  HeldFrames held;
  held.per_worker = queue + running;
  held.detail = "batch queue " + std::to_string(queue) + " + running batch " + std::to_string(running);
  // A batch runs once batch_size frames to infer are queued (the queue full will do): fewer frames
  // than that make it wait for batching_timeout.
  held.collects = batch_size > 1 ? std::min(queue, int64_t{batch_size} * params.GetInt("infer_interval")) : 0;
  held.collect_timeout_ms = params.GetDouble("batching_timeout");
  held.collects_param = "batch_size";
  return held;
}

namespace {

std::vector<float> Floats(const std::vector<std::string>& items, const char* what, std::string* error) {
  std::vector<float> out;
  for (const auto& item : items) {
    char* end = nullptr;
    const float v = std::strtof(item.c_str(), &end);
    if (item.empty() || *end != '\0') {
      *error = std::string(what) + " must be numbers, got '" + vstream::Excerpt(item) + "'";
      return {};
    }
    out.push_back(v);
  }
  return out;
}

// preproc_params / postproc_params: items "key=value" (spaces around either dropped) as a map.
Status ParseProcessorParams(const std::string& param, const std::vector<std::string>& items, ProcessorParams* out) {
  for (const auto& item : items) {
    const size_t equals = item.find('=');
    const std::string key = equals == std::string::npos ? "" : vstream::Trim(item.substr(0, equals));
    if (key.empty()) {
      return {StatusCode::kInvalidConfig,
              param + ": item '" + vstream::Excerpt(item) + "' is not of the form key=value (e.g. \"threshold=0.5\")"};
    }
    if (!out->emplace(key, vstream::Trim(item.substr(equals + 1))).second) {
      return {StatusCode::kInvalidConfig, param + ": key '" + vstream::Excerpt(key) + "' is given twice"};
    }
  }
  return Status::Ok();
}

// One processor of the module: the registered function, or the one its factory makes from `setup`.
// `param` is the name param (postproc_name), `registry` the processors of that kind.
template <typename Processor, typename Entry, typename Make>
Status MakeProcessor(const std::string& param, const NamedRegistry<Entry>& registry, const ProcessorSetup& setup,
                     Make make, Processor* out) {
  if (!registry.Contains(setup.name)) {
    return {StatusCode::kInvalidConfig, param + ": " + registry.Unknown(setup.name).message()};
  }
  if (Status s = make(setup.name, setup, out); !s) {
    return {s.code(), param + ": " + registry.kind() + " '" + setup.name + "': " + s.message()};
  }
  return Status::Ok();
}

// Step of Open: the module's pre- and postprocessor with their params; a factory makes this
// module's own.
Status MakeProcessors(const std::string& module, const ModuleParams& params, InferenceSettings* settings) {
  if (Status s = ParseProcessorParams("preproc_params", params.GetList("preproc_params"), &settings->spec.params); !s) {
    return s;
  }
  if (Status s = ParseProcessorParams("postproc_params", params.GetList("postproc_params"), &settings->postproc_params);
      !s) {
    return s;
  }
  const std::string post = params.GetString("postproc_name");
  if (Status s = MakeProcessor("postproc_name", detail::Postprocessors(), {module, post, settings->postproc_params},
                               &MakePostprocessor, &settings->postprocess);
      !s) {
    return s;
  }
  const std::string pre = params.GetString("preproc_name");
  return MakeProcessor("preproc_name", detail::Preprocessors(), {module, pre, settings->spec.params}, &MakePreprocessor,
                       &settings->preprocess);
}

}  // namespace

Status Inferencer::Open(const ModuleParams& params) {
  auto settings = std::make_shared<InferenceSettings>();
  settings->module = name();
  if (Status s = MakeProcessors(name(), params, settings.get()); !s) return Fail(s.message(), s.code());
  const std::string engine = params.GetString("engine");
  const std::optional<InferenceBackendFactory> factory = detail::InferenceBackends().Find(engine);
  if (!factory) {
    return Fail("engine: " + detail::InferenceBackends().Unknown(engine).message(), StatusCode::kInvalidConfig);
  }
  if (params.Has("labels_path")) {
    std::ifstream in(params.GetPath("labels_path"));
    if (!in) return Fail("labels_path: cannot read '" + vstream::Excerpt(params.GetPath("labels_path").string(), 200) + "'");
    for (std::string line; std::getline(in, line);) settings->labels.push_back(vstream::Trim(line));
    while (!settings->labels.empty() && settings->labels.back().empty()) settings->labels.pop_back();
  }
  std::string error;
  const auto mean = Floats(params.GetList("mean"), "mean", &error);
  const auto deviation = Floats(params.GetList("std"), "std", &error);
  if (!error.empty()) return Fail(error);
  if ((mean.size() != 1 && mean.size() != 3) || (deviation.size() != 1 && deviation.size() != 3)) {
    return Fail("mean and std take 1 or 3 numbers (one per channel)");
  }
  for (int c = 0; c < 3; ++c) {
    settings->spec.mean[c] = mean[mean.size() == 3 ? c : 0];
    settings->spec.std[c] = deviation[deviation.size() == 3 ? c : 0];
    if (settings->spec.std[c] == 0) return Fail("std must not be 0");
  }
  settings->spec.scale = static_cast<float>(params.GetDouble("scale"));
  settings->spec.rgb = params.GetString("channel_order") == "rgb";
  settings->spec.resize = params.GetString("resize") == "letterbox" ? ResizeMode::kLetterbox : ResizeMode::kStretch;
  if (params.GetDouble("threshold") > 0) {
    settings->threshold = static_cast<float>(params.GetDouble("threshold"));
  }
  settings->nms_threshold = static_cast<float>(params.GetDouble("nms_threshold"));
  settings->top_k = static_cast<int>(params.GetInt("top_k"));
  settings->batch_size = static_cast<int>(params.GetInt("batch_size"));
  settings->batching_timeout =
      std::chrono::microseconds(static_cast<int64_t>(params.GetDouble("batching_timeout") * 1000.0));
  settings->infer_interval = static_cast<int>(params.GetInt("infer_interval"));
  settings->object_infer = params.GetBool("object_infer");
  settings->object_filter = params.GetList("object_filter");

  // Devices: `devices` round-robin, else device_id for every instance. The engine binds them.
  std::vector<int> devices;
  const bool listed = !params.GetList("devices").empty();
  for (const auto& d : params.GetList("devices")) {
    char* end = nullptr;
    const long v = std::strtol(d.c_str(), &end, 10);
    if (d.empty() || *end != '\0' || v < -1 || v > 1024) {
      return Fail("devices must be device numbers (-1 for the CPU), got '" + vstream::Excerpt(d) + "'",
                  StatusCode::kInvalidConfig);
    }
    devices.push_back(static_cast<int>(v));
  }
  if (devices.empty()) devices.push_back(static_cast<int>(params.GetInt("device_id")));

  const int instances = std::max(1, parallelism());
  const std::filesystem::path model = params.GetPath("model_path");
  std::vector<std::unique_ptr<InferenceBackend>> backends;
  std::vector<std::string> bound;  // each instance's device, as its backend bound it
  int max_batch = settings->batch_size;
  for (int i = 0; i < instances; ++i) {
    BackendOptions options;
    options.backend = params.GetString("backend");
    options.target = params.GetString("target");
    options.device_id = devices[static_cast<size_t>(i) % devices.size()];
    options.device_fallback = !listed;
    options.wanted_batch = settings->batch_size;
    options.module = name();
    auto backend = (*factory)();
    if (!backend) return Fail("engine '" + engine + "': its factory made no backend");
    ModelInfo info;
    if (Status s = backend->Load(model, options, &info); !s) {
      // kUnavailable: the device cannot be bound; say which param chose it.
      if (s.code() == StatusCode::kUnavailable) {
        return Fail((listed ? "devices: " : "device_id: ") + s.message(), s.code());
      }
      return Fail(s.message(), s.code());
    }
    if (i == 0) {
      // The input: what the params say, else what the model declares; they must agree.
      PreprocessSpec& spec = settings->spec;
      const int width = static_cast<int>(params.GetInt("input_width"));
      const int height = static_cast<int>(params.GetInt("input_height"));
      if (info.input_width > 0 && width > 0 && (width != info.input_width || height != info.input_height)) {
        return Fail("input_width/input_height say " + std::to_string(width) + "x" + std::to_string(height) +
                    " but the model's input is " + std::to_string(info.input_width) + "x" +
                    std::to_string(info.input_height));
      }
      spec.width = width > 0 ? width : info.input_width;
      spec.height = height > 0 ? height : info.input_height;
      if (spec.width <= 0 || spec.height <= 0) {
        return Fail("the model does not declare its input size: set input_width and input_height");
      }
      const std::string layout = params.GetString("input_layout");
      const TensorLayout declared = layout == "nchw"   ? TensorLayout::kNCHW
                                    : layout == "nhwc" ? TensorLayout::kNHWC
                                                       : TensorLayout::kUnknown;
      if (declared != TensorLayout::kUnknown && info.layout != TensorLayout::kUnknown && declared != info.layout) {
        return Fail(std::string("input_layout says ") + layout + " but the model's input is " +
                    (info.layout == TensorLayout::kNCHW ? "nchw" : "nhwc") + " (shape " +
                    Tensor(std::vector<int64_t>(info.input_shape.begin(), info.input_shape.end())).ShapeText() + ")");
      }
      spec.layout = declared != TensorLayout::kUnknown ? declared
                    : info.layout != TensorLayout::kUnknown ? info.layout
                                                            : TensorLayout::kNCHW;
      spec.channels = info.input_channels > 0 ? info.input_channels : 3;
    }
    const PreprocessSpec& spec = settings->spec;
    const std::vector<int64_t> item = spec.layout == TensorLayout::kNHWC
                                          ? std::vector<int64_t>{1, spec.height, spec.width, spec.channels}
                                          : std::vector<int64_t>{1, spec.channels, spec.height, spec.width};
    int instance_batch = 1;
    if (Status s = backend->Prepare(item, settings->batch_size, &instance_batch); !s) {
      return Fail("model_path '" + vstream::Excerpt(model.string(), 200) + "': " + s.message());
    }
    max_batch = std::min(max_batch, instance_batch);
    std::string device = backend->device();
    if (device.empty()) device = options.device_id < 0 ? "cpu" : "device " + std::to_string(options.device_id);
    VSTREAM_LOG_DEBUG("module '{}': instance {} ({} engine) bound to {} (device {} asked)", name(), i, engine, device,
                      options.device_id);
    bound.push_back(std::move(device));
    backends.push_back(std::move(backend));
  }
  if (settings->batch_size > 1 && max_batch < settings->batch_size) {
    VSTREAM_LOG_INFO("module '{}': model '{}' runs one image per call (its graph fixes the batch at {}); batch_size {} "
                "collects frames across streams and runs them one by one",
                name(), model.filename().string(), max_batch, settings->batch_size);
  }
  settings_ = settings;
  for (size_t i = 0; i < backends.size(); ++i) {
    executors_.push_back(std::make_unique<detail::InferenceExecutor>(
        settings_, std::move(backends[i]), std::move(bound[i]), max_batch, [this](FramePtr frame) { return Transmit(std::move(frame)); },
        [this](const FramePtr& frame, const std::string& message) { ReportFrameError(frame, message); },
        [this](std::chrono::nanoseconds took) { RecordProcessingTime(took); }));
  }
  return {};
}

void Inferencer::Close() {
  executors_.clear();
  settings_.reset();  // its processors may hold resources of their own (Python objects)
}

std::vector<std::string> Inferencer::InstanceDevices() const {
  std::vector<std::string> devices;
  for (const auto& executor : executors_) devices.push_back(executor->device());
  return devices;
}

Status Inferencer::Process(FramePtr frame) { return Enqueue(std::move(frame), false); }

Status Inferencer::ProcessSkipped(FramePtr frame) { return Enqueue(std::move(frame), true); }

Status Inferencer::Enqueue(FramePtr frame, bool skipped) {
  // One executor per worker; a stream always reaches the same worker, so its frames stay in order.
  const size_t worker = WorkerFor(frame->stream_id);
  if (worker >= executors_.size()) return Fail("module '" + name() + "' is not open", StatusCode::kFailedState);
  executors_[worker]->Push(std::move(frame), skipped);
  return Status::Ok();
}

VSTREAM_REGISTER_MODULE_WITH_ALIASES(Inferencer, "Inferencer2");  // CNStream's inference-server variant

}  // namespace vstream
