// NamedRegistry: things registered by name — module classes, pre/postprocessors, skip conditions,
// user-data codecs, inference backends — found again by the names configs use.
//
// One template for all of them, so every kind behaves alike: thread-safe registration at any time
// (static initializers, plugins loaded later), names compared as written after an optional
// "vstream::" or "cnstream::" prefix (CNStream configs name things that way), aliases for other
// spellings, and one error for an unknown name that says what kind of thing it is, suggests the
// nearest registered name and lists them all.
//
//   vstream::NamedRegistry<Postprocessor> postprocessors("postprocessor");
//   postprocessors.Register("blazeface", DecodeBlazeFace, {"PostprocBlazeFace"});
//   if (auto found = postprocessors.Find(name)) use(*found); else return postprocessors.Unknown(name);
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vstream/status.hpp"
#include "vstream/text.hpp"

namespace vstream {

template <typename T>
class NamedRegistry {
 public:
  /// `kind` names what is registered, for messages ("postprocessor", "module class").
  explicit NamedRegistry(std::string kind) : kind_(std::move(kind)) {}
  NamedRegistry(const NamedRegistry&) = delete;
  NamedRegistry& operator=(const NamedRegistry&) = delete;

  /// "Inferencer" for "Inferencer", "vstream::Inferencer" and "cnstream::Inferencer".
  static std::string_view Canonical(std::string_view name) {
    for (std::string_view prefix : {"vstream::", "cnstream::"}) {
      if (name.substr(0, prefix.size()) == prefix) return name.substr(prefix.size());
    }
    return name;
  }

  /// Adds `value` under `name` and `aliases`. False (nothing added) when a name is empty or taken.
  bool Register(const std::string& name, T value, const std::vector<std::string>& aliases = {}) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!FreeLocked(name)) return false;
    for (const auto& alias : aliases) {
      if (!FreeLocked(alias) || alias == name) return false;
    }
    entries_.emplace(name, std::move(value));
    for (const auto& alias : aliases) aliases_.emplace(alias, name);
    return true;
  }
  /// Adds `value` under `name`, replacing what was there (not an alias). False when `name` is empty
  /// or an alias.
  bool Set(const std::string& name, T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (name.empty() || aliases_.count(name) != 0) return false;
    entries_.insert_or_assign(name, std::move(value));
    return true;
  }

  /// Removes `name` (not an alias) and the aliases of it. False when it is not registered.
  bool Remove(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.erase(name) == 0) return false;
    std::erase_if(aliases_, [&](const auto& alias) { return alias.second == name; });
    return true;
  }

  /// A copy of what `name` (or an alias, with or without a namespace prefix) names; nullopt when
  /// unknown.
  std::optional<T> Find(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const T* found = FindLocked(Canonical(name));
    if (found == nullptr) found = FindLocked(name);  // names that contain "::" themselves
    return found == nullptr ? std::nullopt : std::optional<T>(*found);
  }
  bool Contains(std::string_view name) const { return Find(name).has_value(); }
  /// The name `name` resolves to (an alias's target); empty when unknown.
  std::string NameOf(std::string_view name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::string_view candidate : {Canonical(name), name}) {
      if (auto it = entries_.find(candidate); it != entries_.end()) return it->first;
      if (auto alias = aliases_.find(candidate); alias != aliases_.end()) return alias->second;
    }
    return {};
  }

  /// Registered names (not aliases), sorted.
  std::vector<std::string> Names() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> names;
    for (const auto& entry : entries_) names.push_back(entry.first);
    return names;
  }
  /// Calls visit(name, value) for every entry, in name order (under the registry's lock: do not
  /// register from inside).
  template <typename F>
  void ForEach(F&& visit) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, value] : entries_) visit(name, value);
  }

  /// The error for an unknown `name`: "<kind> 'x' is not registered (did you mean 'y'?); known: a, b".
  Status Unknown(std::string_view name, StatusCode code = StatusCode::kNotFound) const {
    const std::vector<std::string> names = Names();
    std::string message = kind_ + " '" + std::string(name) + "' is not registered";
    if (std::string guess = ClosestMatch(Canonical(name), names); !guess.empty()) {
      message += " (did you mean '" + guess + "'?)";
    }
    message += names.empty() ? "; none is registered" : "; known: " + Join(names, ", ");
    return {code, std::move(message)};
  }

  const std::string& kind() const { return kind_; }

 private:
  bool FreeLocked(const std::string& name) const {
    return !name.empty() && entries_.count(name) == 0 && aliases_.count(name) == 0;
  }
  const T* FindLocked(std::string_view name) const {
    if (auto it = entries_.find(name); it != entries_.end()) return &it->second;
    if (auto alias = aliases_.find(name); alias != aliases_.end()) {
      if (auto it = entries_.find(alias->second); it != entries_.end()) return &it->second;
    }
    return nullptr;
  }

  const std::string kind_;
  mutable std::mutex mutex_;
  std::map<std::string, T, std::less<>> entries_;           // guarded by mutex_
  std::map<std::string, std::string, std::less<>> aliases_;  // alias -> name; guarded by mutex_
};

}  // namespace vstream
