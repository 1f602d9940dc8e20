// vstream.Frame, vstream.DetectedObject and Frame.data: frames as Python code sees them inside a
// PyModule (or wherever a FramePtr reaches Python).
//
// `image` and `planes` are numpy arrays over the frame's own pixels (no copy, the buffer's
// strides); each array keeps the pixel buffer alive, not the frame. `objects` reads a copy of the
// list and assigning it writes it back, both under the frame's LockObjects(), so Python code may
// share a frame with C++ modules running in parallel branches. `data` reads and writes the frame's
// user data for the types the built-in user-data codecs know.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "py_module.hpp"
#include "vstream/frame.hpp"

namespace vstream::python {
namespace {

// An array over `rows` x `columns` [x `channels`] bytes of the frame's buffer at `data`, keeping
// the buffer alive through a capsule.
py::array PlaneArray(const VideoFrame& image, const uint8_t* data, int rows, int columns, int channels, int stride) {
  auto* keep = new BufferPtr(image.buffer());
  py::capsule owner(keep, [](void* p) { delete static_cast<BufferPtr*>(p); });
  std::vector<py::ssize_t> shape{rows, columns};
  std::vector<py::ssize_t> strides{stride, channels};
  if (channels > 1) {
    shape.push_back(channels);
    strides.push_back(1);
  }
  py::array array(py::dtype::of<uint8_t>(), shape, strides, data, owner);
  // Writable only in the process() of a class that declared `writes_pixels` (its frame was made
  // its own) and when the memory may be written at all; a read-only view everywhere else.
  if (!MayWritePixels() || !image.buffer()->writable()) {
    array.attr("flags").attr("writeable") = false;
  }
  return array;
}

py::object Image(const FramePtr& frame) {
  const VideoFrame& image = frame->image;
  if (image.empty()) return py::none();
  switch (image.format()) {
    case PixelFormat::kBGR24:
    case PixelFormat::kRGB24:
      return PlaneArray(image, image.plane(0), image.height(), image.width(), 3, image.stride(0));
    case PixelFormat::kGray8:
      return PlaneArray(image, image.plane(0), image.height(), image.width(), 1, image.stride(0));
    default:
      throw py::value_error("frame.image: a " + std::string(PixelFormatName(image.format())) +
                            " image has several planes; use frame.planes");
  }
}

py::list Planes(const FramePtr& frame) {
  py::list planes;
  const VideoFrame& image = frame->image;
  if (image.empty()) return planes;
  for (int i = 0; i < image.plane_count(); ++i) {
    planes.append(PlaneArray(image, image.plane(i), image.plane_rows(i), image.plane_row_bytes(i), 1, image.stride(i)));
  }
  return planes;
}

std::vector<DetectedObject> GetObjects(const FramePtr& frame) {
  std::vector<DetectedObject> copy;
  py::gil_scoped_release release;  // the lock may be held by a C++ module for a while
  auto lock = frame->LockObjects();
  copy = frame->objects;
  return copy;
}

void SetObjects(const FramePtr& frame, std::vector<DetectedObject> objects) {
  py::gil_scoped_release release;
  auto lock = frame->LockObjects();
  frame->objects = std::move(objects);
}

// Frame.data: the frame's UserData, for the value types of the built-in user-data codecs.
class FrameData {
 public:
  explicit FrameData(FramePtr frame) : frame_(std::move(frame)) {}

  py::object Get(const std::string& key) const {
    const UserData& data = frame_->data;
    if (!data.Has(key)) throw py::key_error(key);
    if (const auto* v = data.Get<std::string>(key)) return py::str(*v);
    if (const auto* v = data.Get<bool>(key)) return py::bool_(*v);
    if (const auto* v = data.Get<int64_t>(key)) return py::int_(*v);
    if (const auto* v = data.Get<int32_t>(key)) return py::int_(*v);
    if (const auto* v = data.Get<double>(key)) return py::float_(*v);
    if (const auto* v = data.Get<std::vector<float>>(key)) return py::cast(*v);
    if (const auto* v = data.Get<std::vector<uint8_t>>(key)) {
      return py::bytes(reinterpret_cast<const char*>(v->data()), v->size());
    }
    throw py::type_error("frame.data['" + key +
                         "'] holds a C++ value of a type Python cannot read (readable: str, bool, int, float, "
                         "list of float, bytes)");
  }

  void Set(const std::string& key, const py::handle& value) {
    UserData& data = frame_->data;
    // bool before int: a Python bool is an int.
    if (py::isinstance<py::bool_>(value)) {
      data.Set(key, value.cast<bool>());
    } else if (py::isinstance<py::int_>(value)) {
      data.Set(key, value.cast<int64_t>());
    } else if (py::isinstance<py::float_>(value)) {
      data.Set(key, value.cast<double>());
    } else if (py::isinstance<py::str>(value)) {
      data.Set(key, value.cast<std::string>());
    } else if (py::isinstance<py::bytes>(value) || py::isinstance<py::bytearray>(value)) {
      const std::string bytes = py::isinstance<py::bytes>(value)
                                    ? value.cast<std::string>()
                                    : std::string(PyByteArray_AsString(value.ptr()),
                                                  static_cast<size_t>(PyByteArray_Size(value.ptr())));
      data.Set(key, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    } else if (py::isinstance<py::sequence>(value) || py::isinstance<py::array>(value)) {
      data.Set(key, value.cast<std::vector<float>>());
    } else {
      throw py::type_error("frame.data['" + key + "']: cannot store a " +
                           py::str(value.get_type().attr("__name__")).cast<std::string>() +
                           " (storable: str, bool, int, float, a sequence of floats, bytes)");
    }
  }

  void Delete(const std::string& key) {
    if (!frame_->data.Erase(key)) throw py::key_error(key);
  }
  bool Contains(const std::string& key) const { return frame_->data.Has(key); }
  std::vector<std::string> Keys() const { return frame_->data.Keys(); }

 private:
  FramePtr frame_;
};

py::tuple BoxTuple(const BoundingBox& box) { return py::make_tuple(box.x, box.y, box.w, box.h); }

BoundingBox BoxFrom(const py::handle& value) {
  auto items = value.cast<std::vector<float>>();
  if (items.size() != 4) throw py::value_error("box: expected (x, y, w, h), normalized to the frame");
  return {items[0], items[1], items[2], items[3]};
}

}  // namespace

void BindFrame(py::module_& m) {
  py::class_<DetectedObject>(m, "DetectedObject",
                             "One thing found in a frame. box is (x, y, w, h), fractions of the frame's size.")
      .def(py::init([](std::string label, int label_id, float score, py::object box, int64_t track_id,
                       std::map<std::string, std::string> attributes, std::map<std::string, std::vector<float>> features) {
             DetectedObject object;
             object.label = std::move(label);
             object.label_id = label_id;
             object.score = score;
             if (!box.is_none()) object.box = BoxFrom(box);
             object.track_id = track_id;
             object.attributes = std::move(attributes);
             object.features = std::move(features);
             return object;
           }),
           py::arg("label") = "", py::arg("label_id") = -1, py::arg("score") = 0.0f, py::arg("box") = py::none(),
           py::arg("track_id") = -1, py::arg("attributes") = std::map<std::string, std::string>{},
           py::arg("features") = std::map<std::string, std::vector<float>>{})
      .def_readwrite("label", &DetectedObject::label)
      .def_readwrite("label_id", &DetectedObject::label_id)
      .def_readwrite("score", &DetectedObject::score)
      .def_readwrite("track_id", &DetectedObject::track_id)
      .def_property(
          "box", [](const DetectedObject& o) { return BoxTuple(o.box); },
          [](DetectedObject& o, const py::handle& box) { o.box = BoxFrom(box); })
      // Copies both ways: assign a whole dict (obj.attributes = {...}) to change them.
      .def_readwrite("attributes", &DetectedObject::attributes)
      .def_readwrite("features", &DetectedObject::features)
      .def("__repr__", [](const DetectedObject& o) {
        return "DetectedObject(label=" + py::repr(py::str(o.label)).cast<std::string>() +
               ", label_id=" + std::to_string(o.label_id) + ", score=" + py::repr(py::float_(o.score)).cast<std::string>() +
               ", box=" + py::repr(BoxTuple(o.box)).cast<std::string>() + ", track_id=" + std::to_string(o.track_id) + ")";
      });

  py::class_<FrameData>(m, "FrameData",
                        "A frame's user data: str, bool, int, float, list of float and bytes values by key.")
      .def("__getitem__", &FrameData::Get)
      .def("__setitem__", &FrameData::Set)
      .def("__delitem__", &FrameData::Delete)
      .def("__contains__", &FrameData::Contains)
      .def("__len__", [](const FrameData& d) { return d.Keys().size(); })
      .def("__iter__", [](const FrameData& d) { return py::iter(py::cast(d.Keys())); })
      .def("keys", &FrameData::Keys)
      .def("get", [](const FrameData& d, const std::string& key, py::object fallback) {
        return d.Contains(key) ? d.Get(key) : fallback;
      }, py::arg("key"), py::arg("default") = py::none());

  py::class_<Frame, FramePtr>(m, "Frame", "One video frame of one stream (see docs/python.md, \"Frames\").")
      .def_property_readonly("stream_id", [](const Frame& f) { return f.stream_id; })
      .def_property_readonly("frame_index", [](const Frame& f) { return f.frame_index; })
      .def_property_readonly("pts", [](const Frame& f) { return f.pts; })
      .def_property_readonly("timestamp", &Frame::timestamp, "pts in seconds")
      .def_property_readonly("eos", [](const Frame& f) { return f.IsEos(); })
      .def_property_readonly("skipped", [](const Frame& f) { return f.HasFlag(kFrameSkipped); })
      .def_property_readonly("invalid", [](const Frame& f) { return f.HasFlag(kFrameInvalid); })
      .def_property_readonly("width", [](const Frame& f) { return f.image.width(); })
      .def_property_readonly("height", [](const Frame& f) { return f.image.height(); })
      .def_property_readonly("pixel_format", [](const Frame& f) { return std::string(PixelFormatName(f.image.format())); })
      .def_property_readonly("image", &Image,
                             "The pixels as a numpy array over the frame's memory (no copy): (height, width, 3) "
                             "for bgr24/rgb24, (height, width) for gray8; None without an image")
      .def_property_readonly("planes", &Planes, "Each plane as a (rows, row bytes) numpy array over the frame's memory")
      .def_property("objects", &GetObjects, &SetObjects,
                    "A copy of the detected objects; assign a list to replace them (under the frame's lock)")
      .def("add_object", [](const FramePtr& frame, DetectedObject object) {
        py::gil_scoped_release release;
        auto lock = frame->LockObjects();
        frame->objects.push_back(std::move(object));
      }, py::arg("object"))
      .def_property_readonly("data", [](const FramePtr& f) { return FrameData(f); })
      .def("__repr__", [](const Frame& f) {
        return "Frame(stream_id='" + f.stream_id + "', frame_index=" + std::to_string(f.frame_index) +
               (f.IsEos() ? ", eos=True" : "") + ")";
      });
}

}  // namespace vstream::python
