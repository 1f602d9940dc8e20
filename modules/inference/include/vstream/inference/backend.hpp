// InferenceBackend: runs a model on batches of tensors. The Inferencer talks to engines only
// through this interface, so another engine (ONNX Runtime, TensorRT, libtorch) is one class and one
// registration away. vstream ships "opencv" (cv::dnn: ONNX, Caffe, TensorFlow, Darknet, ...).
//
//   vstream::RegisterInferenceBackend("onnxruntime", [] { return std::make_unique<OrtBackend>(); });
//   // config: "infer": { "class_name": "Inferencer", "custom_params": { "engine": "onnxruntime", ... } }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vstream/inference/tensor.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class TensorLayout { kUnknown, kNCHW, kNHWC };

/// What a backend learned about the model's input (0 where the model does not say).
struct ModelInfo {
  std::vector<int64_t> input_shape;  // as declared; -1 for a dynamic dimension
  TensorLayout layout = TensorLayout::kUnknown;
  int input_width = 0;
  int input_height = 0;
  int input_channels = 0;
  std::vector<std::string> output_names;
};

struct BackendOptions {
  std::string backend = "default";  // engine-specific compute backend (OpenCV: default, opencv, cuda, ...)
  std::string target = "cpu";        // engine-specific device kind (OpenCV: cpu, opencl, cuda, ...)
  int device_id = -1;                // -1: CPU
  int wanted_batch = 1;              // the batch size the caller would like to use
};

class InferenceBackend {
 public:
  virtual ~InferenceBackend() = default;
  /// Loads `model`. On success fills what `info` the model declares (input shape, layout, outputs).
  virtual Status Load(const std::filesystem::path& model, const BackendOptions& options, ModelInfo* info) = 0;
  /// Checks that the model runs on one item of `item_shape` (batch dimension first, = 1) and finds
  /// the largest batch up to `wanted_batch` it accepts. Fails with what does not fit.
  virtual Status Prepare(const std::vector<int64_t>& item_shape, int wanted_batch, int* max_batch) = 0;
  /// Runs one batch (input batch first, at most Prepare's max_batch items). Outputs keep the batch first,
  /// in the model's output order.
  virtual Status Run(const Tensor& input, std::vector<Tensor>* outputs) = 0;
};

using InferenceBackendFactory = std::function<std::unique_ptr<InferenceBackend>()>;

/// Adds an engine under `name`; false when the name is taken.
bool RegisterInferenceBackend(const std::string& name, InferenceBackendFactory factory);
/// Creates the engine `name`; nullptr when unknown.
std::unique_ptr<InferenceBackend> CreateInferenceBackend(const std::string& name);
std::vector<std::string> InferenceBackendNames();

}  // namespace vstream
