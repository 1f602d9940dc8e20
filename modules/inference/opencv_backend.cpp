// The "opencv" inference engine: cv::dnn::Net (ONNX, Caffe, TensorFlow, Darknet, TFLite, ...).
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <map>
#include <mutex>

#include "log_internal.hpp"
#include "onnx_input.hpp"
#include "vstream/inference/backend.hpp"

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

class OpenCvBackend : public InferenceBackend {
 public:
  Status Load(const std::filesystem::path& model, const BackendOptions& options, ModelInfo* info) override {
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
    auto backend = Backends().find(options.backend);
    auto target = Targets().find(options.target);
    if (backend == Backends().end() || target == Targets().end()) {
      return {StatusCode::kInvalidArgument, "backend '" + options.backend + "' / target '" + options.target +
                                                "' is not an OpenCV DNN backend/target"};
    }
    const auto available = cv::dnn::getAvailableTargets(static_cast<cv::dnn::Backend>(backend->second));
    bool target_available = false;
    for (auto t : available) target_available |= t == target->second;
    if (!target_available) {
      return {StatusCode::kUnavailable, "OpenCV DNN backend '" + options.backend + "' cannot run on target '" +
                                            options.target + "' on this machine (this OpenCV build lacks it, or no such device)"};
    }
    net_.setPreferableBackend(backend->second);
    net_.setPreferableTarget(target->second);
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

 private:
  Status RunQuiet(const Tensor& input, std::vector<Tensor>* outputs) {
    try {
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
};

const bool kRegistered = RegisterInferenceBackend("opencv", [] { return std::make_unique<OpenCvBackend>(); });

}  // namespace

namespace {
std::mutex& EnginesMutex() {
  static std::mutex mutex;
  return mutex;
}
std::map<std::string, InferenceBackendFactory>& Engines() {
  static std::map<std::string, InferenceBackendFactory> engines;  // guarded by EnginesMutex()
  return engines;
}
}  // namespace

bool RegisterInferenceBackend(const std::string& name, InferenceBackendFactory factory) {
  std::lock_guard<std::mutex> lock(EnginesMutex());
  return Engines().emplace(name, std::move(factory)).second;
}

std::unique_ptr<InferenceBackend> CreateInferenceBackend(const std::string& name) {
  std::lock_guard<std::mutex> lock(EnginesMutex());
  auto it = Engines().find(name);
  return it == Engines().end() ? nullptr : it->second();
}

std::vector<std::string> InferenceBackendNames() {
  std::lock_guard<std::mutex> lock(EnginesMutex());
  std::vector<std::string> names;
  for (const auto& [name, factory] : Engines()) names.push_back(name);
  return names;
}

}  // namespace vstream
