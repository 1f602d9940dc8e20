#include "vstream/params.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "config_text.hpp"
#include "vstream/log.hpp"
#include "vstream/text.hpp"

namespace vstream {

std::string_view ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kString: return "string";
    case ParamType::kInt: return "int";
    case ParamType::kDouble: return "number";
    case ParamType::kBool: return "bool";
    case ParamType::kEnum: return "enum";
    case ParamType::kPath: return "path";
    case ParamType::kList: return "list";
  }
  return "string";
}

ParamSpec ParamSpec::String(std::string name, std::string default_value, std::string description) {
  return {std::move(name), ParamType::kString, std::move(default_value), false, std::move(description)};
}
ParamSpec ParamSpec::Int(std::string name, int64_t default_value, std::string description) {
  return {std::move(name), ParamType::kInt, std::to_string(default_value), false, std::move(description)};
}
ParamSpec ParamSpec::Double(std::string name, double default_value, std::string description) {
  return {std::move(name), ParamType::kDouble, vstream::FormatNumber(default_value), false, std::move(description)};
}
ParamSpec ParamSpec::Bool(std::string name, bool default_value, std::string description) {
  return {std::move(name), ParamType::kBool, default_value ? "true" : "false", false, std::move(description)};
}
ParamSpec ParamSpec::Enum(std::string name, std::string default_value, std::vector<std::string> choices,
                          std::string description) {
  ParamSpec spec{std::move(name), ParamType::kEnum, std::move(default_value), false, std::move(description)};
  spec.choices = std::move(choices);
  return spec;
}
ParamSpec ParamSpec::Path(std::string name, std::string default_value, std::string description) {
  return {std::move(name), ParamType::kPath, std::move(default_value), false, std::move(description)};
}
ParamSpec ParamSpec::List(std::string name, std::string default_value, std::string description) {
  return {std::move(name), ParamType::kList, std::move(default_value), false, std::move(description)};
}

std::optional<bool> ParseBool(const std::string& text) {
  const std::string v = vstream::ToLower(vstream::Trim(text));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

namespace {

constexpr size_t kMaxProblems = 20;  // lines one module's parameters add to an error at most

std::optional<int64_t> ParseInt(const std::string& text) {
  int64_t value = 0;
  if (detail::ParseWhole(vstream::Trim(text), &value) != detail::WholeText::kOk) return std::nullopt;
  return value;
}

std::optional<double> ParseDouble(const std::string& text) {
  const std::string v = vstream::Trim(text);
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(v.c_str(), &end);
  if (end != v.c_str() + v.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::string RangeText(const ParamSpec& spec) {
  const bool has_min = std::isfinite(spec.min);
  const bool has_max = std::isfinite(spec.max);
  if (has_min && has_max) {
    return "between " + vstream::FormatNumber(spec.min) + " and " + vstream::FormatNumber(spec.max);
  }
  if (has_min) return "at least " + vstream::FormatNumber(spec.min);
  return "at most " + vstream::FormatNumber(spec.max);
}

// The range a whole-number parameter accepts, the spec's range within int64_t's.
std::string WholeRangeText(const ParamSpec& spec) {
  const std::string lo = std::isfinite(spec.min) && spec.min > -9.2e18 ? vstream::FormatNumber(spec.min)
                                                                       : std::to_string(INT64_MIN);
  const std::string hi = std::isfinite(spec.max) && spec.max < 9.2e18 ? vstream::FormatNumber(spec.max)
                                                                      : std::to_string(INT64_MAX);
  return "between " + lo + " and " + hi;
}

bool IsUri(const std::string& value) { return value.find("://") != std::string::npos; }

// The items of a list parameter given as text: split at commas (and line breaks), trimmed, empty
// ones dropped.
std::vector<std::string> SplitItems(const std::string& text) {
  std::vector<std::string> items;
  for (auto& line : vstream::Split(text, '\n')) {
    for (auto& item : vstream::Split(line, ',')) {
      std::string trimmed = vstream::Trim(item);
      if (!trimmed.empty()) items.push_back(std::move(trimmed));
    }
  }
  return items;
}

// The items of a list parameter given as a list: each kept whole (trimmed; empty ones dropped).
std::vector<std::string> CleanItems(const std::vector<std::string>& given) {
  std::vector<std::string> items;
  for (const auto& item : given) {
    std::string trimmed = vstream::Trim(item);
    if (!trimmed.empty()) items.push_back(std::move(trimmed));
  }
  return items;
}

// Checks one value against its spec; returns the normalized text or sets `error`.
std::string Normalize(const ParamSpec& spec, const std::string& value, const std::filesystem::path& base_dir,
                      std::string* error) {
  auto fail = [&](const std::string& expected) {
    *error = "parameter '" + spec.name + "' must be " + expected + ", got '" + vstream::Excerpt(value) + "'";
    return std::string();
  };
  switch (spec.type) {
    case ParamType::kString:
    case ParamType::kList:
      return value;
    case ParamType::kInt: {
      int64_t v = 0;
      switch (detail::ParseWhole(vstream::Trim(value), &v)) {
        case detail::WholeText::kNotWhole: return fail("a whole number");
        case detail::WholeText::kOutOfRange: return fail("a whole number " + WholeRangeText(spec));
        case detail::WholeText::kOk: break;
      }
      if (static_cast<double>(v) < spec.min || static_cast<double>(v) > spec.max) return fail(RangeText(spec));
      return std::to_string(v);
    }
    case ParamType::kDouble: {
      auto v = ParseDouble(value);
      if (!v) return fail("a number");
      if (*v < spec.min || *v > spec.max) return fail(RangeText(spec));
      return vstream::FormatNumber(*v);
    }
    case ParamType::kBool: {
      auto v = ParseBool(value);
      if (!v) return fail("true or false");
      return *v ? "true" : "false";
    }
    case ParamType::kEnum: {
      const std::string lower = vstream::ToLower(vstream::Trim(value));
      for (const auto& choice : spec.choices) {
        if (vstream::ToLower(choice) == lower) return choice;
      }
      return fail("one of: " + vstream::Join(spec.choices, ", "));
    }
    case ParamType::kPath: {
      std::string v = vstream::Trim(value);
      if (v.empty() || IsUri(v)) return v;
      // "~/" is the home folder; ${NAME} an environment variable.
      if (v.rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        if (home == nullptr) return fail("a path, but it starts with ~/ and HOME is not set");
        v = std::string(home) + v.substr(1);
      }
      for (size_t at = v.find("${"); at != std::string::npos; at = v.find("${", at)) {
        const size_t end = v.find('}', at);
        if (end == std::string::npos) return fail("a path with ${NAME} closed by '}'");
        const std::string name = v.substr(at + 2, end - at - 2);
        const char* env = std::getenv(name.c_str());
        if (env == nullptr) {
          *error = "parameter '" + spec.name + "' uses ${" + vstream::Excerpt(name) +
                   "}, but the environment variable " + vstream::Excerpt(name) + " is not set";
          return std::string();
        }
        v.replace(at, end - at + 1, env);
        at += std::strlen(env);
      }
      std::filesystem::path p(v);
      if (p.is_relative() && !base_dir.empty()) p = base_dir / p;
      return p.lexically_normal().string();
    }
  }
  return value;
}

// The problem with a JSON value (an object, or an array of arrays or objects) given to `key`, which
// takes no such value.
std::string JsonValueProblem(const std::string& key, const ParamValue& value) {
  return "custom_params." + vstream::Excerpt(key) + " must be a string, number, boolean or array of those, got " +
         vstream::Excerpt(value.text());
}

}  // namespace

ParamValues::ParamValues(const std::map<std::string, std::string>& texts) {
  for (const auto& [key, text] : texts) emplace_hint(end(), key, ParamValue(text));
}

std::map<std::string, std::string> ParamValues::Texts() const {
  std::map<std::string, std::string> texts;
  for (const auto& [key, value] : *this) texts.emplace_hint(texts.end(), key, value.text());
  return texts;
}

Status ModuleParams::Validate(const std::string& module, const std::vector<ParamSpec>& specs, const ParamValues& raw,
                              const std::filesystem::path& base_dir, ModuleParams* out, OtherParams others) {
  std::vector<std::string> errors;
  const std::string prefix = "module '" + vstream::Excerpt(module) + "': ";
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);

  ModuleParams params;
  params.module_ = module;
  params.base_dir_ = base_dir;
  for (const auto& [key, value] : raw) {
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    if (others == OtherParams::kAccept) {
      params.others_.emplace(key, value);
      continue;
    }
    // A JSON value is wrong whatever the key: say so first (the shape of the value is the mistake
    // a reader sees in the config).
    if (value.is_json()) errors.push_back(prefix + JsonValueProblem(key, value));
    std::string message = prefix + "unknown parameter '" + vstream::Excerpt(key) + "'";
    const std::string guess = vstream::ClosestMatch(key, names);
    if (!guess.empty()) message += " (did you mean '" + guess + "'?)";
    message += names.empty() ? "; this module takes no custom_params"
                             : "; known parameters: " + vstream::Join(names, ", ");
    errors.push_back(std::move(message));
  }

  for (const auto& spec : specs) {
    params.declared_[spec.name] = spec.type;
    auto it = raw.find(spec.name);
    if (it == raw.end()) {
      if (spec.required) {
        errors.push_back(prefix + "parameter '" + spec.name + "' is required (" + spec.description + ")");
      } else if (spec.type == ParamType::kList) {
        params.lists_[spec.name] = SplitItems(spec.default_value);  // an unset list reads as empty
        params.values_[spec.name] = vstream::Join(params.lists_[spec.name], ", ");
      } else if (!spec.default_value.empty()) {
        std::string ignored;
        params.values_[spec.name] = Normalize(spec, spec.default_value, base_dir, &ignored);
      } else if (spec.type == ParamType::kString) {
        params.values_[spec.name] = "";  // an unset string reads as empty
      }
      continue;
    }
    const ParamValue& value = it->second;
    if (value.is_json()) {
      errors.push_back(prefix + JsonValueProblem(spec.name, value));
      continue;
    }
    if (spec.type == ParamType::kList) {
      // A list keeps its items whole; text is the comma-separated form.
      std::vector<std::string> items = value.is_list() ? CleanItems(value.items()) : SplitItems(value.text());
      params.values_[spec.name] = vstream::Join(items, ", ");
      params.lists_[spec.name] = std::move(items);
      continue;
    }
    if (value.is_list()) {
      errors.push_back(prefix + "parameter '" + spec.name + "' takes one value (" +
                       std::string(ParamTypeName(spec.type)) + "), got a list of " +
                       std::to_string(value.items().size()) + ": [" + vstream::Excerpt(value.text()) + "]");
      continue;
    }
    std::string error;
    std::string normalized = Normalize(spec, value.text(), base_dir, &error);
    if (!error.empty()) {
      errors.push_back(prefix + error);
      continue;
    }
    params.values_[spec.name] = std::move(normalized);
  }

  detail::CapProblems(&errors, kMaxProblems, prefix);
  if (!errors.empty()) return {StatusCode::kInvalidConfig, vstream::Join(errors, "\n")};
  if (out != nullptr) *out = std::move(params);
  return Status::Ok();
}

bool ModuleParams::Has(const std::string& key) const { return values_.count(key) != 0; }

bool ModuleParams::ReportedProblems::First(const std::string& problem) {
  std::lock_guard<std::mutex> lock(mutex_);
  return seen_.insert(problem).second;
}

namespace {
// What each getter reads, for messages: the ParamSpec that declares such a value, the value it
// returns when it has none.
struct GetterInfo {
  std::string_view getter;
  std::string_view spec;
  std::string_view empty;
};

GetterInfo InfoOf(std::string_view getter) {
  static const GetterInfo kGetters[] = {
      {"GetString", "ParamSpec::String (or Enum)", "\"\""}, {"GetInt", "ParamSpec::Int", "0"},
      {"GetDouble", "ParamSpec::Double", "0"},               {"GetBool", "ParamSpec::Bool", "false"},
      {"GetPath", "ParamSpec::Path", "an empty path"},        {"GetList", "ParamSpec::List", "an empty list"},
  };
  for (const auto& info : kGetters) {
    if (info.getter == getter) return info;
  }
  return {getter, "ParamSpec", "an empty value"};
}
}  // namespace

void ModuleParams::Report(const std::string& key, std::string_view problem, const std::string& message) const {
  if (!reported_.First(key + '\n' + std::string(problem))) return;
  const std::string where = module_.empty() ? "vstream::ModuleParams" : "module '" + module_ + "'";
  VSTREAM_LOG_ERROR("{}: {}", where, message);
}

const std::string* ModuleParams::Find(const std::string& key, std::string_view getter) const {
  if (auto it = values_.find(key); it != values_.end()) return &it->second;
  const GetterInfo info = InfoOf(getter);
  const std::string call = std::string(getter) + "(\"" + key + "\")";
  if (declared_.count(key) == 0) {
    Report(key, "undeclared",
           call + ": parameter '" + key + "' is not declared; declare it in the module's Describe() (" +
               std::string(info.spec) + "(\"" + key + "\", ...)); returning " + std::string(info.empty));
  } else {
    Report(key, "unset",
           call + ": parameter '" + key + "' has no value (no default, and the config does not set it); check Has(\"" +
               key + "\") before reading it, or give it a default in the module's Describe(); returning " +
               std::string(info.empty));
  }
  return nullptr;
}

void ModuleParams::ReportWrongType(const std::string& key, const std::string& text, std::string_view getter) const {
  const GetterInfo info = InfoOf(getter);
  std::string declared_as;
  if (auto it = declared_.find(key); it != declared_.end()) {
    declared_as = " (declared as " + std::string(ParamTypeName(it->second)) + ")";
  }
  Report(key, getter,
         std::string(getter) + "(\"" + key + "\"): parameter '" + key + "' is '" + vstream::Excerpt(text) + "'" + declared_as +
             ", which " + std::string(getter) + " cannot read; declare it as " + std::string(info.spec) +
             " in the module's Describe(), or read it with the getter of its type; returning " +
             std::string(info.empty));
}

std::string ModuleParams::GetString(const std::string& key) const {
  const std::string* text = Find(key, "GetString");
  return text != nullptr ? *text : std::string();
}

int64_t ModuleParams::GetInt(const std::string& key) const {
  const std::string* text = Find(key, "GetInt");
  if (text == nullptr) return 0;
  auto v = ParseInt(*text);
  if (!v) {
    ReportWrongType(key, *text, "GetInt");
    return 0;
  }
  return *v;
}

double ModuleParams::GetDouble(const std::string& key) const {
  const std::string* text = Find(key, "GetDouble");
  if (text == nullptr) return 0.0;
  auto v = ParseDouble(*text);
  if (!v) {
    ReportWrongType(key, *text, "GetDouble");
    return 0.0;
  }
  return *v;
}

bool ModuleParams::GetBool(const std::string& key) const {
  const std::string* text = Find(key, "GetBool");
  if (text == nullptr) return false;
  auto v = ParseBool(*text);
  if (!v) {
    ReportWrongType(key, *text, "GetBool");
    return false;
  }
  return *v;
}

std::filesystem::path ModuleParams::GetPath(const std::string& key) const {
  const std::string* text = Find(key, "GetPath");
  return text != nullptr ? std::filesystem::path(*text) : std::filesystem::path();
}

std::vector<std::string> ModuleParams::GetList(const std::string& key) const {
  if (auto it = lists_.find(key); it != lists_.end()) return it->second;
  // A parameter declared otherwise (a string) reads as its comma-separated items.
  const std::string* text = Find(key, "GetList");
  return text != nullptr ? SplitItems(*text) : std::vector<std::string>();
}

}  // namespace vstream
