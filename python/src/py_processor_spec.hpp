// The Python pre- and postprocessors' registration, shared by the extension, which registers them
// when Python imports vstream, and by the host plugin, which registers them for C++ hosts and makes
// them through the extension's factories, handed over in a capsule (as PyModule's factory is).
#pragma once

#include <utility>

#include "vstream/inference/processing.hpp"

namespace vstream::python {

/// The processors' name for preproc_name / postproc_name, and CNStream's class names as aliases.
inline constexpr const char* kPythonProcessorName = "python";
inline constexpr const char* kPyPreprocAlias = "PyPreproc";
inline constexpr const char* kPyPostprocAlias = "PyPostproc";

/// What the capsule `kProcessorFactoriesCapsule` points to: the extension's factories, which make
/// the processor of one Inferencer module from its preproc_params / postproc_params.
struct PythonProcessorFactories {
  Status (*preprocessor)(const ProcessorSetup& setup, Preprocessor* out);
  Status (*postprocessor)(const ProcessorSetup& setup, Postprocessor* out);
};
inline constexpr const char* kProcessorFactoriesCapsule = "vstream._vstream._processor_factories";

/// Registers the "python" preprocessor and postprocessor factories (with their aliases). False when
/// they are registered already: by the host plugin, in a C++ host that then imported vstream.
inline bool RegisterPythonProcessors(PreprocessorFactory preprocessor, PostprocessorFactory postprocessor) {
  const bool pre = RegisterPreprocessorFactory(kPythonProcessorName, std::move(preprocessor), {kPyPreprocAlias});
  const bool post = RegisterPostprocessorFactory(kPythonProcessorName, std::move(postprocessor), {kPyPostprocAlias});
  return pre && post;
}

}  // namespace vstream::python
