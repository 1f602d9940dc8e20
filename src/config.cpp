#include "vstream/config.hpp"

#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "cnstream_compat.hpp"
#include "config_text.hpp"
#include "graph_validation.hpp"
#include "vstream/text.hpp"

namespace vstream {

// Objects are std::maps (nlohmann's ordered_json finds keys by a linear scan: a config of many
// modules would parse in quadratic time); ParseJson records the order of the top-level keys, the
// modules' file order.
using Json = nlohmann::json;

std::string_view QueuePolicyName(QueuePolicy policy) {
  switch (policy) {
    case QueuePolicy::kBlock: return "block";
    case QueuePolicy::kDropOldest: return "drop_oldest";
    case QueuePolicy::kDropNewest: return "drop_newest";
  }
  return "block";
}

namespace {

constexpr const char* kModuleKeys[] = {"class_name", "parallelism", "max_input_queue_size", "next_modules",
                                       "custom_params", "queue_policy", "skip_if"};
constexpr const char* kSubgraphPrefix = "subgraph:";

constexpr size_t kMaxErrorLines = 100;  // problems one parse reports at most

// A config file being read: the main one, or a subgraph inside the files before it.
struct OpenFile {
  std::string shown;                  // its name in messages
  std::filesystem::path canonical;    // to recognize a file that includes itself; empty for a string
};

struct ParseContext {
  ConfigLimits limits;
  std::vector<std::string> errors;
  std::vector<OpenFile> include_chain;  // the main config first, then the subgraph files being read
  std::unordered_map<std::string, std::string> file_texts;  // canonical path -> text, read once
  int64_t nodes = 0;                    // modules and subgraph includes so far
  bool stopped = false;                 // a limit was reached: read no further
  detail::CnstreamNotes notes;          // CNStream spellings accepted but not (fully) honoured

  std::string Chain() const {
    std::vector<std::string> names;
    for (const auto& file : include_chain) names.push_back(file.shown);
    return vstream::Join(names, " -> ");
  }
  // Counts one module or subgraph include; false (after saying so once) past max_modules.
  bool Count() {
    if (stopped) return false;
    if (++nodes <= limits.max_modules) return true;
    errors.push_back(include_chain.front().shown + ": the config expands to more than " +
                     std::to_string(limits.max_modules) +
                     " modules (subgraph includes counting as one each), the limit (ConfigLimits::max_modules); "
                     "reading stopped in " + Chain());
    stopped = true;
    return false;
  }
};

// A name or value from the config in a message: quoted, made printable and clipped.
std::string Quoted(const std::string& s) { return "'" + vstream::Excerpt(s) + "'"; }

// A value's compact JSON text (invalid UTF-8 replaced).
std::string JsonText(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A JSON value for an error message: its compact JSON text, clipped (Excerpt), so a huge or deep
// value never floods the message.
std::string Shown(const Json& value) { return vstream::Excerpt(JsonText(value)); }

// Reads a whole number into `out`: 40, "40" and 40.0 are accepted, within T's range. Otherwise
// `error` says what `key` must be, naming the value and the range.
template <typename T>
bool ReadWhole(const Json& value, const std::string& key, T* out, std::string* error) {
  constexpr int64_t kLo = std::numeric_limits<T>::min();
  constexpr int64_t kHi = std::numeric_limits<T>::max();
  auto out_of_range = [&] {
    *error = Quoted(key) + " must be a whole number between " + std::to_string(kLo) + " and " + std::to_string(kHi) +
             ", got " + Shown(value);
    return false;
  };
  auto not_whole = [&] {
    *error = Quoted(key) + " must be a whole number (or a string holding one), got " + Shown(value);
    return false;
  };
  int64_t v = 0;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(kHi)) return out_of_range();
    v = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    v = value.get<int64_t>();
  } else if (value.is_number_float() || value.is_string()) {
    const std::string text = value.is_string() ? vstream::Trim(value.get<std::string>()) : value.dump();
    switch (detail::ParseWhole(text, &v)) {
      case detail::WholeText::kNotWhole: return not_whole();
      case detail::WholeText::kOutOfRange: return out_of_range();
      case detail::WholeText::kOk: break;
    }
  } else {
    return not_whole();
  }
  if (v < kLo || v > kHi) return out_of_range();
  *out = static_cast<T>(v);
  return true;
}

bool ParseQueuePolicy(const std::string& text, QueuePolicy* out) {
  const std::string v = vstream::ToLower(vstream::Trim(text));
  if (v == "block") *out = QueuePolicy::kBlock;
  else if (v == "drop_oldest") *out = QueuePolicy::kDropOldest;
  else if (v == "drop_newest") *out = QueuePolicy::kDropNewest;
  else return false;
  return true;
}

// A scalar as text: strings as they are, numbers and booleans spelled out.
bool ScalarText(const Json& value, std::string* out) {
  if (value.is_string()) *out = value.get<std::string>();
  else if (value.is_boolean()) *out = value.get<bool>() ? "true" : "false";
  else if (value.is_number_integer()) *out = std::to_string(value.get<int64_t>());
  else if (value.is_number_unsigned()) *out = std::to_string(value.get<uint64_t>());
  else if (value.is_number_float()) *out = vstream::FormatNumber(value.get<double>());
  else return false;
  return true;
}

// A custom_params value: a scalar, an array of scalars as a list (its items never split, its JSON
// text kept), anything else (an object, an array of arrays or objects) as a JSON value. Whether the
// module takes the value is validation's question: only a class that accepts other params takes a
// JSON value, for a key it does not declare.
ParamValue ReadParamValue(const Json& value) {
  std::string text;
  if (ScalarText(value, &text)) return ParamValue(std::move(text));
  if (value.is_array()) {
    std::vector<std::string> items;
    for (const auto& item : value) {
      if (!ScalarText(item, &text)) return ParamValue::Json(JsonText(value));
      items.push_back(std::move(text));
    }
    return ParamValue::List(std::move(items), JsonText(value));
  }
  return ParamValue::Json(JsonText(value));  // an object, or null
}

std::string JsonTypeName(const Json& value) { return value.type_name(); }

// "line:column" of the first object or array in `text` that opens deeper than `max_depth` (strings
// and comments skipped), or "" when there is none.
std::string DeepPosition(const std::string& text, int max_depth) {
  int depth = 0;
  size_t line = 1;
  size_t column = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    ++column;
    if (c == '\n') {
      ++line;
      column = 0;
    } else if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i, ++column) {
        if (text[i] == '\\') ++i, ++column;
      }
      ++column;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      for (i += 2; i + 1 < text.size() && !(text[i] == '*' && text[i + 1] == '/'); ++i) {
        ++column;
        if (text[i] == '\n') ++line, column = 0;
      }
      ++i;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return std::to_string(line) + ":" + std::to_string(column);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return {};
}

// Builds the JSON value (nlohmann's own DOM builder does the work) and checks it on the way: stops
// at the depth limit before anything deeper is built, notes every duplicated key (nlohmann would
// silently keep the last one) and the top-level keys in file order. A SAX handler rather than
// nlohmann's parse callback, whose parser rescans an object's members at the end of each one: a
// config of many modules would parse in quadratic time.
class ConfigSax {
 public:
  ConfigSax(Json* out, const std::string& origin, int max_depth, std::vector<std::string>* top_keys)
      : dom_(*out), origin_(origin), max_depth_(max_depth), top_keys_(top_keys) {}

  bool too_deep() const { return too_deep_; }
  const std::vector<std::string>& duplicates() const { return duplicates_; }

  bool null() { return Value(dom_.null()); }
  bool boolean(bool v) { return Value(dom_.boolean(v)); }
  bool number_integer(Json::number_integer_t v) { return Value(dom_.number_integer(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Value(dom_.number_unsigned(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t& text) { return Value(dom_.number_float(v, text)); }
  bool string(Json::string_t& v) { return Value(dom_.string(v)); }
  bool binary(Json::binary_t& v) { return Value(dom_.binary(v)); }
  bool start_object(std::size_t elements) { return Open(true) && dom_.start_object(elements); }
  bool start_array(std::size_t elements) { return Open(false) && dom_.start_array(elements); }
  bool end_object() { return Close() && dom_.end_object(); }
  bool end_array() { return Close() && dom_.end_array(); }
  bool key(Json::string_t& name) {
    pending_key_ = name;
    has_pending_key_ = true;
    if (open_.size() == 1) top_keys_->push_back(name);
    if (!open_.empty() && !open_.back().keys.insert(name).second) {
      const std::string where =
          path_.empty() ? "at the top level" : "in " + Quoted(vstream::Join(path_, "."));
      duplicates_.push_back(origin_ + ": key " + Quoted(name) + " appears twice " + where +
                            (path_.empty() ? " (module names must be unique)" : ""));
    }
    return dom_.key(name);
  }
  template <typename Exception>
  bool parse_error(std::size_t position, const std::string& last_token, const Exception& e) {
    return dom_.parse_error(position, last_token, e);  // throws e (a Json::parse_error)
  }

 private:
  struct Container {
    bool opened_by_key = false;   // the value of a key (its name is on path_)
    std::set<std::string> keys;  // an object's keys so far
  };

  bool Value(bool ok) {
    has_pending_key_ = false;
    return ok;
  }
  bool Open(bool /*object*/) {
    if (static_cast<int>(open_.size()) >= max_depth_) {  // this one would be one level too many
      too_deep_ = true;
      return false;
    }
    open_.push_back({has_pending_key_, {}});
    if (has_pending_key_) path_.push_back(pending_key_);
    has_pending_key_ = false;
    return true;
  }
  bool Close() {
    if (!open_.empty()) {
      if (open_.back().opened_by_key && !path_.empty()) path_.pop_back();
      open_.pop_back();
    }
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  const std::string& origin_;
  const int max_depth_;
  std::vector<std::string>* top_keys_;
  std::vector<Container> open_;    // the objects and arrays open around the current position
  std::vector<std::string> path_;  // keys leading to the current position
  std::string pending_key_;
  bool has_pending_key_ = false;
  bool too_deep_ = false;
  std::vector<std::string> duplicates_;
};

// Parses JSON text with comments; fills `errors` with a line:column message, or with every
// duplicated key. Objects and arrays may nest `max_depth` deep at most. `top_keys` gets the keys of
// the top-level object in file order.
bool ParseJson(const std::string& text, const std::string& origin, int max_depth, Json* out,
               std::vector<std::string>* top_keys, std::vector<std::string>* errors) {
  ConfigSax sax(out, origin, max_depth, top_keys);
  try {
    if (!Json::sax_parse(text, &sax, nlohmann::detail::input_format_t::json, /*strict=*/true,
                         /*ignore_comments=*/true)) {
      if (sax.too_deep()) {
        const std::string at = DeepPosition(text, max_depth);
        errors->push_back(origin + (at.empty() ? "" : ":" + at) + ": JSON objects and arrays nest deeper than " +
                          std::to_string(max_depth) + " levels, the limit (ConfigLimits::max_json_depth)");
      } else {
        errors->push_back(origin + ": malformed JSON");
      }
      return false;
    }
  } catch (const Json::parse_error& e) {
    // Recompute line and column from the byte offset: they are what an editor shows.
    size_t line = 1;
    size_t column = 1;
    const size_t end = std::min<size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    for (size_t i = 0; i < end; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    const size_t colon = what.find(": ", what.find("parse error"));
    if (colon != std::string::npos) what = what.substr(colon + 2);
    // nlohmann quotes the token it stopped in, which may be a whole (unterminated) string.
    constexpr std::string_view kLastRead = "; last read: '";
    if (const size_t at = what.find(kLastRead); at != std::string::npos && what.back() == '\'') {
      const size_t token = at + kLastRead.size();
      what = what.substr(0, token) + vstream::Excerpt(std::string_view(what).substr(token, what.size() - token - 1), 60) + "'";
    }
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": malformed JSON: " + what);
    return false;
  }
  if (!sax.duplicates().empty()) {
    errors->insert(errors->end(), sax.duplicates().begin(), sax.duplicates().end());
    return false;
  }
  return true;
}

void ReadModule(const std::string& name, const Json& body, const std::filesystem::path& base_dir, ModuleConfig* out,
                detail::CnstreamNotes* notes, std::vector<std::string>* errors) {
  const std::string prefix = "module " + Quoted(name) + ": ";
  out->name = name;
  out->base_dir = base_dir;
  if (!body.is_object()) {
    errors->push_back(prefix + "must be a JSON object with \"class_name\", got " + JsonTypeName(body));
    return;
  }
  if (!body.contains("class_name")) {
    std::vector<std::string> keys;
    for (const auto& [key, value] : body.items()) keys.push_back(key);
    if (std::string foreign = detail::CnstreamForeignEntry(name, keys); !foreign.empty()) {
      errors->push_back(std::move(foreign));
      return;
    }
  }
  for (const auto& [key, value] : body.items()) {
    if (key == "class_name") {
      if (value.is_string()) out->class_name = value.get<std::string>();
      else errors->push_back(prefix + "'class_name' must be a string, got " + JsonTypeName(value));
    } else if (key == "parallelism" || key == "max_input_queue_size") {
      std::string error;
      if (!ReadWhole(value, key, key == "parallelism" ? &out->parallelism : &out->max_input_queue_size, &error)) {
        errors->push_back(prefix + error);
      }
    } else if (key == "next_modules") {
      bool ok = value.is_array();
      if (ok) {
        for (const auto& item : value) {
          if (!item.is_string()) {
            ok = false;
            break;
          }
          out->next_modules.push_back(item.get<std::string>());
        }
      }
      if (!ok) errors->push_back(prefix + "'next_modules' must be an array of module names, got " + Shown(value));
    } else if (key == "custom_params") {
      if (!value.is_object()) {
        errors->push_back(prefix + "'custom_params' must be an object, got " + JsonTypeName(value));
        continue;
      }
      for (const auto& [param, param_value] : value.items()) {
        if (param_value.is_object() && detail::CnstreamTakesJsonText(param)) {
          out->params[param] = ParamValue(param_value.dump());  // CNStream passes such objects on as their JSON text
        } else {
          out->params[param] = ReadParamValue(param_value);
        }
      }
    } else if (key == "queue_policy") {
      if (!value.is_string() || !ParseQueuePolicy(value.get<std::string>(), &out->queue_policy)) {
        errors->push_back(prefix + "'queue_policy' must be \"block\", \"drop_oldest\" or \"drop_newest\", got " +
                          Shown(value));
      }
    } else if (key == "skip_if") {
      if (value.is_string()) out->skip_if = value.get<std::string>();
      else errors->push_back(prefix + "'skip_if' must be a string, got " + Shown(value));
    } else {
      std::string text;
      const bool scalar = ScalarText(value, &text);
      if (detail::CnstreamModuleKey(name, key, scalar ? &text : nullptr, notes, errors)) continue;
      std::vector<std::string> known(std::begin(kModuleKeys), std::end(kModuleKeys));
      std::string message = prefix + "unknown key " + Quoted(key);
      const std::string guess = vstream::ClosestMatch(key, known);
      if (!guess.empty()) message += " (did you mean " + Quoted(guess) + "?)";
      errors->push_back(message + "; module keys are: " + vstream::Join(known, ", ") +
                        " (module-specific settings go in custom_params)");
    }
  }
}

void ReadProfiler(const Json& body, ProfilerConfig* out, std::vector<std::string>* errors) {
  const std::string prefix = "profiler_config: ";
  if (!body.is_object()) {
    errors->push_back(prefix + "must be an object, got " + JsonTypeName(body));
    return;
  }
  for (const auto& [key, value] : body.items()) {
    std::string text;
    const bool scalar = ScalarText(value, &text);
    if (key == "enable_profiling" || key == "enable_tracing") {
      auto flag = scalar ? ParseBool(text) : std::nullopt;
      if (!flag) {
        errors->push_back(prefix + Quoted(key) + " must be true or false, got " + Shown(value));
        continue;
      }
      (key == "enable_profiling" ? out->enable_profiling : out->enable_tracing) = *flag;
    } else if (key == "trace_event_capacity") {
      int64_t capacity = 0;
      std::string error;
      if (!ReadWhole(value, key, &capacity, &error) || capacity < 1) {
        errors->push_back(prefix + "'trace_event_capacity' must be a whole number >= 1, got " + Shown(value));
        continue;
      }
      out->trace_event_capacity = capacity;
    } else {
      errors->push_back(prefix + "unknown key " + Quoted(key) +
                        "; known keys: enable_profiling, enable_tracing, trace_event_capacity");
    }
  }
}

bool ReadFile(const std::filesystem::path& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

void ParseGraph(const std::string& text, const std::filesystem::path& base_dir, const std::string& origin,
                GraphConfig* out, ParseContext* context);

// Inlines the subgraph `name` (file `config_path`) into `out`: its modules become "name/module";
// modules that list "subgraph:name" in next_modules are connected to the subgraph's entry modules,
// and the subgraph's last modules to the subgraph node's own next_modules.
// Returns the names of the subgraph's entry modules (those without parents inside it).
std::vector<std::string> ExpandSubgraph(const std::string& name, const Json& body, const std::filesystem::path& base_dir,
                                        GraphConfig* out, ParseContext* context) {
  const std::string prefix = "subgraph " + Quoted(name) + ": ";
  if (!body.is_object() || !body.contains("config_path") || !body["config_path"].is_string()) {
    context->errors.push_back(prefix + "must be an object with \"config_path\": \"other.json\"");
    return {};
  }
  std::vector<std::string> after;
  for (const auto& [key, value] : body.items()) {
    if (key == "config_path") continue;
    if (key == "next_modules" && value.is_array()) {
      for (const auto& item : value) {
        if (item.is_string()) after.push_back(item.get<std::string>());
        else context->errors.push_back(prefix + "'next_modules' must be an array of module names");
      }
    } else {
      context->errors.push_back(prefix + "unknown key " + Quoted(key) +
                                "; a subgraph takes config_path and next_modules");
    }
  }
  std::filesystem::path path = body["config_path"].get<std::string>();
  if (path.is_relative()) path = base_dir / path;
  path = path.lexically_normal();
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
  if (ec) canonical = path;
  for (const auto& open : context->include_chain) {
    if (open.canonical == canonical) {
      context->errors.push_back(prefix + "config_path " + Quoted(path.string()) +
                                " includes itself (directly or through other subgraphs): " + context->Chain() +
                                " -> " + path.string());
      return {};
    }
  }
  const int depth = static_cast<int>(context->include_chain.size());  // subgraph levels with this one
  if (depth > context->limits.max_include_depth) {
    context->errors.push_back(prefix + "config_path " + Quoted(path.string()) + " would nest subgraphs " +
                              std::to_string(depth) + " deep, deeper than " +
                              std::to_string(context->limits.max_include_depth) +
                              ", the limit (ConfigLimits::max_include_depth): " + context->Chain() + " -> " +
                              path.string());
    context->stopped = true;
    return {};
  }
  if (!context->Count()) return {};
  // A file included many times (one subgraph used twice, in each of several others) is read once.
  auto cached = context->file_texts.find(canonical.string());
  if (cached == context->file_texts.end()) {
    std::string text;
    if (!ReadFile(path, &text)) {
      context->errors.push_back(prefix + "cannot read config_path " + Quoted(path.string()) +
                                " (relative paths are resolved against the including file's folder)");
      return {};
    }
    cached = context->file_texts.emplace(canonical.string(), std::move(text)).first;
  }
  GraphConfig sub;
  const size_t first_note = context->notes.size();
  context->include_chain.push_back({path.string(), canonical});
  ParseGraph(cached->second, path.parent_path(), path.string(), &sub, context);
  context->include_chain.pop_back();
  context->notes.Prefix(first_note, name + "/");
  if (context->stopped) return {};

  std::set<std::string> has_parent;
  for (const auto& module : sub.modules) {
    for (const auto& next : module.next_modules) has_parent.insert(next);
  }
  std::vector<std::string> entries;
  for (auto& module : sub.modules) {
    const bool last = module.next_modules.empty();
    for (auto& next : module.next_modules) next = name + "/" + next;
    if (last) module.next_modules.insert(module.next_modules.end(), after.begin(), after.end());
    const bool entry = has_parent.count(module.name) == 0;
    module.name = name + "/" + module.name;
    if (entry) entries.push_back(module.name);
    out->modules.push_back(std::move(module));
  }
  return entries;
}

void ParseGraph(const std::string& text, const std::filesystem::path& base_dir, const std::string& origin,
                GraphConfig* out, ParseContext* context) {
  Json root;
  std::vector<std::string> keys;  // in file order
  if (!ParseJson(text, origin, context->limits.max_json_depth, &root, &keys, &context->errors)) return;
  if (!root.is_object()) {
    context->errors.push_back(origin + ": the top level must be a JSON object of modules, got " + JsonTypeName(root));
    return;
  }
  out->origin = origin;
  std::map<std::string, std::vector<std::string>> entries;  // subgraph name -> its entry modules
  for (const std::string& key : keys) {
    if (context->stopped) return;
    const Json& value = root[key];
    if (key == "profiler_config") {
      ReadProfiler(value, &out->profiler, &context->errors);
    } else if (key.rfind(kSubgraphPrefix, 0) == 0) {
      const std::string name = key.substr(std::string(kSubgraphPrefix).size());
      if (name.empty()) {
        context->errors.push_back(origin + ": a subgraph key needs a name: \"subgraph:NAME\"");
        continue;
      }
      entries[name] = ExpandSubgraph(name, value, base_dir, out, context);
    } else {
      if (!context->Count()) return;
      ModuleConfig module;
      ReadModule(key, value, base_dir, &module, &context->notes, &context->errors);
      detail::TranslateCnstreamModule(&module, &context->notes, &context->errors);
      out->modules.push_back(std::move(module));
    }
  }
  if (context->stopped) return;
  // Connect "subgraph:NAME" references to the entry modules of that subgraph.
  for (auto& module : out->modules) {
    std::vector<std::string> next;
    for (const auto& target : module.next_modules) {
      if (target.rfind(kSubgraphPrefix, 0) == 0) {
        const std::string name = target.substr(std::string(kSubgraphPrefix).size());
        auto it = entries.find(name);
        if (it == entries.end()) {
          context->errors.push_back("module " + Quoted(module.name) + ": next_modules names " + Quoted(target) +
                                    ", but no such subgraph is defined");
          continue;
        }
        next.insert(next.end(), it->second.begin(), it->second.end());
      } else {
        next.push_back(target);
      }
    }
    module.next_modules = std::move(next);
  }
}

Status Finish(ParseContext& context, GraphConfig* parsed, GraphConfig* out) {
  detail::CapProblems(&context.errors, kMaxErrorLines);
  if (!context.errors.empty()) {
    return {StatusCode::kInvalidConfig, "invalid pipeline config:\n  " + vstream::Join(context.errors, "\n  ")};
  }
  context.notes.Log();  // once per config read, and only for a config that reads
  *out = std::move(*parsed);
  return Status::Ok();
}

}  // namespace

Status GraphConfig::FromString(const std::string& json, const std::filesystem::path& base_dir, GraphConfig* out,
                               const std::string& origin, const ConfigLimits& limits) {
  ParseContext context;
  context.limits = limits;
  context.include_chain.push_back({origin, {}});
  GraphConfig parsed;
  std::filesystem::path base = base_dir.empty() ? std::filesystem::current_path() : std::filesystem::absolute(base_dir);
  ParseGraph(json, base, origin, &parsed, &context);
  parsed.origin = origin;
  return Finish(context, &parsed, out);
}

Status GraphConfig::FromFile(const std::filesystem::path& path, GraphConfig* out, const ConfigLimits& limits) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return {StatusCode::kNotFound, "cannot read config file '" + vstream::Excerpt(path.string(), 200) + "': " +
                                       (std::filesystem::exists(path) ? "permission denied or not a file" : "no such file")};
  }
  ParseContext context;
  context.limits = limits;
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  std::error_code ec;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(absolute, ec);
  context.include_chain.push_back({path.string(), ec ? absolute : canonical});
  GraphConfig parsed;
  ParseGraph(text, absolute.parent_path(), path.string(), &parsed, &context);
  parsed.origin = path.string();
  return Finish(context, &parsed, out);
}

Status GraphConfig::Set(const std::string& assignment) {
  const size_t equals = assignment.find('=');
  const size_t dot = assignment.substr(0, equals).rfind('.');
  if (equals == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == equals) {
    return {StatusCode::kInvalidArgument,
            "override " + Quoted(assignment) + " must look like module.key=value (e.g. infer.batch_size=8)"};
  }
  const std::string module_name = assignment.substr(0, dot);
  const std::string key = assignment.substr(dot + 1, equals - dot - 1);
  const std::string value = assignment.substr(equals + 1);
  ModuleConfig* module = nullptr;
  for (auto& m : modules) {
    if (m.name == module_name) module = &m;
  }
  if (module == nullptr) {
    std::vector<std::string> names;
    for (const auto& m : modules) names.push_back(m.name);
    return {StatusCode::kInvalidArgument, "override of " + Quoted(key) + ": no module named " + Quoted(module_name) +
                                              " (modules: " + vstream::Excerpt(vstream::Join(names, ", ")) + ")"};
  }
  // The setting it overrides; the error after it shows the value.
  const std::string prefix = "override " + Quoted(module_name + "." + key) + ": ";
  if (key == "parallelism" || key == "max_input_queue_size") {
    std::string error;
    if (!ReadWhole(Json(value), key, key == "parallelism" ? &module->parallelism : &module->max_input_queue_size,
                   &error)) {
      return {StatusCode::kInvalidArgument, prefix + error};
    }
  } else if (key == "queue_policy") {
    if (!ParseQueuePolicy(value, &module->queue_policy)) {
      return {StatusCode::kInvalidArgument,
              prefix + "queue_policy must be block, drop_oldest or drop_newest, got " + Quoted(value)};
    }
  } else if (key == "skip_if") {
    module->skip_if = value;
  } else if (key == "class_name") {
    module->class_name = value;
  } else if (key == "next_modules") {
    module->next_modules.clear();
    for (auto& item : vstream::Split(value, ',')) {
      std::string trimmed = vstream::Trim(item);
      if (!trimmed.empty()) module->next_modules.push_back(std::move(trimmed));
    }
  } else {
    module->params[key] = value;
  }
  return Status::Ok();
}

Status GraphConfig::Validate() const { return detail::ValidateGraph(*this, nullptr); }

const ModuleConfig* GraphConfig::Find(const std::string& name) const {
  for (const auto& module : modules) {
    if (module.name == name) return &module;
  }
  return nullptr;
}

std::string GraphConfig::ToDot() const {
  auto escape = [](const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  };
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  std::ostringstream dot;
  dot << "digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
  for (const auto& module : modules) {
    const auto* entry = registry.Resolve(module.class_name, module.params.Texts());
    const bool source = entry != nullptr && entry->is_source;
    dot << "  \"" << escape(module.name) << "\" [label=\"" << escape(module.name) << "\\n"
        << escape(std::string(ModuleRegistry::Canonical(module.class_name)));
    if (!source) dot << "\\nx" << module.parallelism << ", queue " << module.max_input_queue_size;
    dot << "\"" << (source ? ", shape=cds" : "") << "];\n";
  }
  for (const auto& module : modules) {
    for (const auto& next : module.next_modules) {
      dot << "  \"" << escape(module.name) << "\" -> \"" << escape(next) << "\";\n";
    }
  }
  dot << "}\n";
  return dot.str();
}

}  // namespace vstream
