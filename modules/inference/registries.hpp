// The Inferencer family's three name registries (private): preprocessors, postprocessors (CNStream's
// names as aliases) and inference backends. Each is one function-local NamedRegistry in the .cpp
// that fills it (processing.cpp, backend_registry.cpp); the public Register*/Find*/…Names functions
// are thin wrappers, and the Inferencer uses Unknown(name) for its errors.
#pragma once

#include "vstream/inference/backend.hpp"
#include "vstream/inference/processing.hpp"
#include "vstream/named_registry.hpp"

namespace vstream::detail {

NamedRegistry<Preprocessor>& Preprocessors();
NamedRegistry<Postprocessor>& Postprocessors();
NamedRegistry<InferenceBackendFactory>& InferenceBackends();

}  // namespace vstream::detail
