#include "vstream/user_data_codec.hpp"

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "vstream/named_registry.hpp"

namespace vstream {
namespace {

// Both ends of a ModuleIPC pair run on one machine, so numbers travel in host byte order.
template <typename T>
std::string EncodeScalar(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

template <typename T>
bool DecodeScalar(std::string_view bytes, T* value) {
  if (bytes.size() != sizeof(T)) return false;
  std::memcpy(value, bytes.data(), sizeof(T));
  return true;
}

template <typename T>
std::string EncodeVector(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
bool DecodeVector(std::string_view bytes, std::vector<T>* values) {
  if (bytes.size() % sizeof(T) != 0) return false;
  values->resize(bytes.size() / sizeof(T));
  if (!bytes.empty()) std::memcpy(values->data(), bytes.data(), bytes.size());
  return true;
}

/// Codecs by name (the registry every named thing uses) and by type. A type has one codec: a new
/// codec for it replaces the old one, name included, so both indexes change under one lock.
struct Registry {
  std::mutex mutex;  // serializes changes, which touch both indexes
  NamedRegistry<std::shared_ptr<const UserDataCodec>> by_name{"user-data codec"};
  std::map<std::type_index, std::shared_ptr<const UserDataCodec>> by_type;  // guarded by mutex
};

bool Insert(Registry& registry, UserDataCodec codec) {
  if (codec.name.empty() || !codec.encode || !codec.decode) return false;
  auto shared = std::make_shared<const UserDataCodec>(std::move(codec));
  std::lock_guard<std::mutex> lock(registry.mutex);
  if (auto named = registry.by_name.Find(shared->name); named && (*named)->type != shared->type) return false;
  auto typed = registry.by_type.find(shared->type);
  if (typed != registry.by_type.end() && typed->second->name != shared->name) registry.by_name.Remove(typed->second->name);
  registry.by_type[shared->type] = shared;
  return registry.by_name.Set(shared->name, shared);
}

template <typename T>
void InsertBuiltIn(Registry& registry, const char* name, std::function<std::string(const T&)> encode,
                   std::function<bool(std::string_view, T*)> decode) {
  Insert(registry, MakeUserDataCodec<T>(name, std::move(encode), std::move(decode)));
}

Registry& TheRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry;  // never destroyed: codecs may be used while static objects go away
    InsertBuiltIn<std::string>(*r, "string", [](const std::string& v) { return v; },
                               [](std::string_view b, std::string* v) { *v = std::string(b); return true; });
    InsertBuiltIn<bool>(*r, "bool", [](const bool& v) { return std::string(1, v ? '\1' : '\0'); },
                        [](std::string_view b, bool* v) {
                          if (b.size() != 1 || (b[0] != '\0' && b[0] != '\1')) return false;
                          *v = b[0] == '\1';
                          return true;
                        });
    InsertBuiltIn<int32_t>(*r, "int32", EncodeScalar<int32_t>, DecodeScalar<int32_t>);
    InsertBuiltIn<int64_t>(*r, "int64", EncodeScalar<int64_t>, DecodeScalar<int64_t>);
    InsertBuiltIn<double>(*r, "double", EncodeScalar<double>, DecodeScalar<double>);
    InsertBuiltIn<std::vector<float>>(*r, "float32[]", EncodeVector<float>, DecodeVector<float>);
    InsertBuiltIn<std::vector<uint8_t>>(*r, "bytes", EncodeVector<uint8_t>, DecodeVector<uint8_t>);
    return r;
  }();
  return *registry;
}

}  // namespace

bool RegisterUserDataCodec(UserDataCodec codec) { return Insert(TheRegistry(), std::move(codec)); }

std::shared_ptr<const UserDataCodec> FindUserDataCodec(std::type_index type) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto it = registry.by_type.find(type);
  return it == registry.by_type.end() ? nullptr : it->second;
}

std::shared_ptr<const UserDataCodec> FindUserDataCodec(const std::string& name) {
  Registry& registry = TheRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);  // not between a replaced codec's Remove and Set
  return registry.by_name.Find(name).value_or(nullptr);
}

}  // namespace vstream
