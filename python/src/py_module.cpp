// PyModule (see py_module.hpp) and its registration.
#include "py_module.hpp"

#include <Python.h>

#include "bindings.hpp"
#include "vstream/registry.hpp"

namespace vstream::python {
namespace {

// A custom_params value as open(params) receives it: a scalar's text, or the JSON text of an array
// or object (a list made in code, without the config's text, as a JSON array of its items).
py::str ClassParamText(const ParamValue& value) {
  if (!value.is_list() && !value.is_json()) return py::str(value.text());
  if (!value.json().empty()) return py::str(value.json());
  py::list items;
  for (const auto& item : value.items()) items.append(py::str(item));
  return py::module_::import("json").attr("dumps")(items);
}

// The dict open(params) receives: every custom_params key the module does not declare, then the
// "key=value" items of pyclass_params. A key given both ways is an error rather than a silent choice.
Status ClassParams(const ModuleParams& params, py::dict* out) {
  for (const auto& [key, value] : params.others()) (*out)[py::str(key)] = ClassParamText(value);
  for (const auto& item : params.GetList("pyclass_params")) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      return {StatusCode::kInvalidConfig, "pyclass_params: item '" + item + "' is not of the form key=value"};
    }
    const std::string key = item.substr(0, equals);
    if (params.others().count(key) != 0) {
      return {StatusCode::kInvalidConfig, "'" + key + "' is given twice, as custom_params." + key +
                                              " and in pyclass_params ('" + item + "'); keep one of them"};
    }
    (*out)[py::str(key)] = py::str(item.substr(equals + 1));
  }
  return {};
}

// The Python object at "package.module.Class".
py::object ImportClass(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == path.size()) {
    throw StatusError(Status(StatusCode::kInvalidConfig,
                             "pyclass_name: '" + path + "' is not of the form module.Class (or package.module.Class)"));
  }
  return py::module_::import(path.substr(0, dot).c_str()).attr(path.substr(dot + 1).c_str());
}

// What process() returned: an empty string when it passes the frame on (None, True, a number >= 0,
// numpy's bool and number scalars included), else why the frame fails. Needs the GIL.
std::string Verdict(const py::object& result) {
  if (result.is_none()) return {};
  const std::string shown = py::repr(result).cast<std::string>();
  bool is_bool = py::isinstance<py::bool_>(result);
  bool is_number = !is_bool && (py::isinstance<py::int_>(result) || py::isinstance<py::float_>(result));
  if (!is_bool && !is_number) {  // numpy's scalars (not its arrays: their truth is ambiguous)
    const py::module_ numpy = py::module_::import("numpy");
    is_bool = py::isinstance(result, numpy.attr("bool_"));
    is_number = !is_bool && py::isinstance(result, numpy.attr("number")) &&
                !py::isinstance(result, numpy.attr("complexfloating"));
  }
  if (is_bool) {
    const int truth = PyObject_IsTrue(result.ptr());
    if (truth < 0) throw py::error_already_set();
    return truth == 1 ? std::string() : "returned " + shown;
  }
  if (is_number) {  // CNStream's "negative is an error"
    const double value = PyFloat_AsDouble(result.ptr());
    if (value == -1.0 && PyErr_Occurred() != nullptr) throw py::error_already_set();
    return value >= 0 ? std::string() : "returned " + shown + " (a negative number fails the frame)";
  }
  return "returned " + shown + " of type " + py::str(py::type::of(result).attr("__name__")).cast<std::string>() +
         "; return None, a bool or a number (False or a negative number fails the frame)";
}

Module* CreatePyModule(const std::string& name) { return new PyModule(name); }

}  // namespace

PyModule::~PyModule() {
  if (!instance_ && !process_ && !on_eos_) return;
  if (!PythonAlive()) {  // nothing may touch Python objects any more
    instance_.release();
    process_.release();
    on_eos_.release();
    return;
  }
  PythonCall gil;
  on_eos_ = py::object();
  process_ = py::object();
  instance_ = py::object();
}

Status PyModule::Open(const ModuleParams& params) {
  class_path_ = params.GetString("pyclass_name");
  PythonCall gil;
  try {
    py::dict class_params;
    if (Status s = ClassParams(params, &class_params); !s) {
      return Fail("module '" + name() + "': " + s.message(), s.code());
    }
    instance_ = ImportClass(class_path_)();
    if (!py::hasattr(instance_, "process")) {
      return Fail("module '" + name() + "': " + class_path_ + " has no process(frame) method", StatusCode::kInvalidConfig);
    }
    process_ = instance_.attr("process");
    writes_pixels_ = py::hasattr(instance_, "writes_pixels") && py::bool_(instance_.attr("writes_pixels"));
    on_eos_ = py::hasattr(instance_, "on_eos") ? instance_.attr("on_eos") : py::object(py::none());
    if (py::hasattr(instance_, "open")) {
      py::object result = instance_.attr("open")(class_params);
      if (py::isinstance<py::bool_>(result) && !result.cast<bool>()) {
        return Fail("module '" + name() + "': " + class_path_ + ".open() returned False");
      }
    }
  } catch (const StatusError& error) {
    return Fail("module '" + name() + "': " + error.what(), error.code());
  } catch (const py::error_already_set& error) {
    return Fail("module '" + name() + "': " + class_path_ + ": " + DescribePythonError(error));
  } catch (const std::exception& error) {  // a conversion pybind11 could not make
    return Fail("module '" + name() + "': " + class_path_ + ": " + error.what());
  }
  return {};
}

void PyModule::Close() {
  if (!instance_ || !PythonAlive()) return;
  PythonCall gil;
  try {
    if (py::hasattr(instance_, "close")) instance_.attr("close")();
  } catch (const py::error_already_set& error) {
    ReportModuleError(class_path_ + ".close(): " + DescribePythonError(error));
  } catch (const std::exception& error) {
    ReportModuleError(class_path_ + ".close(): " + error.what());
  }
}

namespace {
thread_local bool may_write_pixels = false;
}  // namespace

bool MayWritePixels() { return may_write_pixels; }

Status PyModule::Process(FramePtr frame) {
  // Before taking the GIL: a copy of a 1080p frame is C++ work other threads' Python can overlap.
  if (writes_pixels_ && !frame->IsEos()) {
    if (Status s = MakeWritable(frame); !s) return s;
  }
  PythonCall gil;
  struct WritableWhileCalled {  // (restored however process() ends)
    explicit WritableWhileCalled(bool writes) : outer(may_write_pixels) { may_write_pixels = writes; }
    ~WritableWhileCalled() { may_write_pixels = outer; }
    const bool outer;
  } writable(writes_pixels_);
  const char* method = frame->IsEos() ? "on_eos" : "process";
  try {
    if (frame->IsEos()) {
      if (!on_eos_.is_none()) on_eos_(frame->stream_id);
      return {};
    }
    py::object result = process_(frame);
    if (std::string why = Verdict(result); !why.empty()) return Fail(class_path_ + ".process() " + why);
  } catch (const py::error_already_set& error) {
    return Fail(class_path_ + "." + method + "(): " + DescribePythonError(error));
  } catch (const std::exception& error) {
    return Fail(class_path_ + "." + method + "(): " + error.what());
  }
  return {};
}

py::object PyModule::instance() const { return instance_ ? instance_ : py::object(py::none()); }

void BindPyModule(py::module_& m) {
  // When the host plugin registered PyModule first (a C++ host that embeds Python), its entry
  // makes modules through the capsule below; this registration then adds nothing.
  ModuleRegistry::Instance().Register(detail::MakeRegistryEntry<PyModule>("PyModule"));
  static const PyModuleFactory factory = &CreatePyModule;
  m.add_object("_module_factory", py::capsule(&factory, kPyModuleFactoryCapsule));
}

}  // namespace vstream::python
