// The Inferencer's "python" pre- and postprocessors (CNStream's PyPreproc and PyPostproc): a Python
// class, named by pyclass_name in preproc_params / postproc_params, does the work.
//
// The factories make one instance per Inferencer module when it opens: import the class, call it,
// and call its open(params) with the other items as a dict of strings. Every call from the
// module's executor threads takes the GIL only around Python code (building the arguments, the
// call, reading the result); the region's pixels are copied before. A Python exception or a result
// of the wrong kind fails that frame (a frame_error event whose message names the class, the
// exception and the traceback's innermost frame, or what was expected); the pipeline goes on.
//
//   "infer": { "class_name": "Inferencer", "custom_params": { "model_path": "face.onnx",
//              "postproc_name": "python", "postproc_params": ["pyclass_name=decoders.Faces", "min_size=0.05"] } }
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "py_processor_spec.hpp"
#include "vstream/inference/processing.hpp"

namespace vstream::python {
namespace {

std::string TypeName(const py::handle& value) { return py::str(value.get_type().attr("__name__")).cast<std::string>(); }

const char* LayoutName(TensorLayout layout) { return layout == TensorLayout::kNHWC ? "nhwc" : "nchw"; }

// What a preprocessor's process(image, context) gets as its context: the model's input and the
// Inferencer's preprocessing params, read-only.
struct PreprocessContextView {
  int input_width;
  int input_height;
  int input_channels;
  std::string layout;         // "nchw" or "nhwc"
  std::string channel_order;  // "rgb" or "bgr"
  std::string resize;         // "stretch" or "letterbox"
  std::array<float, 3> mean;
  std::array<float, 3> std;
  float scale;
  py::object params;  // a read-only mapping of preproc_params (without pyclass_name)
};

// What a postprocessor's process(outputs, context) gets as its context.
struct PostprocessContextView {
  int input_width;
  int input_height;
  RegionTransform transform;
  float threshold;  // NaN: the config sets none
  float nms_threshold;
  int top_k;
  py::object labels;  // a tuple of str
  py::object params;  // a read-only mapping of postproc_params (without pyclass_name)
};

// One Inferencer module's Python processor: the instance of the configured class and what its
// calls need. Its Python objects are touched only with the GIL, and released with it (or left to
// the process when the interpreter is gone).
class PythonProcessor {
 public:
  PythonProcessor() = default;
  PythonProcessor(const PythonProcessor&) = delete;
  PythonProcessor& operator=(const PythonProcessor&) = delete;
  ~PythonProcessor() {
    if (!PythonAlive()) {
      instance_.release();
      process_.release();
      params_.release();
      labels_.release();
      return;
    }
    PythonCall gil;
    labels_ = py::object();
    params_ = py::object();
    process_ = py::object();
    instance_ = py::object();
  }

  /// Imports the class `setup.params` names (pyclass_name), makes the instance and calls its
  /// open(params). `param` names the params for messages (preproc_params or postproc_params).
  Status Open(const ProcessorSetup& setup, const std::string& param) {
    const auto named = setup.params.find("pyclass_name");
    if (named == setup.params.end() || named->second.empty()) {
      return {StatusCode::kInvalidConfig,
              param + " has no pyclass_name=package.module.Class (the Python class that does the work)"};
    }
    class_path_ = named->second;
    const size_t dot = class_path_.rfind('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == class_path_.size()) {
      return {StatusCode::kInvalidConfig, param + ": pyclass_name '" + class_path_ +
                                              "' is not of the form module.Class (or package.module.Class)"};
    }
    if (!PythonAlive()) return {StatusCode::kUnavailable, "the Python interpreter is shutting down"};
    PythonCall gil;
    try {
      py::dict params;
      for (const auto& [key, value] : setup.params) {
        if (key != "pyclass_name") params[py::str(key)] = py::str(value);
      }
      py::object module = py::module_::import(class_path_.substr(0, dot).c_str());
      py::object cls = module.attr(class_path_.substr(dot + 1).c_str());
      instance_ = cls();
      if (!py::hasattr(instance_, "process")) {
        return {StatusCode::kInvalidConfig, class_path_ + " has no process() method"};
      }
      process_ = instance_.attr("process");
      params_ = py::module_::import("types").attr("MappingProxyType")(py::dict(params));
      if (py::hasattr(instance_, "open")) {
        py::object opened = instance_.attr("open")(params);
        if (py::isinstance<py::bool_>(opened) && !opened.cast<bool>()) {
          return {StatusCode::kRuntimeError, class_path_ + ".open() returned False"};
        }
      }
    } catch (const py::error_already_set& error) {
      return {StatusCode::kRuntimeError, class_path_ + ": " + DescribePythonError(error)};
    } catch (const std::exception& error) {  // a conversion pybind11 could not make
      return {StatusCode::kRuntimeError, class_path_ + ": " + error.what()};
    }
    return Status::Ok();
  }

  Status Preprocess(const cv::Mat& region, const PreprocessSpec& spec, float* out, RegionTransform* transform) {
    if (region.empty() || region.type() != CV_8UC3) {
      return {StatusCode::kInvalidArgument, class_path_ + ": the region is not a non-empty BGR image"};
    }
    // The copy is the array's own (the region is a view of the frame, which Python could outlive);
    // made before taking the GIL, so other threads' Python runs meanwhile.
    auto pixels = std::make_unique<cv::Mat>(region.clone());
    if (!PythonAlive()) return Gone();
    PythonCall gil;
    try {
      const cv::Mat* mat = pixels.get();
      py::capsule owner(pixels.release(), [](void* p) { delete static_cast<cv::Mat*>(p); });
      const std::vector<py::ssize_t> shape{mat->rows, mat->cols, 3};
      const std::vector<py::ssize_t> strides{static_cast<py::ssize_t>(mat->step[0]), 3, 1};
      py::array image(py::dtype::of<uint8_t>(), shape, strides, mat->data, owner);
      PreprocessContextView context{spec.width,
                                    spec.height,
                                    spec.channels,
                                    LayoutName(spec.layout),
                                    spec.rgb ? "rgb" : "bgr",
                                    spec.resize == ResizeMode::kLetterbox ? "letterbox" : "stretch",
                                    spec.mean,
                                    spec.std,
                                    spec.scale,
                                    params_};
      return ReadInput(process_(image, py::cast(std::move(context))), region, spec, out, transform);
    } catch (const py::error_already_set& error) {
      return Failed(DescribePythonError(error));
    } catch (const std::exception& error) {
      return Failed(error.what());
    }
  }

  Status Postprocess(const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
                     std::vector<DetectedObject>* objects) {
    if (!PythonAlive()) return Gone();
    PythonCall gil;
    try {
      py::list arrays;
      for (const Tensor& output : outputs) arrays.append(ItemArray(output, item));
      if (!labels_ || labels_source_ != &context.labels) {  // the module's labels, converted once
        labels_ = py::tuple(py::cast(context.labels));
        labels_source_ = &context.labels;
      }
      PostprocessContextView view{context.spec.width, context.spec.height, context.transform, context.threshold,
                                  context.nms_threshold, context.top_k, labels_, params_};
      return ReadObjects(process_(arrays, py::cast(std::move(view))), objects);
    } catch (const py::error_already_set& error) {
      return Failed(DescribePythonError(error));
    } catch (const std::exception& error) {
      return Failed(error.what());
    }
  }

 private:
  Status Gone() const { return {StatusCode::kFailedState, class_path_ + ": the Python interpreter is shutting down"}; }
  Status Failed(const std::string& why) const {
    return {StatusCode::kRuntimeError, class_path_ + ".process(): " + why};
  }
  Status Returned(const std::string& what) const {
    return {StatusCode::kRuntimeError, class_path_ + ".process() returned " + what};
  }

  // This batch item's part of `output` as a new float32 array (the backend reuses its memory): the
  // shape without the batch dimension. An output without one, or one whose batch does not reach
  // `item` (OpenCV's DetectionOutput puts every image's rows in one), comes whole.
  static py::array ItemArray(const Tensor& output, int64_t item) {
    const bool sliced = output.shape.size() >= 2 && item < output.batch();
    std::vector<py::ssize_t> shape(output.shape.begin() + (sliced ? 1 : 0), output.shape.end());
    py::array array = py::array_t<float>(shape);
    const int64_t count = sliced ? output.item_size() : output.count();
    if (count > 0) {
      std::memcpy(array.mutable_data(), sliced ? output.item(item) : output.data.data(),
                  static_cast<size_t>(count) * sizeof(float));
    }
    return array;
  }

  // process() of a preprocessor returns the input (an array of width * height * channels numbers in
  // the model's layout), or (input, (scale_x, scale_y, pad_x, pad_y)).
  Status ReadInput(const py::object& result, const cv::Mat& region, const PreprocessSpec& spec, float* out,
                   RegionTransform* transform) const {
    const int64_t expected = int64_t{spec.width} * spec.height * spec.channels;
    const std::string wanted = "a float32 numpy array of " + std::to_string(spec.width) + " x " +
                               std::to_string(spec.height) + " x " + std::to_string(spec.channels) + " = " +
                               std::to_string(expected) + " values in the model's layout (" + LayoutName(spec.layout) +
                               "), or a tuple (array, (scale_x, scale_y, pad_x, pad_y))";
    py::object input = result;
    py::object mapping = py::none();
    if (py::isinstance<py::tuple>(result)) {
      const auto parts = py::reinterpret_borrow<py::tuple>(result);
      if (parts.size() != 2) {
        return Returned("a tuple of " + std::to_string(parts.size()) + " items; expected " + wanted);
      }
      input = parts[0];
      mapping = parts[1];
    }
    if (!py::isinstance<py::array>(input)) return Returned("a " + TypeName(input) + "; expected " + wanted);
    const auto array = py::reinterpret_borrow<py::array>(input);
    const char kind = array.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u') {
      return Returned("an array of dtype " + py::str(array.dtype()).cast<std::string>() + "; expected " + wanted);
    }
    if (array.size() != expected) {
      std::string shape;
      for (py::ssize_t d = 0; d < array.ndim(); ++d) shape += (d ? ", " : "") + std::to_string(array.shape(d));
      return Returned("an array of " + std::to_string(array.size()) + " values (shape (" + shape + ")); expected " +
                      wanted);
    }
    const auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
    if (!floats) return Returned("an array that cannot be read as float32; expected " + wanted);
    std::memcpy(out, floats.data(), static_cast<size_t>(expected) * sizeof(float));

    // Without a transform the input is the region stretched to the model's size.
    *transform = {static_cast<float>(spec.width) / static_cast<float>(region.cols),
                  static_cast<float>(spec.height) / static_cast<float>(region.rows),
                  0,
                  0,
                  region.cols,
                  region.rows};
    if (mapping.is_none()) return Status::Ok();
    std::vector<float> values;
    if (py::isinstance<py::sequence>(mapping) && !py::isinstance<py::str>(mapping)) {
      try {
        values = mapping.cast<std::vector<float>>();
      } catch (const py::cast_error&) {
        values.clear();
      }
    }
    if (values.size() != 4 || !(values[0] > 0) || !(values[1] > 0) || !std::isfinite(values[0]) ||
        !std::isfinite(values[1]) || !std::isfinite(values[2]) || !std::isfinite(values[3])) {
      return Returned("the transform " + py::repr(mapping).cast<std::string>() +
                      "; expected (scale_x, scale_y, pad_x, pad_y): model pixels = region pixels * scale + pad, "
                      "scales above 0");
    }
    transform->scale_x = values[0];
    transform->scale_y = values[1];
    transform->pad_x = values[2];
    transform->pad_y = values[3];
    return Status::Ok();
  }

  // process() of a postprocessor returns a list (or tuple) of vstream.DetectedObject, or None.
  Status ReadObjects(const py::object& result, std::vector<DetectedObject>* objects) const {
    if (result.is_none()) return Status::Ok();
    if (!py::isinstance<py::list>(result) && !py::isinstance<py::tuple>(result)) {
      return Returned("a " + TypeName(result) + "; expected a list of vstream.DetectedObject (or None)");
    }
    const auto items = py::reinterpret_borrow<py::sequence>(result);
    std::vector<DetectedObject> found;
    found.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      py::object item = items[i];
      if (!py::isinstance<DetectedObject>(item)) {
        return Returned("a list whose item " + std::to_string(i) + " is a " + TypeName(item) +
                        "; expected vstream.DetectedObject");
      }
      found.push_back(item.cast<DetectedObject>());
    }
    for (auto& object : found) objects->push_back(std::move(object));
    return Status::Ok();
  }

  std::string class_path_;
  py::object instance_;
  py::object process_;
  py::object params_;  // types.MappingProxyType over the params open() got
  // The tuple of the module's labels (PostprocessContext::labels, the same vector on every call),
  // made on the first call; guarded by the GIL.
  py::object labels_;
  const std::vector<std::string>* labels_source_ = nullptr;
};

Status MakePythonPreprocessor(const ProcessorSetup& setup, Preprocessor* out) {
  auto processor = std::make_shared<PythonProcessor>();
  if (Status s = processor->Open(setup, "preproc_params"); !s) return s;
  *out = [processor](const cv::Mat& region, const PreprocessSpec& spec, float* input, RegionTransform* transform) {
    return processor->Preprocess(region, spec, input, transform);
  };
  return Status::Ok();
}

Status MakePythonPostprocessor(const ProcessorSetup& setup, Postprocessor* out) {
  auto processor = std::make_shared<PythonProcessor>();
  if (Status s = processor->Open(setup, "postproc_params"); !s) return s;
  *out = [processor](const std::vector<Tensor>& outputs, int64_t item, const PostprocessContext& context,
                     std::vector<DetectedObject>* objects) {
    return processor->Postprocess(outputs, item, context, objects);
  };
  return Status::Ok();
}

py::tuple Triple(const std::array<float, 3>& values) { return py::make_tuple(values[0], values[1], values[2]); }

}  // namespace

void BindProcessors(py::module_& m) {
  py::class_<PreprocessContextView>(m, "PreprocessContext",
                                    "What a Python preprocessor's process(image, context) is told: the model's input "
                                    "and the Inferencer's preprocessing settings.")
      .def_readonly("input_width", &PreprocessContextView::input_width)
      .def_readonly("input_height", &PreprocessContextView::input_height)
      .def_readonly("input_channels", &PreprocessContextView::input_channels)
      .def_readonly("layout", &PreprocessContextView::layout, "'nchw' or 'nhwc'")
      .def_readonly("channel_order", &PreprocessContextView::channel_order, "'rgb' or 'bgr': what the model expects")
      .def_readonly("resize", &PreprocessContextView::resize, "'stretch' or 'letterbox'")
      .def_property_readonly("mean", [](const PreprocessContextView& c) { return Triple(c.mean); })
      .def_property_readonly("std", [](const PreprocessContextView& c) { return Triple(c.std); })
      .def_readonly("scale", &PreprocessContextView::scale, "(pixel * scale - mean) / std")
      .def_readonly("params", &PreprocessContextView::params, "preproc_params without pyclass_name (read-only)");

  py::class_<PostprocessContextView>(m, "PostprocessContext",
                                     "What a Python postprocessor's process(outputs, context) is told: the model's "
                                     "input, the region the item was made from and the Inferencer's settings.")
      .def_readonly("input_width", &PostprocessContextView::input_width)
      .def_readonly("input_height", &PostprocessContextView::input_height)
      .def_property_readonly("region_width", [](const PostprocessContextView& c) { return c.transform.region_width; })
      .def_property_readonly("region_height", [](const PostprocessContextView& c) { return c.transform.region_height; })
      .def_property_readonly(
          "threshold",
          [](const PostprocessContextView& c) {
            return std::isnan(c.threshold) ? py::object(py::none()) : py::object(py::float_(c.threshold));
          },
          "the Inferencer's threshold; None when the config sets none (use your own default)")
      .def_readonly("nms_threshold", &PostprocessContextView::nms_threshold)
      .def_readonly("top_k", &PostprocessContextView::top_k)
      .def_readonly("labels", &PostprocessContextView::labels, "labels_path's labels (a tuple; index = label_id)")
      .def_readonly("params", &PostprocessContextView::params, "postproc_params without pyclass_name (read-only)")
      .def(
          "to_region",
          [](const PostprocessContextView& c, float x1, float y1, float x2, float y2) {
            const BoundingBox box = c.transform.ToRegion(x1, y1, x2, y2);
            return py::make_tuple(box.x, box.y, box.w, box.h);
          },
          py::arg("x1"), py::arg("y1"), py::arg("x2"), py::arg("y2"),
          "A box in model-input pixels (corners) as (x, y, w, h), fractions of the region (letterbox padding and "
          "scale undone, clamped to [0, 1]): what DetectedObject.box takes.");

  // When the host plugin registered them first (a C++ host that embeds Python), its factories call
  // these through the capsule; this registration then adds nothing.
  (void)RegisterPythonProcessors(&MakePythonPreprocessor, &MakePythonPostprocessor);
  static const PythonProcessorFactories factories{&MakePythonPreprocessor, &MakePythonPostprocessor};
  m.add_object("_processor_factories", py::capsule(&factories, kProcessorFactoriesCapsule));
}

}  // namespace vstream::python
