// vstream.module_classes() and vstream.inspect(): the module classes and their parameter specs,
// as `vstream inspect` shows them.
#include <pybind11/stl.h>

#include <cmath>

#include "bindings.hpp"
#include "vstream/registry.hpp"

namespace vstream::python {
namespace {

py::dict SpecDict(const ParamSpec& spec) {
  py::dict d;
  d["name"] = spec.name;
  d["type"] = std::string(ParamTypeName(spec.type));
  d["default"] = spec.default_value;
  d["required"] = spec.required;
  d["description"] = spec.description;
  d["min"] = std::isinf(spec.min) ? py::object(py::none()) : py::object(py::float_(spec.min));
  d["max"] = std::isinf(spec.max) ? py::object(py::none()) : py::object(py::float_(spec.max));
  d["choices"] = spec.choices;
  return d;
}

py::dict Inspect(const std::string& class_name) {
  const auto& registry = ModuleRegistry::Instance();
  const ModuleRegistry::Entry* entry = registry.Find(class_name);
  if (entry == nullptr) {
    throw StatusError(Status(StatusCode::kNotFound, registry.Unknown(class_name).message()));
  }
  const ModuleDescription description = entry->describe();
  py::dict d;
  d["class_name"] = entry->class_name;
  d["summary"] = description.summary;
  d["details"] = description.details;
  d["is_source"] = entry->is_source;
  py::list params;
  for (const auto& spec : description.params) params.append(SpecDict(spec));
  d["params"] = params;
  d["other_params"] = description.other_params;  // "" when undeclared keys are config errors
  return d;
}

}  // namespace

void BindRegistry(py::module_& m) {
  m.def("module_classes", [] { return ModuleRegistry::Instance().ClassNames(); },
        "The registered module class names, sorted (what a config's class_name may name).");
  m.def("inspect", &Inspect, py::arg("class_name"),
        "A module class's description: class_name, summary, details, is_source, params (a list of "
        "dicts: name, type, default, required, description, min, max, choices) and other_params (what "
        "the class does with keys it does not declare; \"\" when they are config errors). Raises "
        "NotFoundError for an unknown class.");
}

}  // namespace vstream::python
