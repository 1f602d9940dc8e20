// ModuleRegistry: creates modules from the class names used in configs.
//
// VSTREAM_REGISTER_MODULE(Class) makes a Module subclass available by name. A config may spell
// the name "Class", "vstream::Class" or "cnstream::Class" (CNStream configs name classes that
// way; docs/config.md says what else of theirs is translated).
// VSTREAM_REGISTER_MODULE_WITH_ALIASES(Class, "Other", ...) adds other names for the same class
// (CNStream's cnstream::Encode and cnstream::VEncode are vstream's Encoder).
// A class describes itself with a static `ModuleDescription Describe()`; without one it accepts no
// custom_params. A class that keeps frames beyond its input queue (a batch, a decoder's pictures)
// says how many with a static `HeldFrames FramesHeld(const ModuleParams&)` (see capacity.hpp),
// which `vstream check` uses without opening the module. A name may also stand for a choice
// between classes made from the module's custom_params when a config loads (`Entry::choose`):
// "ModuleIPC" is IpcSender or IpcReceiver by its `ipc_type`, so every class is either always a
// source or never one.
//
//   class Blur : public vstream::Module { ... static vstream::ModuleDescription Describe(); };
//   VSTREAM_REGISTER_MODULE(Blur);
//   auto module = vstream::ModuleRegistry::Instance().Create("cnstream::Blur", "blur1");
#pragma once

#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"
#include "vstream/named_registry.hpp"

namespace vstream {

class VSTREAM_EXPORT ModuleRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Module>(const std::string& name)>;

  struct Entry {
    std::string class_name;  // without namespace
    Factory factory;
    std::function<ModuleDescription()> describe;
    bool is_source = false;  // derives from SourceModule
    /// What a module of the class keeps beyond its input queues, from its validated parameters;
    /// empty when the class declares nothing (it keeps nothing more).
    std::function<HeldFrames(const ModuleParams& params)> frames_held;
    /// For a name that stands for several classes (no factory of its own): the class name that
    /// implements a module with these custom_params, which are checked against `describe` first.
    std::function<std::string(const std::map<std::string, std::string>& params)> choose;
  };

  static ModuleRegistry& Instance();

  /// Adds a class, also found by `aliases` (with or without a namespace prefix, like its name).
  /// Returns false (and keeps the first) when the name or an alias is taken.
  bool Register(Entry entry, const std::vector<std::string>& aliases = {});
  /// Finds a class by any accepted spelling (an alias too); nullptr when unknown. Entries never move
  /// or go.
  const Entry* Find(std::string_view class_name) const;
  /// The class that makes a module of `class_name` with these custom_params: Find's entry, or the
  /// one its `choose` names. nullptr when unknown.
  const Entry* Resolve(std::string_view class_name, const std::map<std::string, std::string>& params) const;
  /// Creates a module named `name`; nullptr when the class is unknown or only names a choice.
  std::unique_ptr<Module> Create(std::string_view class_name, const std::string& name) const;
  /// Registered class names, sorted (not their aliases).
  std::vector<std::string> ClassNames() const;
  /// The error for an unknown class name, with a did-you-mean and the known classes.
  Status Unknown(std::string_view class_name) const { return entries_.Unknown(class_name, StatusCode::kInvalidConfig); }

  /// "Inferencer" for "Inferencer", "vstream::Inferencer" and "cnstream::Inferencer".
  static std::string_view Canonical(std::string_view class_name) {
    return NamedRegistry<int>::Canonical(class_name);
  }

 private:
  ModuleRegistry() = default;
  NamedRegistry<std::shared_ptr<const Entry>> entries_{"module class"};
};

namespace detail {
template <typename T>
concept HasDescribe = requires {
  { T::Describe() } -> std::convertible_to<ModuleDescription>;
};

template <typename T>
concept HasFramesHeld = requires(const ModuleParams& params) {
  { T::FramesHeld(params) } -> std::convertible_to<HeldFrames>;
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
  if constexpr (HasFramesHeld<T>) {
    entry.frames_held = [](const ModuleParams& params) { return HeldFrames(T::FramesHeld(params)); };
  }
  entry.is_source = std::is_base_of_v<SourceModule, T>;
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
/// Registers a Module subclass under its class name and under each alias (string literals).
#define VSTREAM_REGISTER_MODULE_WITH_ALIASES(Class, ...)                                 \
  [[maybe_unused]] static const bool VSTREAM_DETAIL_CONCAT(vstream_registered_, __LINE__) = \
      ::vstream::ModuleRegistry::Instance().Register(                                    \
          ::vstream::detail::MakeRegistryEntry<Class>(#Class), {__VA_ARGS__})
