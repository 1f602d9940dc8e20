// User-data codecs: how a frame's user data crosses a process boundary (ModuleIPC).
//
// UserData holds values of any C++ type, which another process cannot read as they are. A module
// that wants a value to follow its frames into the next process registers a codec for the value's
// type under a name, in both processes: the sending side encodes every entry whose type has a
// codec and names the codec on the wire, the receiving side decodes it with the codec of that
// name. Entries of types without a codec stay behind (ModuleIPC logs each such key once).
// Built in: std::string ("string"), bool ("bool"), int32_t ("int32"), int64_t ("int64"),
// double ("double"), std::vector<float> ("float32[]"), std::vector<uint8_t> ("bytes").
//
//   vstream::RegisterUserDataCodec<Plate>("myapp.plate",
//       [](const Plate& p) { return p.text; },
//       [](std::string_view bytes, Plate* p) { p->text = bytes; return true; });
#pragma once

#include "vstream/export.hpp"

#include <any>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>

namespace vstream {

struct VSTREAM_EXPORT UserDataCodec {
  std::string name;
  std::type_index type = typeid(void);
  /// Serializes a value of `type` (the std::any holds one).
  std::function<std::string(const std::any& value)> encode;
  /// Parses bytes from the other process; false when they are malformed (the entry is dropped).
  std::function<bool(std::string_view bytes, std::any* value)> decode;
};

/// Registers (or replaces) the codec for `codec.type` and `codec.name`. Thread-safe. Fails (false)
/// when the name is empty or already names a codec of another type.
VSTREAM_EXPORT bool RegisterUserDataCodec(UserDataCodec codec);

/// A codec for T from `encode` (a T to bytes) and `decode` (bytes to a T; false: malformed).
template <typename T>
UserDataCodec MakeUserDataCodec(std::string name, std::function<std::string(const T&)> encode,
                                std::function<bool(std::string_view, T*)> decode) {
  UserDataCodec codec;
  codec.name = std::move(name);
  codec.type = typeid(T);
  codec.encode = [encode = std::move(encode)](const std::any& value) { return encode(std::any_cast<const T&>(value)); };
  codec.decode = [decode = std::move(decode)](std::string_view bytes, std::any* value) {
    T parsed{};
    if (!decode(bytes, &parsed)) return false;
    *value = std::move(parsed);
    return true;
  };
  return codec;
}

/// The typed form of RegisterUserDataCodec (see the example above).
template <typename T>
bool RegisterUserDataCodec(std::string name, std::function<std::string(const T&)> encode,
                           std::function<bool(std::string_view, T*)> decode) {
  return RegisterUserDataCodec(MakeUserDataCodec<T>(std::move(name), std::move(encode), std::move(decode)));
}

/// The codec for values of `type`, or nullptr.
VSTREAM_EXPORT std::shared_ptr<const UserDataCodec> FindUserDataCodec(std::type_index type);
/// The codec registered under `name`, or nullptr.
VSTREAM_EXPORT std::shared_ptr<const UserDataCodec> FindUserDataCodec(const std::string& name);

}  // namespace vstream
