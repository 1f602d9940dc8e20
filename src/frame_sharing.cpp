#include "frame_sharing.hpp"

#include <cstdint>

namespace vstream::detail {
namespace {

/// A set of module indices, one bit each (graphs may have hundreds of modules).
class ModuleSet {
 public:
  explicit ModuleSet(size_t size) : words_((size + 63) / 64, 0) {}
  void Add(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  bool Has(size_t i) const { return (words_[i / 64] >> (i % 64) & 1) != 0; }
  void AddAll(const ModuleSet& other) {
    for (size_t w = 0; w < words_.size(); ++w) words_[w] |= other.words_[w];
  }
  bool Intersects(const ModuleSet& other) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      if ((words_[w] & other.words_[w]) != 0) return true;
    }
    return false;
  }
  /// Every module of `size` that is in none of `sets`.
  static ModuleSet Outside(size_t size, std::initializer_list<const ModuleSet*> sets) {
    ModuleSet out(size);
    for (size_t i = 0; i < size; ++i) {
      bool inside = false;
      for (const ModuleSet* set : sets) inside = inside || set->Has(i);
      if (!inside) out.Add(i);
    }
    return out;
  }

 private:
  std::vector<uint64_t> words_;
};

std::vector<size_t> TopologicalOrder(const std::vector<std::vector<size_t>>& children,
                                     const std::vector<std::vector<size_t>>& parents) {
  std::vector<size_t> waiting(children.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < children.size(); ++i) {
    waiting[i] = parents[i].size();
    if (waiting[i] == 0) order.push_back(i);
  }
  for (size_t next = 0; next < order.size(); ++next) {
    for (size_t child : children[order[next]]) {
      if (--waiting[child] == 0) order.push_back(child);
    }
  }
  return order;  // (every module, the graph being acyclic)
}

std::string RefusedCopy(const std::string& module, const std::string& join, const std::string& other_parent) {
  return "module '" + module + "' needs a copy of its own of frames that another branch also has (it writes " +
         "pixels: Module::MakeWritable), but that copy cannot go on to '" + join + "', which joins branches and " +
         "waits for the original frame from '" + other_parent + "' as well. Move '" + module + "' below '" + join +
         "', or give its branch an end of its own instead of joining it with the others";
}

}  // namespace

FrameSharing AnalyzeFrameSharing(const std::vector<std::vector<size_t>>& children,
                                 const std::vector<std::string>& names) {
  const size_t count = children.size();
  std::vector<std::vector<size_t>> parents(count);
  for (size_t i = 0; i < count; ++i) {
    for (size_t child : children[i]) parents[child].push_back(i);
  }
  const std::vector<size_t> order = TopologicalOrder(children, parents);

  // What lies above and below each module (the module itself in neither).
  std::vector<ModuleSet> above(count, ModuleSet(count));
  std::vector<ModuleSet> below(count, ModuleSet(count));
  for (size_t i : order) {
    for (size_t parent : parents[i]) {
      above[i].Add(parent);
      above[i].AddAll(above[parent]);
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    for (size_t child : children[*it]) {
      below[*it].Add(child);
      below[*it].AddAll(below[child]);
    }
  }
  std::vector<size_t> joins;  // in topological order, so the nearest refusal is reported
  std::vector<size_t> sources;
  for (size_t i : order) {
    if (parents[i].size() > 1) joins.push_back(i);
    if (parents[i].empty()) sources.push_back(i);
  }

  FrameSharing sharing;
  sharing.modules.resize(count);
  for (size_t module = 0; module < count; ++module) {
    ModuleSharing& out = sharing.modules[module];
    out.shared.assign(count, false);
    ModuleSet self(count);
    self.Add(module);
    // The modules that may hold a frame object at the same time as this one: neither above nor below.
    const ModuleSet beside = ModuleSet::Outside(count, {&above[module], &below[module], &self});
    // An object from `origin` (above this module) reaches the modules below the origin; one made
    // here reaches only what is below here, so it is never shared here.
    for (size_t origin = 0; origin < count; ++origin) {
      if (above[module].Has(origin)) out.shared[origin] = below[origin].Intersects(beside);
    }
    // A copy made here travels below here; a join there that waits for a parent the copy does not
    // pass through (one its source reaches) never gets the copy from that parent.
    for (size_t source : sources) {
      if (!above[module].Has(source)) continue;
      for (size_t join : joins) {
        if (!below[module].Has(join)) continue;
        for (size_t parent : parents[join]) {
          const bool reached = parent == source || below[source].Has(parent);
          const bool passes_copy = parent == module || below[module].Has(parent);
          if (reached && !passes_copy) {
            out.copy_refused.emplace(source, RefusedCopy(names[module], names[join], names[parent]));
            break;
          }
        }
        if (out.copy_refused.count(source) != 0) break;
      }
    }
  }
  return sharing;
}

}  // namespace vstream::detail
