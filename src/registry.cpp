#include "vstream/registry.hpp"

#include <algorithm>

namespace vstream {

ModuleRegistry& ModuleRegistry::Instance() {
  static ModuleRegistry registry;
  return registry;
}

std::string_view ModuleRegistry::Canonical(std::string_view class_name) {
  for (std::string_view prefix : {"vstream::", "cnstream::"}) {
    if (class_name.substr(0, prefix.size()) == prefix) return class_name.substr(prefix.size());
  }
  return class_name;
}

bool ModuleRegistry::Register(Entry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& existing : entries_) {
    if (existing->class_name == entry.class_name) return false;
  }
  entries_.push_back(std::make_unique<Entry>(std::move(entry)));
  return true;
}

const ModuleRegistry::Entry* ModuleRegistry::Find(std::string_view class_name) const {
  const std::string_view name = Canonical(class_name);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& entry : entries_) {
    if (entry->class_name == name) return entry.get();
  }
  return nullptr;
}

std::unique_ptr<Module> ModuleRegistry::Create(std::string_view class_name, const std::string& name) const {
  const Entry* entry = Find(class_name);
  return entry == nullptr ? nullptr : entry->factory(name);
}

std::vector<std::string> ModuleRegistry::ClassNames() const {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : entries_) names.push_back(entry->class_name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace vstream
