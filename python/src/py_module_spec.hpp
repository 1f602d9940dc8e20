// PyModule's description (summary and parameters), shared by the extension, which registers the
// class when Python imports vstream, and by the host plugin, which registers it for C++ hosts.
#pragma once

#include "vstream/module.hpp"

namespace vstream::python {

// Every custom_params key but pyclass_name and pyclass_params goes to the class's open(params), as
// CNStream's PyModule does: the class declares nothing, so the module cannot check the keys.
inline ModuleDescription PyModuleDescription() {
  return {"Runs a Python class as a pipeline stage: open(params), process(frame), on_eos(stream_id), close()",
          {ParamSpec::String("pyclass_name", "", "the Python class, as package.module.Class (importable from sys.path / PYTHONPATH)")
               .Required(),
           ParamSpec::List("pyclass_params", "",
                           "more parameters for the class's open(params), as items 'key=value' (a key given here may "
                           "not also be given as a custom_params key)")},
          "A C++ host (the vstream tool) needs the plugin `libvstream_python_host.so` from the vstream Python package "
          "folder (`--plugin` or VSTREAM_PLUGIN_PATH); it starts an embedded interpreter. See docs/python.md.",
          "every other key goes to the class's open(params), a dict of strings: a string, number or boolean as its "
          "text, an array or object as its JSON text"};
}

/// The name of the capsule through which the extension hands the host plugin its PyModule factory:
/// it points to a `PyModuleFactory` (which returns a new PyModule named `name`).
inline constexpr const char* kPyModuleFactoryCapsule = "vstream._vstream._module_factory";
using PyModuleFactory = Module* (*)(const std::string& name);

}  // namespace vstream::python
