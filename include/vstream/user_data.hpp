// UserData: a typed key-value store on each frame, for custom modules to pass data downstream.
//
// Values of any copyable or movable type; Get<T> returns nullptr when the key is missing or holds
// another type. Thread-safe. A pointer from Get stays valid until that key is set again or erased.
//
//   frame->data.Set("plate_text", std::string("B-AB 123"));
//   if (const std::string* text = frame->data.Get<std::string>("plate_text")) use(*text);
#pragma once

#include "vstream/export.hpp"

#include <any>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace vstream {

class VSTREAM_EXPORT UserData {
 public:
  template <typename T>
  void Set(const std::string& key, T value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key] = std::move(value);
  }

  template <typename T>
  T* Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : std::any_cast<T>(&it->second);
  }

  template <typename T>
  const T* Get(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : std::any_cast<T>(&it->second);
  }

  bool Has(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_.count(key) != 0;
  }

  bool Erase(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return values_.erase(key) != 0;
  }

  /// Stores a value already wrapped in std::any (what a user-data codec decodes).
  void SetAny(const std::string& key, std::any value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[key] = std::move(value);
  }
  /// Calls `visit(key, value)` for every entry, in key order, under the store's lock: `visit` must
  /// not call back into this UserData.
  template <typename Visitor>
  void Visit(Visitor&& visit) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [key, value] : values_) visit(key, value);
  }
  std::vector<std::string> Keys() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> keys;
    keys.reserve(values_.size());
    for (const auto& [key, value] : values_) keys.push_back(key);
    return keys;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::any> values_;  // guarded by mutex_; node-based: stable addresses
};

}  // namespace vstream
