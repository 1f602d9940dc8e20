// ModuleRegistry: creates modules from the class names used in configs.
//
// VSTREAM_REGISTER_MODULE(Class) makes a Module subclass available by name. A config may spell
// the name "Class", "vstream::Class" or "cnstream::Class" (CNStream configs load unchanged).
// A class describes itself with a static `ModuleDescription Describe()`; without one it accepts no
// custom_params. A SourceModule subclass that is a source only in some configurations declares
// `static bool IsSource(const std::map<std::string, std::string>& custom_params)`.
//
//   class Blur : public vstream::Module { ... static vstream::ModuleDescription Describe(); };
//   VSTREAM_REGISTER_MODULE(Blur);
//   auto module = vstream::ModuleRegistry::Instance().Create("cnstream::Blur", "blur1");
#pragma once

#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vstream/module.hpp"

namespace vstream {

class ModuleRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Module>(const std::string& name)>;

  struct Entry {
    std::string class_name;  // without namespace
    Factory factory;
    std::function<ModuleDescription()> describe;
    bool is_source = false;  // derives from SourceModule
    /// For a SourceModule subclass that is a source only in some configurations (ModuleIPC: a
    /// server is a source, a client is a stage): decides from the module's custom_params. Empty:
    /// always `is_source`.
    std::function<bool(const std::map<std::string, std::string>& params)> source_when;

    /// Whether a module of this class with these custom_params is a source.
    bool IsSource(const std::map<std::string, std::string>& params) const {
      return is_source && (!source_when || source_when(params));
    }
  };

  static ModuleRegistry& Instance();

  /// Adds a class. Returns false (and keeps the first) when the name is taken.
  bool Register(Entry entry);
  /// Finds a class by any accepted spelling; nullptr when unknown.
  const Entry* Find(std::string_view class_name) const;
  /// Creates a module named `name`; nullptr when the class is unknown.
  std::unique_ptr<Module> Create(std::string_view class_name, const std::string& name) const;
  /// Registered class names, sorted.
  std::vector<std::string> ClassNames() const;

  /// "Inferencer" for "Inferencer", "vstream::Inferencer" and "cnstream::Inferencer".
  static std::string_view Canonical(std::string_view class_name);

 private:
  ModuleRegistry() = default;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;  // guarded by mutex_; entries never move or go
};

namespace detail {
template <typename T>
concept HasDescribe = requires {
  { T::Describe() } -> std::convertible_to<ModuleDescription>;
};

template <typename T>
concept HasIsSource = requires(const std::map<std::string, std::string>& params) {
  { T::IsSource(params) } -> std::convertible_to<bool>;
};

template <typename T>
ModuleRegistry::Entry MakeRegistryEntry(std::string_view spelled) {
  static_assert(std::is_base_of_v<Module, T>, "VSTREAM_REGISTER_MODULE needs a vstream::Module subclass");
  ModuleRegistry::Entry entry;
  const size_t colon = spelled.rfind("::");
  entry.class_name = std::string(colon == std::string_view::npos ? spelled : spelled.substr(colon + 2));
  entry.factory = [](const std::string& name) -> std::unique_ptr<Module> { return std::make_unique<T>(name); };
  if constexpr (HasDescribe<T>) {
    entry.describe = [] { return ModuleDescription(T::Describe()); };
  } else {
    entry.describe = [] { return ModuleDescription{}; };
  }
  entry.is_source = std::is_base_of_v<SourceModule, T>;
  if constexpr (HasIsSource<T>) {
    static_assert(std::is_base_of_v<SourceModule, T>, "only a SourceModule subclass can decide IsSource per config");
    entry.source_when = [](const std::map<std::string, std::string>& params) { return T::IsSource(params); };
  }
  return entry;
}
}  // namespace detail

}  // namespace vstream

#define VSTREAM_DETAIL_CONCAT2(a, b) a##b
#define VSTREAM_DETAIL_CONCAT(a, b) VSTREAM_DETAIL_CONCAT2(a, b)
/// Registers a Module subclass under its class name (namespaces are dropped from the name).
#define VSTREAM_REGISTER_MODULE(Class)                                                   \
  [[maybe_unused]] static const bool VSTREAM_DETAIL_CONCAT(vstream_registered_, __LINE__) = \
      ::vstream::ModuleRegistry::Instance().Register(                                    \
          ::vstream::detail::MakeRegistryEntry<Class>(#Class))
