// vstream.Error and its subclasses, one per StatusCode, and the translation of StatusError.
#include <Python.h>

#include <array>
#include <sstream>

#include "bindings.hpp"

namespace vstream::python {
namespace {

// The exception classes, created once at import and never freed (the module keeps them too).
// Index: StatusCode; kOk's slot holds the base class vstream.Error.
std::array<PyObject*, 7> error_classes{};

PyObject* NewError(py::module_& m, const char* name, PyObject* base, const char* doc) {
  const std::string qualified = std::string("vstream.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base, nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));  // the module takes its own reference
  return type;
}

}  // namespace

py::handle ErrorClass(StatusCode code) {
  const auto index = static_cast<size_t>(code);
  if (index < error_classes.size() && error_classes[index] != nullptr) return error_classes[index];
  return error_classes[0];
}

bool PythonAlive() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() != 0 && Py_IsFinalizing() == 0;  // (public from 3.13, which drops the _ one)
#else
  return Py_IsInitialized() != 0 && _Py_IsFinalizing() == 0;
#endif
}

namespace {

// This thread's own Python thread state, made the first time the thread runs Python code and kept
// (with the GIL released) until the thread exits. PyGILState_Ensure makes it and counts one user;
// while that count stays above zero, later acquisitions (pybind11's too) reuse the state.
class ThreadStateAnchor {
 public:
  ThreadStateAnchor() {
    PyGILState_Ensure();            // a new thread state for this thread, and the GIL
    saved_ = PyEval_SaveThread();   // the GIL goes; the state (and its count of one) stays
  }
  ~ThreadStateAnchor() {
    if (!PythonAlive()) return;     // the interpreter is gone or going: the state is left to it
    PyEval_RestoreThread(saved_);
    PyGILState_Release(PyGILState_UNLOCKED);  // the count drops to zero: state deleted, GIL released
  }
  ThreadStateAnchor(const ThreadStateAnchor&) = delete;
  ThreadStateAnchor& operator=(const ThreadStateAnchor&) = delete;

 private:
  PyThreadState* saved_ = nullptr;
};

// Makes sure a thread Python does not know gets its anchor. Threads Python made (and threads that
// hold the GIL already) have a state and need none. Runs before the GIL is taken.
void AnchorThisThread() {
  if (PyGILState_GetThisThreadState() != nullptr) return;
  thread_local ThreadStateAnchor anchor;
}

}  // namespace

PythonCall::ThreadState::ThreadState() { AnchorThisThread(); }

std::string DescribePythonError(const py::error_already_set& error) {
  // Never throws: its callers are catch blocks on pipeline threads. An exception whose __str__
  // (or whose type's __name__) raises in turn is described without that part.
  std::string text = "Error";
  try {
    if (error.type()) text = py::str(error.type().attr("__name__")).cast<std::string>();
  } catch (const std::exception&) {
  }
  if (error.value()) {
    try {
      const std::string message = py::str(error.value()).cast<std::string>();
      if (!message.empty()) text += ": " + message;
    } catch (const std::exception&) {
      text += ": <the exception's text could not be made>";
    }
  }
  if (error.trace()) {
    try {
      py::list frames = py::module_::import("traceback").attr("extract_tb")(error.trace());
      if (!frames.empty()) {
        py::object last = frames[frames.size() - 1];
        std::ostringstream where;
        where << " [File \"" << py::str(last.attr("filename")).cast<std::string>() << "\", line "
              << py::str(last.attr("lineno")).cast<std::string>() << ", in "
              << py::str(last.attr("name")).cast<std::string>() << "]";
        text += where.str();
      }
    } catch (const std::exception&) {
      // Without the traceback module (or a readable frame) the message still has the type and text.
    }
  }
  return text;
}

void BindErrors(py::module_& m) {
  PyObject* base = NewError(m, "Error", PyExc_Exception,
                            "A vstream call failed; the message says what to change. Base of every vstream error.");
  error_classes[0] = base;
  error_classes[static_cast<size_t>(StatusCode::kInvalidConfig)] =
      NewError(m, "ConfigError", base, "The pipeline config (JSON, graph or a parameter) is wrong.");
  error_classes[static_cast<size_t>(StatusCode::kInvalidArgument)] =
      NewError(m, "ArgumentError", base, "An argument is wrong (unknown or duplicate stream id, ...).");
  error_classes[static_cast<size_t>(StatusCode::kNotFound)] =
      NewError(m, "NotFoundError", base, "A file, module, class or stream does not exist.");
  error_classes[static_cast<size_t>(StatusCode::kFailedState)] =
      NewError(m, "StateError", base,
               "The call does not fit the pipeline's state (not built, not running, used in a forked child).");
  error_classes[static_cast<size_t>(StatusCode::kRuntimeError)] = base;
  error_classes[static_cast<size_t>(StatusCode::kUnavailable)] =
      NewError(m, "UnavailableError", base, "A resource (device, codec) is not available on this machine.");

  py::register_exception_translator([](std::exception_ptr pending) {
    try {
      if (pending) std::rethrow_exception(pending);
    } catch (const StatusError& error) {
      PyErr_SetString(ErrorClass(error.code()).ptr(), error.what());
    }
  });
}

}  // namespace vstream::python
