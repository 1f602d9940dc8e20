// The "opencv" inference engine: cv::dnn::Net (ONNX, Caffe, TensorFlow, Darknet, TFLite, ...).
//
// It decides where each instance runs from the device number and the `backend`/`target` strings
// (see Place): a device number selects a CUDA device, bound with cv::cuda::setDevice on the calling
// thread before every forward pass; -1 is the CPU. All OpenCV DNN device logic lives here.
#include <opencv2/core/cuda.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <map>

#include "onnx_input.hpp"
#include "vstream/inference/backend.hpp"
#include "vstream/log.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace {

const std::map<std::string, int>& Backends() {
  static const std::map<std::string, int> backends = {
      {"default", cv::dnn::DNN_BACKEND_DEFAULT},     {"opencv", cv::dnn::DNN_BACKEND_OPENCV},
      {"cuda", cv::dnn::DNN_BACKEND_CUDA},           {"openvino", cv::dnn::DNN_BACKEND_INFERENCE_ENGINE},
      {"vulkan", cv::dnn::DNN_BACKEND_VKCOM}};
  return backends;
}

const std::map<std::string, int>& Targets() {
  static const std::map<std::string, int> targets = {
      {"cpu", cv::dnn::DNN_TARGET_CPU},           {"opencl", cv::dnn::DNN_TARGET_OPENCL},
      {"opencl_fp16", cv::dnn::DNN_TARGET_OPENCL_FP16}, {"cuda", cv::dnn::DNN_TARGET_CUDA},
      {"cuda_fp16", cv::dnn::DNN_TARGET_CUDA_FP16}, {"vulkan", cv::dnn::DNN_TARGET_VULKAN}};
  return targets;
}

// OpenCV logs an [ERROR] for every layer that rejects a probe shape; probing expects that.
class QuietOpenCvLog {
 public:
  QuietOpenCvLog() : previous_(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT)) {}
  ~QuietOpenCvLog() { cv::utils::logging::setLogLevel(previous_); }

 private:
  cv::utils::logging::LogLevel previous_;
};

std::vector<int> IntShape(const std::vector<int64_t>& shape) { return {shape.begin(), shape.end()}; }

std::vector<std::string> KeysOf(const std::map<std::string, int>& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first);
  return keys;
}

// "backend: 'x' is not an OpenCV DNN backend (did you mean 'y'?); known: a, b".
Status NotOneOf(const std::string& what, const std::string& value, const std::vector<std::string>& known) {
  std::string message = what + ": '" + value + "' is not an OpenCV DNN " + what;
  if (std::string guess = ClosestMatch(value, known); !guess.empty()) message += " (did you mean '" + guess + "'?)";
  return {StatusCode::kInvalidConfig, message + "; known: " + Join(known, ", ")};
}

// Can OpenCV DNN run `backend` on `target` here (this build, this machine)?
bool Available(const std::string& backend, const std::string& target) {
  const auto b = Backends().find(backend);
  const auto t = Targets().find(target);
  if (b == Backends().end() || t == Targets().end()) return false;
  for (auto available : cv::dnn::getAvailableTargets(static_cast<cv::dnn::Backend>(b->second))) {
    if (available == t->second) return true;
  }
  return false;
}

// CUDA devices OpenCV can use: 0 when this OpenCV build has no CUDA (Debian's), or no driver.
int CudaDevices() {
  try {
    return std::max(0, cv::cuda::getCudaEnabledDeviceCount());
  } catch (const cv::Exception&) {
    return 0;
  }
}

// Where one instance runs.
struct Placement {
  std::string backend;
  std::string target;
  int cuda_device = -1;  // bound with cv::cuda::setDevice before every forward pass; -1: none
  std::string description;  // "cpu", "cuda:1", "opencl", ...
};

// Decides the placement of an instance bound to `options.device_id`:
// - -1: the CPU with target auto; an explicit target runs on OpenCV's default device of that kind,
//   or on the CPU with a warning when this build or machine cannot run it.
// - N >= 0: CUDA device N (backend cuda unless another one is named), when OpenCV sees it; targets
//   opencl/opencl_fp16/vulkan run on OpenCV's default device of that kind, so only N = 0 selects it.
//   A device this machine or OpenCV build lacks is kUnavailable, naming it; except for a
//   `device_id` (options.device_fallback) with target auto, as CNStream configs name MLU cards: that
//   runs on the best available device (an OpenCL GPU, else the CPU) with a warning.
Status Place(const BackendOptions& options, Placement* out) {
  if (Backends().count(options.backend) == 0) return NotOneOf("backend", options.backend, KeysOf(Backends()));
  if (options.target != "auto" && Targets().count(options.target) == 0) {
    std::vector<std::string> known = KeysOf(Targets());
    known.insert(known.begin(), "auto");
    return NotOneOf("target", options.target, known);
  }
  const bool automatic = options.target == "auto";
  const bool cuda_target = options.target.rfind("cuda", 0) == 0;
  const int device = options.device_id;
  out->backend = options.backend;
  out->target = automatic ? (device < 0 ? "cpu" : "cuda") : options.target;
  if (out->target.rfind("cuda", 0) == 0 && out->backend == "default") out->backend = "cuda";

  if (device < 0) {
    if (!Available(out->backend, out->target)) {
      VSTREAM_LOG_WARN("module '{}': target '{}' (backend '{}') is not available: this OpenCV build or this machine "
                       "cannot run it; running on the CPU",
                       options.module, out->target, out->backend);
      if (out->backend == "cuda" || out->backend == "vulkan") out->backend = "default";
      out->target = "cpu";
      if (!Available(out->backend, out->target)) {
        return {StatusCode::kUnavailable, "OpenCV DNN backend '" + out->backend + "' cannot run on the CPU here"};
      }
    }
    out->description = out->target;
    return Status::Ok();
  }

  const int cuda_devices = CudaDevices();
  std::string missing;  // why `device` cannot be bound
  if (automatic || cuda_target) {
    if (device < cuda_devices && Available(out->backend, out->target)) {
      out->cuda_device = device;
      out->description = "cuda:" + std::to_string(device);
      return Status::Ok();
    }
    missing = "this machine or this OpenCV build has no such device (OpenCV sees " + std::to_string(cuda_devices) +
              " CUDA device(s))";
    if (device < cuda_devices) {
      missing = "OpenCV DNN cannot run backend '" + out->backend + "' on target '" + out->target + "' there";
    }
  } else if (out->target != "cpu") {  // opencl, opencl_fp16, vulkan: OpenCV's default device of that kind
    if (device == 0 && Available(out->backend, out->target)) {
      out->description = out->target;
      return Status::Ok();
    }
    if (device == 0) {
      missing = "this machine or this OpenCV build cannot run target '" + out->target + "' (backend '" +
                out->backend + "')";
    } else {
      missing = "target '" + out->target + "' runs on OpenCV's default " + out->target + " device only (device 0)";
    }
  } else {
    missing = "target 'cpu' runs on the CPU only (device -1)";
  }
  const std::string message = "device " + std::to_string(device) + " does not exist: " + missing;
  if (!options.device_fallback || !automatic) return {StatusCode::kUnavailable, message};
  // CNStream compatibility: the best available device, with a warning.
  out->backend = options.backend == "cuda" || options.backend == "vulkan" ? "default" : options.backend;
  if (cv::ocl::haveOpenCL() && Available(out->backend, "opencl")) {
    out->target = "opencl";
    out->description = "opencl";
  } else {
    out->target = "cpu";
    out->description = "cpu";
  }
  VSTREAM_LOG_WARN("module '{}': device_id {}: {}; running on {} instead", options.module, device, message,
                   out->description == "cpu" ? "the CPU" : "OpenCV's default OpenCL device");
  return Status::Ok();
}

class OpenCvBackend : public InferenceBackend {
 public:
  Status Load(const std::filesystem::path& model, const BackendOptions& options, ModelInfo* info) override {
    Placement placement;
    if (Status s = Place(options, &placement); !s) return s;
    std::error_code error;
    if (!std::filesystem::is_regular_file(model, error)) {
      return {StatusCode::kNotFound, "model_path: no model file at '" + model.string() + "'"};
    }
    try {
      QuietOpenCvLog quiet;
      net_ = cv::dnn::readNet(model.string());
    } catch (const cv::Exception& e) {
      return {StatusCode::kInvalidArgument, "model_path: OpenCV cannot read '" + model.string() + "' as a model: " + e.msg};
    }
    if (net_.empty()) {
      return {StatusCode::kInvalidArgument, "model_path: OpenCV cannot read '" + model.string() +
                                                "' as a model (ONNX, Caffe, TensorFlow, Darknet, TFLite)"};
    }
    net_.setPreferableBackend(Backends().at(placement.backend));
    net_.setPreferableTarget(Targets().at(placement.target));
    cuda_device_ = placement.cuda_device;
    device_ = placement.description;
    outputs_ = net_.getUnconnectedOutLayersNames();
    info->output_names.assign(outputs_.begin(), outputs_.end());
    std::string input_name;
    if (model.extension() == ".onnx" && detail::ReadOnnxInput(model, &input_name, &info->input_shape)) {
      const auto& d = info->input_shape;
      if (d.size() == 4 && (d[1] == 1 || d[1] == 3) && d[3] != 1 && d[3] != 3) {
        info->layout = TensorLayout::kNCHW;
        info->input_channels = static_cast<int>(d[1]);
        info->input_height = static_cast<int>(d[2]);
        info->input_width = static_cast<int>(d[3]);
      } else if (d.size() == 4 && (d[3] == 1 || d[3] == 3)) {
        info->layout = TensorLayout::kNHWC;
        info->input_height = static_cast<int>(d[1]);
        info->input_width = static_cast<int>(d[2]);
        info->input_channels = static_cast<int>(d[3]);
      }
      if (info->input_width < 0) info->input_width = 0;
      if (info->input_height < 0) info->input_height = 0;
    }
    return Status::Ok();
  }

  Status Prepare(const std::vector<int64_t>& item_shape, int wanted_batch, int* max_batch) override {
    QuietOpenCvLog quiet;
    Tensor one(item_shape);
    std::vector<Tensor> outputs;
    if (Status s = RunQuiet(one, &outputs); !s) {
      return {StatusCode::kInvalidArgument, "the model does not run on input " + one.ShapeText() +
                                                " (what the preprocessing produces): " + s.message()};
    }
    *max_batch = 1;
    if (wanted_batch > 1) {
      std::vector<int64_t> shape = item_shape;
      shape[0] = wanted_batch;
      Tensor many(shape);
      std::vector<Tensor> batched;
      if (RunQuiet(many, &batched) && !batched.empty() && batched[0].batch() == wanted_batch) *max_batch = wanted_batch;
    }
    return Status::Ok();
  }

  Status Run(const Tensor& input, std::vector<Tensor>* outputs) override { return RunQuiet(input, outputs); }

  std::string device() const override { return device_; }

 private:
  Status RunQuiet(const Tensor& input, std::vector<Tensor>* outputs) {
    try {
      // The CUDA device is per thread: Prepare runs on Open's thread, Run on the instance's own.
      if (cuda_device_ >= 0) cv::cuda::setDevice(cuda_device_);
      const std::vector<int> shape = IntShape(input.shape);
      cv::Mat blob(static_cast<int>(shape.size()), shape.data(), CV_32F, const_cast<float*>(input.data.data()));
      net_.setInput(blob);
      std::vector<cv::Mat> mats;
      net_.forward(mats, outputs_);
      outputs->clear();
      for (const cv::Mat& mat : mats) {
        Tensor tensor;
        for (int d = 0; d < mat.dims; ++d) tensor.shape.push_back(mat.size[d]);
        const cv::Mat continuous = mat.isContinuous() ? mat : mat.clone();
        const auto* begin = continuous.ptr<float>();
        tensor.data.assign(begin, begin + mat.total());
        outputs->push_back(std::move(tensor));
      }
    } catch (const cv::Exception& e) {
      return {StatusCode::kRuntimeError, e.msg};
    }
    return Status::Ok();
  }

  cv::dnn::Net net_;
  std::vector<cv::String> outputs_;
  int cuda_device_ = -1;  // bound before every forward pass; -1: not a CUDA instance
  std::string device_;
};

const bool kRegistered = RegisterInferenceBackend("opencv", [] { return std::make_unique<OpenCvBackend>(); });

}  // namespace

}  // namespace vstream
