// The inference backend (engine) registry: engine-agnostic, so every engine — the built-in "opencv"
// one and those an application or plugin registers — is found the same way by the `engine` param.
#include "registries.hpp"

namespace vstream {

namespace detail {

NamedRegistry<InferenceBackendFactory>& InferenceBackends() {
  static NamedRegistry<InferenceBackendFactory> registry("inference backend");
  return registry;
}

}  // namespace detail

bool RegisterInferenceBackend(const std::string& name, InferenceBackendFactory factory) {
  return factory && detail::InferenceBackends().Register(name, std::move(factory));
}

std::unique_ptr<InferenceBackend> CreateInferenceBackend(const std::string& name) {
  const auto factory = detail::InferenceBackends().Find(name);
  return factory ? (*factory)() : nullptr;
}

std::vector<std::string> InferenceBackendNames() { return detail::InferenceBackends().Names(); }

}  // namespace vstream
