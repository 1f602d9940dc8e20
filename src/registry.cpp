#include "vstream/registry.hpp"

namespace vstream {

ModuleRegistry& ModuleRegistry::Instance() {
  static ModuleRegistry registry;
  return registry;
}

bool ModuleRegistry::Register(Entry entry, const std::vector<std::string>& aliases) {
  std::string name = entry.class_name;
  return entries_.Register(name, std::make_shared<const Entry>(std::move(entry)), aliases);
}

const ModuleRegistry::Entry* ModuleRegistry::Find(std::string_view class_name) const {
  auto found = entries_.Find(class_name);
  return found ? found->get() : nullptr;  // the registry keeps every entry: the pointer stays valid
}

const ModuleRegistry::Entry* ModuleRegistry::Resolve(std::string_view class_name,
                                                     const std::map<std::string, std::string>& params) const {
  const Entry* entry = Find(class_name);
  // A choice names a concrete class (never another choice: that would be a registration bug).
  if (entry != nullptr && entry->choose) entry = Find(entry->choose(params));
  return entry != nullptr && entry->choose ? nullptr : entry;
}

std::unique_ptr<Module> ModuleRegistry::Create(std::string_view class_name, const std::string& name) const {
  const Entry* entry = Find(class_name);
  return entry == nullptr || !entry->factory ? nullptr : entry->factory(name);
}

std::vector<std::string> ModuleRegistry::ClassNames() const { return entries_.Names(); }

}  // namespace vstream
