// Pipeline.push and Pipeline.end_stream (AppSource), Pipeline.push_bytes and Pipeline.end_bytes
// (DataSource memory inputs): frames and encoded video pushed from Python into a running pipeline.
//
// They are methods of vstream.Pipeline, added to the class here so that the topic stays in one
// file. Each call that can wait for room in the pipeline runs without the GIL, so other Python
// threads, PyModule stages and the observer go on meanwhile. A pushed numpy array is not copied
// (unless copy=True): the frame's buffer holds a reference to the array, which vstream only reads
// (a stage that writes pixels works on a copy), dropped with the GIL when the last frame using it
// is gone. The array's own flags are left as they are.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "vstream/modules/app_source.hpp"
#include "vstream/modules/data_source.hpp"
#include "vstream/pipeline.hpp"
#include "vstream/text.hpp"

namespace vstream::python {
namespace {

std::string TypeName(const py::handle& object) { return py::str(py::type::of(object).attr("__name__")); }

// "an AppSource", "a DataSource".
std::string WithArticle(const std::string& noun) {
  const bool vowel = !noun.empty() && std::string("AEIOU").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

// The module of class T that `module` names, or the pipeline's only one when `module` is empty.
template <typename T>
T* FindSource(Pipeline& pipeline, const std::string& module, const std::string& class_name, const std::string& call) {
  if (!module.empty()) {
    const ModuleConfig* config = pipeline.config().Find(module);
    if (config == nullptr || pipeline.GetModule(module) == nullptr) {
      throw StatusError(Status(StatusCode::kNotFound, call + ": pipeline '" + pipeline.name() + "' has no module '" +
                                                          module + "'"));
    }
    auto* typed = dynamic_cast<T*>(pipeline.GetModule(module));
    if (typed == nullptr) {
      throw StatusError(Status(StatusCode::kInvalidArgument, call + ": module '" + module + "' is " +
                                                                 WithArticle(config->class_name) + ", not " +
                                                                 WithArticle(class_name)));
    }
    return typed;
  }
  std::vector<std::string> names;
  T* only = nullptr;
  for (const auto& config : pipeline.config().modules) {
    if (auto* typed = dynamic_cast<T*>(pipeline.GetModule(config.name))) {
      names.push_back(config.name);
      only = typed;
    }
  }
  if (names.empty()) {
    throw StatusError(Status(StatusCode::kNotFound, call + ": pipeline '" + pipeline.name() + "' has no " + class_name +
                                                        " module (is it built, with a module of \"class_name\": \"" +
                                                        class_name + "\"?)"));
  }
  if (names.size() > 1) {
    throw StatusError(Status(StatusCode::kInvalidArgument,
                             call + ": pipeline '" + pipeline.name() + "' has " + std::to_string(names.size()) + " " +
                                 class_name + " modules (" + Join(names, ", ") + "); name one with module=\"" +
                                 names.front() + "\""));
  }
  return only;
}

// `object` as an image AppSource can take: a numpy uint8 array of shape (height, width, 3) for
// bgr24 and rgb24, (height, width) for gray8, (height * 3 / 2, width) for nv12 (Y rows, then UV),
// whose rows are contiguous pixels at a positive row stride.
AppSource::Image ImageOf(const py::handle& object, const std::optional<std::string>& pixel_format) {
  if (!py::isinstance<py::array>(object)) {
    throw py::type_error("push: image must be a numpy array of uint8, not " + TypeName(object));
  }
  auto array = py::reinterpret_borrow<py::array>(object);
  if (array.dtype().kind() != 'u' || array.itemsize() != 1) {
    throw py::type_error("push: image must be a numpy array of uint8, not of " +
                         py::str(array.dtype()).cast<std::string>() + " (convert it: image.astype(numpy.uint8))");
  }
  PixelFormat format = array.ndim() == 3 ? PixelFormat::kBGR24 : PixelFormat::kGray8;
  if (pixel_format) {
    format = ParsePixelFormat(*pixel_format);
    if (format == PixelFormat::kNone || PixelFormatName(format) != *pixel_format) {
      throw py::value_error("push: pixel_format must be 'bgr24', 'rgb24', 'gray8' or 'nv12', not '" + *pixel_format +
                            "'");
    }
  }
  const bool colour = format == PixelFormat::kBGR24 || format == PixelFormat::kRGB24;
  const std::string shape = py::str(array.attr("shape")).cast<std::string>();
  const std::string name(PixelFormatName(format));
  if (colour && (array.ndim() != 3 || array.shape(2) != 3)) {
    throw py::value_error("push: a " + name + " image is an array of shape (height, width, 3), not " + shape);
  }
  if (!colour && array.ndim() != 2) {
    throw py::value_error("push: a " + name + " image is an array of shape " +
                          (format == PixelFormat::kNV12 ? "(height * 3 / 2, width)" : "(height, width)") + ", not " +
                          shape);
  }
  if (array.size() == 0) throw py::value_error("push: the image is empty: its shape is " + shape);
  const int channels = colour ? 3 : 1;
  const py::ssize_t rows = array.shape(0);
  const py::ssize_t width = array.shape(1);
  const py::ssize_t row_stride = rows > 1 ? array.strides(0) : width * channels;
  const bool packed_pixels = array.strides(1) == channels && (!colour || array.strides(2) == 1);
  if (!packed_pixels || row_stride < width * channels || row_stride > INT_MAX) {
    throw py::value_error("push: the image's rows must be contiguous pixels at a positive row stride; its strides " +
                          py::str(array.attr("strides")).cast<std::string>() +
                          " are not (pass numpy.ascontiguousarray(image))");
  }
  if (rows > INT_MAX || width > INT_MAX) throw py::value_error("push: the image is too large: " + shape);
  AppSource::Image image;
  image.data = array.data();
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(rows);
  image.stride = static_cast<int>(row_stride);
  image.format = format;
  if (format == PixelFormat::kNV12) {
    if (rows % 3 != 0) {
      throw py::value_error("push: an nv12 image has height * 3 / 2 rows (Y, then UV), a multiple of 3; not " + shape);
    }
    image.height = static_cast<int>(rows / 3 * 2);
  }
  return image;
}

// Drops the reference a frame's buffer held, from whichever thread lets the last frame go.
void DropReference(py::object* kept) {
  if (!PythonAlive()) {
    kept->release();  // the interpreter is gone (or going): leak the reference rather than touch it
    delete kept;
    return;
  }
  PythonCall gil;
  delete kept;
}

void Push(const py::object& self, const std::string& stream_id, const py::object& image, std::optional<int64_t> pts,
          const std::string& module, const std::optional<std::string>& pixel_format, bool copy) {
  AppSource* app = FindSource<AppSource>(PipelineOf(self), module, "AppSource", "push");
  const AppSource::Image view = ImageOf(image, pixel_format);
  const int64_t frame_pts = pts.value_or(AppSource::kAutoPts);
  Status status;
  if (copy) {
    py::gil_scoped_release release;
    status = app->Push(stream_id, view, frame_pts);
  } else {
    auto* kept = new py::object(image);
    std::function<void()> release_array = [kept] { DropReference(kept); };
    py::gil_scoped_release release;
    status = app->PushZeroCopy(stream_id, view, std::move(release_array), frame_pts);
  }
  ThrowIfError(status);
}

void EndStream(const py::object& self, const std::string& stream_id, const std::string& module) {
  AppSource* app = FindSource<AppSource>(PipelineOf(self), module, "AppSource", "end_stream");
  py::gil_scoped_release release;
  ThrowIfError(app->EndStream(stream_id));
}

// A bytes-like object's memory, held (and released with the GIL) for the length of a call.
class BytesView {
 public:
  explicit BytesView(const py::handle& data) {
    if (PyObject_GetBuffer(data.ptr(), &view_, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      throw py::type_error("push_bytes: data must be a bytes-like object (bytes, bytearray, memoryview, a contiguous "
                           "numpy array), not " + TypeName(data));
    }
  }
  BytesView(const BytesView&) = delete;
  BytesView& operator=(const BytesView&) = delete;
  ~BytesView() { PyBuffer_Release(&view_); }
  const uint8_t* data() const { return static_cast<const uint8_t*>(view_.buf); }
  size_t size() const { return static_cast<size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

void PushBytes(const py::object& self, const std::string& stream_id, const py::object& data,
               const std::string& module) {
  DataSource* source = FindSource<DataSource>(PipelineOf(self), module, "DataSource", "push_bytes");
  const BytesView bytes(data);
  Status status;
  {
    py::gil_scoped_release release;
    status = source->PushBytes(stream_id, bytes.data(), bytes.size());
  }
  ThrowIfError(status);
}

void EndBytes(const py::object& self, const std::string& stream_id, const std::string& module) {
  DataSource* source = FindSource<DataSource>(PipelineOf(self), module, "DataSource", "end_bytes");
  py::gil_scoped_release release;
  ThrowIfError(source->EndBytes(stream_id));
}

}  // namespace

void BindSources(py::module_& m) {
  py::object cls = m.attr("Pipeline");
  auto method = [&cls](const char* name) { return py::sibling(py::getattr(cls, name, py::none())); };
  cls.attr("push") = py::cpp_function(
      &Push, py::name("push"), py::is_method(cls), method("push"), py::arg("stream_id"), py::arg("image"),
      py::arg("pts") = py::none(), py::arg("module") = "", py::arg("pixel_format") = py::none(),
      py::arg("copy") = false,
      "Pushes a numpy uint8 image into an AppSource stream as its next frame: (height, width, 3) bgr24 (or "
      "pixel_format='rgb24'), (height, width) gray8, (height * 3 / 2, width) with pixel_format='nv12'. pts in "
      "microseconds, or None to derive it. Not copied unless copy=True: do not change the array while frames use "
      "it. Waits (without the GIL) while the pipeline is full. module names the AppSource when there are several.");
  cls.attr("end_stream") = py::cpp_function(
      &EndStream, py::name("end_stream"), py::is_method(cls), method("end_stream"), py::arg("stream_id"),
      py::arg("module") = "", "Ends an AppSource stream: its EOS follows the last frame pushed.");
  cls.attr("push_bytes") = py::cpp_function(
      &PushBytes, py::name("push_bytes"), py::is_method(cls), method("push_bytes"), py::arg("stream_id"),
      py::arg("data"), py::arg("module") = "",
      "Feeds bytes of an H.264/H.265 Annex-B elementary stream (any bytes-like object, chunks of any size) to a "
      "DataSource stream added as mem://h264 or mem://hevc. Waits (without the GIL) while its input buffer is full.");
  cls.attr("end_bytes") = py::cpp_function(
      &EndBytes, py::name("end_bytes"), py::is_method(cls), method("end_bytes"), py::arg("stream_id"),
      py::arg("module") = "", "No more bytes for a mem:// stream: it ends once everything pushed is decoded.");
}

}  // namespace vstream::python
