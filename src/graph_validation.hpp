// Graph validation shared by GraphConfig::Validate and Pipeline::Build (private).
//
// Resolves every module's class, checks the graph's shape (targets exist, no cycles, sources have
// no parents, everything reachable from a source) and validates every module's parameters,
// collecting all problems. On success the result holds each module's class entry, typed params,
// skip predicate, edges and a topological order.
#pragma once

#include <vector>

#include "vstream/config.hpp"
#include "vstream/registry.hpp"
#include "vstream/skip_condition.hpp"

namespace vstream::detail {

struct ValidatedModule {
  const ModuleConfig* config = nullptr;
  const ModuleRegistry::Entry* entry = nullptr;
  bool is_source = false;  // the resolved class is a source (ModuleRegistry::Resolve)
  ModuleParams params;
  SkipPredicate skip;
  std::vector<size_t> children;
  std::vector<size_t> parents;
};

struct ValidatedGraph {
  std::vector<ValidatedModule> modules;  // config order
  std::vector<size_t> topological_order;
};

Status ValidateGraph(const GraphConfig& config, ValidatedGraph* out);

}  // namespace vstream::detail
