// The `vstream._vstream` extension module: each topic's bindings, and the version.
#include "bindings.hpp"

#include "vstream/version.hpp"

PYBIND11_MODULE(_vstream, m) {
  using namespace vstream::python;
  m.doc() = "vstream: video analytics pipelines (C++ library bindings; see docs/python.md)";
  m.attr("__version__") = std::string(vstream::Version());
  BindErrors(m);
  BindRegistry(m);
  BindFrame(m);
  BindPipeline(m);
  BindSources(m);
  BindPyModule(m);
  BindProcessors(m);
}
