// The PyModule plugin for C++ hosts (the vstream tool, or any program that loads plugins).
//
// A program that is not Python has no interpreter for PyModule stages. This plugin links libpython
// and registers "PyModule", and the Inferencer's "python" pre- and postprocessors (PyPreproc,
// PyPostproc); the first of them it creates starts an embedded interpreter (once per process, never
// finalized: modules may hold Python objects until exit), imports the vstream package from sys.path
// (PYTHONPATH must name the folder that holds it, unless it is installed) and makes the module or
// processor with the package's own code, so both hosts run the same code. The interpreter is
// started without signal handlers, so the host keeps its own (Ctrl-C). The GIL is released once the
// interpreter is up: every PyModule and processor call takes it.
//
//   vstream run pipeline.json --plugin build/python/vstream/libvstream_python_host.so
#include <Python.h>

#include <memory>
#include <mutex>
#include <string>

#include "src/py_module_spec.hpp"
#include "src/py_processor_spec.hpp"
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

// What the vstream package's extension hands over in the capsule `name`, after starting the
// interpreter when no one has; nullptr, with `*error` saying what to do, when the package cannot be
// imported.
const void* ImportFromPackage(const char* name, std::string* error) {
  static std::once_flag started;
  std::call_once(started, StartInterpreter);
  const PyGILState_STATE gil = PyGILState_Ensure();
  const void* imported = PyCapsule_Import(name, 0);
  if (imported == nullptr) {
    *error = "cannot import the vstream Python package (" + TakePythonError() +
             "): set PYTHONPATH to the folder that holds it (build/python in a build tree)";
  }
  PyGILState_Release(gil);
  return imported;
}

std::unique_ptr<Module> CreateHosted(const std::string& name) {
  std::string error;
  auto* factory = static_cast<const PyModuleFactory*>(ImportFromPackage(kPyModuleFactoryCapsule, &error));
  if (factory == nullptr) return std::make_unique<UnavailablePyModule>(name, error);
  return std::unique_ptr<Module>((*factory)(name));
}

// The "python" processors: made by the extension's factories (which take the GIL themselves).
const PythonProcessorFactories* ProcessorFactories(Status* failure) {
  std::string error;
  auto* factories = static_cast<const PythonProcessorFactories*>(ImportFromPackage(kProcessorFactoriesCapsule, &error));
  if (factories == nullptr) *failure = Status(StatusCode::kUnavailable, error);
  return factories;
}

Status CreateHostedPreprocessor(const ProcessorSetup& setup, Preprocessor* out) {
  Status failure;
  const PythonProcessorFactories* factories = ProcessorFactories(&failure);
  return factories == nullptr ? failure : factories->preprocessor(setup, out);
}

Status CreateHostedPostprocessor(const ProcessorSetup& setup, Postprocessor* out) {
  Status failure;
  const PythonProcessorFactories* factories = ProcessorFactories(&failure);
  return factories == nullptr ? failure : factories->postprocessor(setup, out);
}

[[maybe_unused]] const bool registered = [] {
  ModuleRegistry::Entry entry;
  entry.class_name = "PyModule";
  entry.factory = &CreateHosted;
  entry.describe = &PyModuleDescription;
  const bool module = ModuleRegistry::Instance().Register(std::move(entry));
  const bool processors = RegisterPythonProcessors(&CreateHostedPreprocessor, &CreateHostedPostprocessor);
  return module && processors;
}();

}  // namespace
}  // namespace vstream::python
