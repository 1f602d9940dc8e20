// What the binding files of the `vstream` extension share: the functions that add each topic's
// classes to the module, and the conversion of a failed Status into a Python exception.
//
// Every C++ call that can wait (start, stop, wait, add_source) runs without the GIL; Python code
// runs only with it. Errors cross into Python as vstream.Error subclasses chosen by StatusCode.
#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "vstream/pipeline.hpp"
#include "vstream/status.hpp"

namespace vstream::python {

namespace py = pybind11;

/// A failed Status on its way to Python: the translator in errors.cpp raises the vstream.Error
/// subclass of its code with its message.
class StatusError : public std::runtime_error {
 public:
  explicit StatusError(const Status& status) : std::runtime_error(status.message()), code_(status.code()) {}
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

/// Throws StatusError when `status` failed.
inline void ThrowIfError(const Status& status) {
  if (!status) throw StatusError(status);
}

/// The Python exception type of `code` (vstream.ConfigError, ...; vstream.Error for the rest).
py::handle ErrorClass(StatusCode code);

/// "ValueError: bad box [File "/x/counter.py", line 12, in process]": the active Python exception
/// `error` in one line, with the innermost frame of its traceback. Needs the GIL.
std::string DescribePythonError(const py::error_already_set& error);

void BindErrors(py::module_& m);
void BindRegistry(py::module_& m);
void BindFrame(py::module_& m);
void BindPipeline(py::module_& m);
void BindPyModule(py::module_& m);
void BindProcessors(py::module_& m);
/// Adds push, end_stream, push_bytes and end_bytes to vstream.Pipeline (after BindPipeline).
void BindSources(py::module_& m);

/// The C++ pipeline of a vstream.Pipeline object (a TypeError when `self` is not one).
Pipeline& PipelineOf(const py::handle& self);

/// Whether Python code may run on this thread now: the interpreter exists and is not shutting
/// down (a thread that takes the GIL during finalization never returns).
bool PythonAlive();

/// Holds the GIL for its scope, from any thread: what C++ threads (module workers, the event
/// thread) use to run Python code. Unlike a bare py::gil_scoped_acquire, it gives a thread that
/// Python did not create one thread state for the thread's whole life (dropped when the thread
/// exits), instead of making and destroying one per call: that costs an mmap/munmap pair each time
/// on Python 3.11 (its frame stack), which made a PyModule that does nothing cost ~70-170 us/frame.
class PythonCall {
 public:
  PythonCall() = default;
  PythonCall(const PythonCall&) = delete;
  PythonCall& operator=(const PythonCall&) = delete;

 private:
  struct ThreadState {  // gives the thread its state before gil_ is taken (members start in order)
    ThreadState();
  } thread_state_;
  py::gil_scoped_acquire gil_;
};

}  // namespace vstream::python
