// PyModule: a pipeline stage whose work is done by a Python class.
//
// The config names the class (custom_params pyclass_name "package.module.Class"); every other
// custom_params key (the description's other_params: validation lets any key through) and the
// "key=value" items of pyclass_params are its parameters. Open imports the class, makes one
// instance and calls its open(params) with them as a dict of strings when it has one; Process
// calls process(frame) for every frame (on_eos(stream_id) for an end-of-stream frame, when the
// class has it); Close calls close(). Each call
// takes the GIL, so a PyModule with parallelism > 1 is safe: its workers take turns in Python
// and run the C++ around it (queues, routing) in parallel; per-stream order holds as for any module.
//
// A class that writes pixels says so with a class attribute `writes_pixels = True`: Process then
// makes the frame its own first (Module::MakeWritable: a copy where another branch has the frame)
// and frame.image is writable; for the others it is a read-only view.
//
// process() returning None, True or 0 passes the frame on; False or a negative number fails the
// frame (a frame_error event, the frame goes no further on this path). A Python exception fails
// the frame likewise, the event's message naming the exception and the traceback's innermost frame.
//
//   "count": { "class_name": "PyModule", "parallelism": 2,
//              "custom_params": { "pyclass_name": "my_stages.Counter", "label": "face", "min_width": 0.05 } }
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "py_module_spec.hpp"
#include "vstream/module.hpp"

namespace vstream::python {

class PyModule : public Module {
 public:
  using Module::Module;
  ~PyModule() override;

  static ModuleDescription Describe() { return PyModuleDescription(); }
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

  /// The Python instance (None before Open). Needs the GIL.
  pybind11::object instance() const;

 private:
  // All guarded by the GIL: set in Open, read by the workers, dropped in the destructor.
  pybind11::object instance_;
  pybind11::object process_;
  pybind11::object on_eos_;  // None when the class has no on_eos
  std::string class_path_;
  bool writes_pixels_ = false;  // the class's `writes_pixels` attribute; set in Open
};

/// True while this thread runs the process() of a PyModule whose class writes pixels: the arrays
/// frame.image and frame.planes hand out are writable then, read-only otherwise.
bool MayWritePixels();

}  // namespace vstream::python
