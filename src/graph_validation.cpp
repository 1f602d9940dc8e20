#include "graph_validation.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "cnstream_compat.hpp"
#include "config_text.hpp"
#include "vstream/text.hpp"

namespace vstream::detail {
namespace {
constexpr int kMaxParallelism = 1024;
constexpr int kMaxQueueSize = 1000000;

// A name or value from the config in a message: quoted, made printable and clipped.
std::string Quoted(const std::string& s) { return "'" + Excerpt(s) + "'"; }

constexpr size_t kMaxErrorLines = 100;   // problems one validation reports at most
constexpr size_t kMaxListedModules = 30;  // a message lists the config's modules up to this many
constexpr size_t kMaxSuggestions = 1000;  // "did you mean" is looked for among this many modules at most

// Finds a cycle with a depth-first search that keeps its own stack (a chain of any length fits);
// returns it as "a -> b -> a" (a long one clipped), or "". Linear in modules + edges.
std::string FindCycle(const std::vector<ValidatedModule>& modules) {
  enum Mark { kWhite, kGrey, kBlack };
  std::vector<Mark> mark(modules.size(), kWhite);
  struct Visit {
    size_t module;
    size_t next_child;
  };
  std::vector<Visit> path;  // the grey modules, in order
  for (size_t root = 0; root < modules.size(); ++root) {
    if (mark[root] != kWhite) continue;
    mark[root] = kGrey;
    path.push_back({root, 0});
    while (!path.empty()) {
      Visit& top = path.back();
      const auto& children = modules[top.module].children;
      if (top.next_child == children.size()) {
        mark[top.module] = kBlack;
        path.pop_back();
        continue;
      }
      const size_t child = children[top.next_child++];
      if (mark[child] == kWhite) {
        mark[child] = kGrey;
        path.push_back({child, 0});
      } else if (mark[child] == kGrey) {
        auto start = std::find_if(path.begin(), path.end(), [&](const Visit& v) { return v.module == child; });
        std::vector<std::string> names;
        const size_t length = static_cast<size_t>(path.end() - start);
        for (auto it = start; it != path.end(); ++it) {
          const size_t at = static_cast<size_t>(it - start);
          if (length > 12 && at == 6) names.push_back("... (" + std::to_string(length - 9) + " more)");
          if (length > 12 && at >= 6 && at < length - 3) continue;
          names.push_back(Excerpt(modules[it->module].config->name));
        }
        names.push_back(Excerpt(modules[child].config->name));
        return Join(names, " -> ");
      }
    }
  }
  return {};
}
}  // namespace

Status ValidateGraph(const GraphConfig& config, ValidatedGraph* out) {
  std::vector<std::string> errors;
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  ValidatedGraph graph;
  std::unordered_map<std::string, size_t> index;
  index.reserve(config.modules.size());

  if (config.modules.empty()) {
    return {StatusCode::kInvalidConfig, config.origin + ": the config defines no modules"};
  }
  for (const auto& module : config.modules) {
    if (!index.emplace(module.name, graph.modules.size()).second) {
      errors.push_back("module " + Quoted(module.name) + " is defined twice; module names must be unique");
    }
    ValidatedModule validated;
    validated.config = &module;
    graph.modules.push_back(std::move(validated));
  }

  // Classes and module-level settings.
  bool any_source = false;
  std::vector<std::string> source_classes;
  for (const auto& name : registry.ClassNames()) {
    if (registry.Find(name)->is_source) source_classes.push_back(name);
  }
  for (auto& module : graph.modules) {
    const ModuleConfig& mc = *module.config;
    const std::string prefix = "module " + Quoted(mc.name) + ": ";
    const ModuleRegistry::Entry* named = nullptr;
    if (mc.class_name.empty()) {
      errors.push_back(prefix + "'class_name' is missing (known classes: " + Join(registry.ClassNames(), ", ") + ")");
    } else if ((named = registry.Find(mc.class_name)) == nullptr) {
      if (std::string advice = CnstreamClassAdvice(mc.class_name); !advice.empty()) {
        errors.push_back(prefix + advice);  // a CNStream class vstream does not have
      } else {
        std::string message = prefix + "unknown class_name " + Quoted(mc.class_name);
        const std::string guess = ClosestMatch(ModuleRegistry::Canonical(mc.class_name), registry.ClassNames());
        if (!guess.empty()) message += " (did you mean " + Quoted(guess) + "?)";
        errors.push_back(message + "; known classes: " + Join(registry.ClassNames(), ", "));
      }
    } else if ((module.entry = registry.Resolve(mc.class_name, mc.params.Texts())) == nullptr) {
      errors.push_back(prefix + "class_name " + Quoted(mc.class_name) +
                       " names a choice of classes whose choice " + Quoted(named->choose(mc.params.Texts())) +
                       " is not registered");
    } else {
      module.is_source = module.entry->is_source;
      any_source |= module.is_source;
    }
    const bool is_source = module.is_source;
    if (!is_source && (mc.parallelism < 1 || mc.parallelism > kMaxParallelism)) {
      errors.push_back(prefix + "'parallelism' must be between 1 and " + std::to_string(kMaxParallelism) +
                       " worker threads, got " + std::to_string(mc.parallelism));
    }
    if (is_source && mc.parallelism < 0) {
      errors.push_back(prefix + "'parallelism' must be 0 or more (sources ignore it), got " +
                       std::to_string(mc.parallelism));
    }
    if (mc.max_input_queue_size < 1 || mc.max_input_queue_size > kMaxQueueSize) {
      errors.push_back(prefix + "'max_input_queue_size' must be between 1 and " + std::to_string(kMaxQueueSize) +
                       ", got " + std::to_string(mc.max_input_queue_size));
    }
    if (Status s = ParseSkipCondition(mc.skip_if, &module.skip); !s) errors.push_back(prefix + s.message());
    if (named != nullptr) {  // the parameters of the class the config names (a choice's own)
      const ModuleDescription description = named->describe();
      const OtherParams others = description.other_params.empty() ? OtherParams::kReject : OtherParams::kAccept;
      const Status s =
          ModuleParams::Validate(mc.name, description.params, mc.params, mc.base_dir, &module.params, others);
      if (!s) errors.push_back(s.message());
    }
  }
  if (!any_source && errors.empty()) {
    errors.push_back("no source module: a pipeline needs at least one module whose class is a source (" +
                     Join(source_classes, ", ") + ")");
  }

  // Edges.
  std::vector<std::string> names;  // every module's name, made when a message needs it
  for (size_t v = 0; v < graph.modules.size(); ++v) {
    const ModuleConfig& mc = *graph.modules[v].config;
    std::unordered_set<std::string> seen;
    for (const auto& target : mc.next_modules) {
      const std::string prefix = "module " + Quoted(mc.name) + ": ";
      if (!seen.insert(target).second) {
        errors.push_back(prefix + "next_modules lists " + Quoted(target) + " twice");
        continue;
      }
      auto it = index.find(target);
      if (it == index.end()) {
        std::string message =
            prefix + "next_modules names " + Quoted(target) + ", which is not a module in this config";
        // Suggestions cost a scan of every name: only for the first problems of a config of modest size.
        if (config.modules.size() <= kMaxSuggestions && errors.size() < kMaxErrorLines) {
          if (names.empty()) {
            for (const auto& m : config.modules) names.push_back(m.name);
          }
          const std::string guess = ClosestMatch(target, names);
          if (!guess.empty()) message += " (did you mean " + Quoted(guess) + "?)";
        }
        if (config.modules.size() <= kMaxListedModules) {
          std::vector<std::string> listed;
          for (const auto& m : config.modules) listed.push_back(m.name);
          message += "; modules: " + Excerpt(Join(listed, ", "), 200);
        } else {
          message += " (it has " + std::to_string(config.modules.size()) + " modules)";
        }
        errors.push_back(message);
        continue;
      }
      const size_t child = it->second;
      const ValidatedModule& target_module = graph.modules[child];
      if (target_module.is_source) {
        errors.push_back("module " + Quoted(target) + " is a source (" + target_module.entry->class_name +
                         ") but " + Quoted(mc.name) + " lists it in next_modules; sources cannot have inputs");
        continue;
      }
      graph.modules[v].children.push_back(child);
      graph.modules[child].parents.push_back(v);
    }
  }

  const std::string cycle = FindCycle(graph.modules);
  if (!cycle.empty()) errors.push_back("the graph has a cycle: " + cycle + "; frames must flow one way");

  // Reachability from sources (only meaningful once classes are known).
  if (any_source) {
    std::vector<bool> reached(graph.modules.size(), false);
    std::vector<size_t> stack;
    for (size_t v = 0; v < graph.modules.size(); ++v) {
      if (graph.modules[v].is_source) stack.push_back(v);
    }
    while (!stack.empty()) {
      const size_t v = stack.back();
      stack.pop_back();
      if (reached[v]) continue;
      reached[v] = true;
      for (size_t child : graph.modules[v].children) stack.push_back(child);
    }
    for (size_t v = 0; v < graph.modules.size(); ++v) {
      if (!reached[v] && graph.modules[v].entry != nullptr) {
        errors.push_back("module " + Quoted(graph.modules[v].config->name) +
                         " is not reachable from any source; add it to the next_modules of a module upstream, or remove it");
      }
    }
  }

  if (!errors.empty()) {
    detail::CapProblems(&errors, kMaxErrorLines);
    return {StatusCode::kInvalidConfig, config.origin + ": invalid pipeline config:\n  " + Join(errors, "\n  ")};
  }

  // Kahn's algorithm; ties keep config order.
  std::vector<size_t> indegree(graph.modules.size());
  for (size_t v = 0; v < graph.modules.size(); ++v) indegree[v] = graph.modules[v].parents.size();
  std::vector<size_t> ready;
  for (size_t v = 0; v < graph.modules.size(); ++v) {
    if (indegree[v] == 0) ready.push_back(v);
  }
  for (size_t i = 0; i < ready.size(); ++i) {
    graph.topological_order.push_back(ready[i]);
    for (size_t child : graph.modules[ready[i]].children) {
      if (--indegree[child] == 0) ready.push_back(child);
    }
  }
  if (out != nullptr) *out = std::move(graph);
  return Status::Ok();
}

}  // namespace vstream::detail
