// The PyModule plugin for C++ hosts (the vstream tool, or any program that loads plugins).
//
// A program that is not Python has no interpreter for PyModule stages. This plugin links libpython
// and registers "PyModule"; the first PyModule it creates starts an embedded interpreter (once per
// process, never finalized: modules may hold Python objects until exit), imports the vstream
// package from sys.path (PYTHONPATH must name the folder that holds it, unless it is installed) and
// makes the module with the package's own PyModule, so both hosts run the same code. The
// interpreter is started without signal handlers, so the host keeps its own (Ctrl-C). The GIL is
// released once the interpreter is up: every PyModule call takes it.
//
//   vstream run pipeline.json --plugin build/python/vstream/libvstream_python_host.so
#include <Python.h>

#include <memory>
#include <mutex>
#include <string>

#include "src/py_module_spec.hpp"
#include "vstream/registry.hpp"

namespace vstream::python {
namespace {

// Stands in for a PyModule that could not be made: its Open fails with the reason.
class UnavailablePyModule : public Module {
 public:
  UnavailablePyModule(std::string name, std::string reason) : Module(std::move(name)), reason_(std::move(reason)) {}
  Status Open(const ModuleParams&) override { return Fail("module '" + name() + "': " + reason_, StatusCode::kUnavailable); }
  void Close() override {}
  Status Process(FramePtr) override { return Fail(reason_); }

 private:
  std::string reason_;
};

void StartInterpreter() {
  if (Py_IsInitialized() != 0) return;  // the host is Python after all
  Py_InitializeEx(0);
  PyEval_SaveThread();  // release the GIL this thread holds after initialization
}

// The text of the pending Python exception (and clears it). Needs the GIL.
std::string TakePythonError() {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  std::string text = "unknown Python error";
  if (value != nullptr) {
    if (PyObject* str = PyObject_Str(value)) {
      if (const char* utf8 = PyUnicode_AsUTF8(str)) text = utf8;
      Py_DECREF(str);
    }
  }
  PyErr_Clear();
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  return text;
}

std::unique_ptr<Module> CreateHosted(const std::string& name) {
  static std::once_flag started;
  std::call_once(started, StartInterpreter);
  const PyGILState_STATE gil = PyGILState_Ensure();
  auto* factory = static_cast<const PyModuleFactory*>(PyCapsule_Import(kPyModuleFactoryCapsule, 0));
  std::string error;
  if (factory == nullptr) {
    error = "cannot import the vstream Python package (" + TakePythonError() +
            "): set PYTHONPATH to the folder that holds it (build/python in a build tree)";
  }
  PyGILState_Release(gil);
  if (factory == nullptr) return std::make_unique<UnavailablePyModule>(name, error);
  return std::unique_ptr<Module>((*factory)(name));
}

[[maybe_unused]] const bool registered = [] {
  ModuleRegistry::Entry entry;
  entry.class_name = "PyModule";
  entry.factory = &CreateHosted;
  entry.describe = &PyModuleDescription;
  return ModuleRegistry::Instance().Register(std::move(entry));
}();

}  // namespace
}  // namespace vstream::python
