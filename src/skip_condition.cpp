#include "vstream/skip_condition.hpp"

#include <cctype>
#include <cstdint>
#include <optional>

#include "config_text.hpp"
#include "vstream/named_registry.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace {
NamedRegistry<SkipPredicate>& Registered() {
  static NamedRegistry<SkipPredicate> conditions("skip condition");
  return conditions;
}

const char* kForms =
    "expected \"no_objects\", \"every_nth:N\", \"except_every_nth:N\" (N a whole number >= 1) or the name of "
    "a condition registered with vstream::RegisterSkipCondition";
}  // namespace

bool RegisterSkipCondition(const std::string& name, SkipPredicate predicate) {
  if (name.empty() || !predicate) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  if (name == "no_objects" || name == "every_nth" || name == "except_every_nth") return false;
  return Registered().Register(name, std::move(predicate));
}

Status ParseSkipCondition(const std::string& spec_in, SkipPredicate* out) {
  const std::string spec = vstream::Trim(spec_in);
  *out = nullptr;
  if (spec.empty()) return Status::Ok();
  if (spec == "no_objects") {
    *out = [](const Frame& frame) { return frame.objects.empty(); };
    return Status::Ok();
  }
  const size_t colon = spec.find(':');
  if (colon != std::string::npos) {
    const std::string kind = spec.substr(0, colon);
    const std::string arg = vstream::Trim(spec.substr(colon + 1));
    int64_t n = 0;
    const detail::WholeText read = detail::ParseWhole(arg, &n);
    if ((kind == "every_nth" || kind == "except_every_nth") && (read != detail::WholeText::kOk || n < 1)) {
      return {StatusCode::kInvalidConfig,
              "skip_if '" + vstream::Excerpt(spec) + "': N must be a whole number >= 1" +
                  (read == detail::WholeText::kOutOfRange ? " and at most " + std::to_string(INT64_MAX) : "")};
    }
    if (kind == "every_nth") {
      *out = [n](const Frame& frame) { return frame.frame_index % n == n - 1; };
      return Status::Ok();
    }
    if (kind == "except_every_nth") {
      *out = [n](const Frame& frame) { return frame.frame_index % n != 0; };
      return Status::Ok();
    }
  }
  std::optional<SkipPredicate> found = Registered().Find(spec);
  if (!found) {
    std::string message = "skip_if '" + vstream::Excerpt(spec) + "' is not a known condition: " + kForms;
    const std::vector<std::string> names = Registered().Names();
    if (!names.empty()) message += " (registered: " + Join(names, ", ") + ")";
    return {StatusCode::kInvalidConfig, std::move(message)};
  }
  *out = std::move(*found);
  return Status::Ok();
}

}  // namespace vstream
