// The Inferencer family's three name registries (private): preprocessors, postprocessors (CNStream's
// names as aliases) and inference backends. Each is one function-local NamedRegistry in the .cpp
// that fills it (processing.cpp, backend_registry.cpp); the public Register*/Find*/Make*/…Names
// functions are thin wrappers, and the Inferencer uses Unknown(name) for its errors. A processor
// entry holds a function or a factory, so both share one namespace per kind.
#pragma once

#include "vstream/inference/backend.hpp"
#include "vstream/inference/processing.hpp"
#include "vstream/named_registry.hpp"

namespace vstream::detail {

/// A registered processor: one function shared by every module, or a factory of one per module.
template <typename Processor, typename Factory>
struct ProcessorEntry {
  Processor function;  // empty for a factory
  Factory factory;     // empty for a function
};
using PreprocessorEntry = ProcessorEntry<Preprocessor, PreprocessorFactory>;
using PostprocessorEntry = ProcessorEntry<Postprocessor, PostprocessorFactory>;

NamedRegistry<PreprocessorEntry>& Preprocessors();
NamedRegistry<PostprocessorEntry>& Postprocessors();
NamedRegistry<InferenceBackendFactory>& InferenceBackends();

}  // namespace vstream::detail
