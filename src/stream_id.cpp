#include "vstream/stream_id.hpp"

#include "vstream/text.hpp"

#include <string>

namespace vstream {

namespace {
bool AllowedInStreamId(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return kStreamIdPunctuation.find(static_cast<char>(c)) != std::string_view::npos;
}

Status Invalid(std::string_view id, const std::string& what) {
  return {StatusCode::kInvalidArgument,
          "invalid stream id '" + Printable(id) + "': " + what +
              "; a stream id is 1 to " + std::to_string(kMaxStreamIdBytes) +
              " bytes of ASCII letters, digits and _ - . : @ +, not starting with '.'"};
}
}  // namespace

Status CheckStreamId(std::string_view id) {
  if (id.empty()) return Invalid(id, "it is empty");
  if (id.size() > kMaxStreamIdBytes) {
    return Invalid(id, "it is " + std::to_string(id.size()) + " bytes long");
  }
  if (id.front() == '.') return Invalid(id, "it starts with '.'");
  for (size_t i = 0; i < id.size(); ++i) {
    const auto c = static_cast<unsigned char>(id[i]);
    if (!AllowedInStreamId(c)) {
      return Invalid(id, "byte " + std::to_string(i) + " ('" + Printable(id.substr(i, 1)) + "') is not allowed");
    }
  }
  return Status::Ok();
}

}  // namespace vstream
