#include "vstream/config.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "graph_validation.hpp"
#include "vstream/text.hpp"

namespace vstream {

using Json = nlohmann::ordered_json;

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

struct ParseContext {
  std::vector<std::string> errors;
  std::vector<std::filesystem::path> include_stack;  // subgraph files being read, to catch loops
};

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

// "40", 40 and 40.0 are all accepted for integers.
bool ReadInt(const Json& value, int* out) {
  if (value.is_number_integer()) {
    *out = value.get<int>();
    return true;
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d != static_cast<double>(static_cast<int>(d))) return false;
    *out = static_cast<int>(d);
    return true;
  }
  if (value.is_string()) {
    const std::string text = vstream::Trim(value.get<std::string>());
    if (text.empty()) return false;
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (end != text.c_str() + text.size() || v < INT32_MIN || v > INT32_MAX) return false;
    *out = static_cast<int>(v);
    return true;
  }
  return false;
}

bool ParseQueuePolicy(const std::string& text, QueuePolicy* out) {
  const std::string v = vstream::ToLower(vstream::Trim(text));
  if (v == "block") *out = QueuePolicy::kBlock;
  else if (v == "drop_oldest") *out = QueuePolicy::kDropOldest;
  else if (v == "drop_newest") *out = QueuePolicy::kDropNewest;
  else return false;
  return true;
}

// A custom_params value as text: strings as they are, numbers and booleans spelled out, arrays of
// scalars joined by '\n'.
bool ScalarText(const Json& value, std::string* out) {
  if (value.is_string()) *out = value.get<std::string>();
  else if (value.is_boolean()) *out = value.get<bool>() ? "true" : "false";
  else if (value.is_number_integer()) *out = std::to_string(value.get<int64_t>());
  else if (value.is_number_unsigned()) *out = std::to_string(value.get<uint64_t>());
  else if (value.is_number_float()) *out = vstream::FormatNumber(value.get<double>());
  else return false;
  return true;
}

std::string ParamText(const Json& value, bool* ok) {
  std::string text;
  *ok = true;
  if (ScalarText(value, &text)) return text;
  if (value.is_array()) {
    std::vector<std::string> items;
    for (const auto& item : value) {
      std::string one;
      if (!ScalarText(item, &one)) {
        *ok = false;
        return {};
      }
      items.push_back(std::move(one));
    }
    return vstream::Join(items, "\n");
  }
  *ok = false;
  return {};
}

std::string JsonTypeName(const Json& value) { return value.type_name(); }

// Parses JSON text with comments; fills `errors` with a line:column message, or with every
// duplicated key (nlohmann would silently keep the last one).
bool ParseJson(const std::string& text, const std::string& origin, Json* out, std::vector<std::string>* errors) {
  std::vector<std::set<std::string>> keys;   // one set per open object
  std::vector<std::string> path;             // keys leading to the current position
  std::vector<bool> opened_by_key;           // whether each open container was a key's value
  std::string pending_key;
  bool has_pending_key = false;
  std::vector<std::string> duplicates;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        opened_by_key.push_back(has_pending_key);
        if (has_pending_key) path.push_back(pending_key);
        has_pending_key = false;
        if (event == Json::parse_event_t::object_start) keys.emplace_back();
        else keys.emplace_back();  // arrays have no keys, but keep the stack balanced
        break;
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        keys.pop_back();
        if (!opened_by_key.empty()) {
          if (opened_by_key.back() && !path.empty()) path.pop_back();
          opened_by_key.pop_back();
        }
        break;
      case Json::parse_event_t::key: {
        pending_key = parsed.get<std::string>();
        has_pending_key = true;
        if (!keys.empty() && !keys.back().insert(pending_key).second) {
          const std::string where = path.empty() ? "at the top level" : "in " + Quoted(vstream::Join(path, "."));
          duplicates.push_back(origin + ": key " + Quoted(pending_key) + " appears twice " + where +
                               (path.empty() ? " (module names must be unique)" : ""));
        }
        break;
      }
      case Json::parse_event_t::value:
        has_pending_key = false;
        break;
    }
    return true;
  };
  try {
    *out = Json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/true);
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
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) + ": malformed JSON: " + what);
    return false;
  }
  if (!duplicates.empty()) {
    errors->insert(errors->end(), duplicates.begin(), duplicates.end());
    return false;
  }
  return true;
}

void ReadModule(const std::string& name, const Json& body, const std::filesystem::path& base_dir, ModuleConfig* out,
                std::vector<std::string>* errors) {
  const std::string prefix = "module " + Quoted(name) + ": ";
  out->name = name;
  out->base_dir = base_dir;
  if (!body.is_object()) {
    errors->push_back(prefix + "must be a JSON object with \"class_name\", got " + JsonTypeName(body));
    return;
  }
  for (const auto& [key, value] : body.items()) {
    if (key == "class_name") {
      if (value.is_string()) out->class_name = value.get<std::string>();
      else errors->push_back(prefix + "'class_name' must be a string, got " + JsonTypeName(value));
    } else if (key == "parallelism") {
      if (!ReadInt(value, &out->parallelism)) {
        errors->push_back(prefix + "'parallelism' must be a whole number (or a string holding one), got " + value.dump());
      }
    } else if (key == "max_input_queue_size") {
      if (!ReadInt(value, &out->max_input_queue_size)) {
        errors->push_back(prefix + "'max_input_queue_size' must be a whole number (or a string holding one), got " +
                          value.dump());
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
      if (!ok) errors->push_back(prefix + "'next_modules' must be an array of module names, got " + value.dump());
    } else if (key == "custom_params") {
      if (!value.is_object()) {
        errors->push_back(prefix + "'custom_params' must be an object, got " + JsonTypeName(value));
        continue;
      }
      for (const auto& [param, param_value] : value.items()) {
        bool ok = false;
        std::string text = ParamText(param_value, &ok);
        if (!ok) {
          errors->push_back(prefix + "custom_params." + param +
                            " must be a string, number, boolean or array of those, got " + param_value.dump());
          continue;
        }
        out->params[param] = std::move(text);
      }
    } else if (key == "queue_policy") {
      if (!value.is_string() || !ParseQueuePolicy(value.get<std::string>(), &out->queue_policy)) {
        errors->push_back(prefix + "'queue_policy' must be \"block\", \"drop_oldest\" or \"drop_newest\", got " +
                          value.dump());
      }
    } else if (key == "skip_if") {
      if (value.is_string()) out->skip_if = value.get<std::string>();
      else errors->push_back(prefix + "'skip_if' must be a string, got " + value.dump());
    } else {
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
        errors->push_back(prefix + Quoted(key) + " must be true or false, got " + value.dump());
        continue;
      }
      (key == "enable_profiling" ? out->enable_profiling : out->enable_tracing) = *flag;
    } else if (key == "trace_event_capacity") {
      int capacity = 0;
      if (!ReadInt(value, &capacity) || capacity < 1) {
        errors->push_back(prefix + "'trace_event_capacity' must be a whole number >= 1, got " + value.dump());
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
      context->errors.push_back(prefix + "unknown key " + Quoted(key) + "; a subgraph takes config_path and next_modules");
    }
  }
  std::filesystem::path path = body["config_path"].get<std::string>();
  if (path.is_relative()) path = base_dir / path;
  path = path.lexically_normal();
  for (const auto& open : context->include_stack) {
    if (std::filesystem::weakly_canonical(open) == std::filesystem::weakly_canonical(path)) {
      context->errors.push_back(prefix + "config_path " + Quoted(path.string()) +
                                " includes itself (directly or through other subgraphs)");
      return {};
    }
  }
  std::string text;
  if (!ReadFile(path, &text)) {
    context->errors.push_back(prefix + "cannot read config_path " + Quoted(path.string()) +
                              " (relative paths are resolved against the including file's folder)");
    return {};
  }
  GraphConfig sub;
  context->include_stack.push_back(path);
  ParseGraph(text, path.parent_path(), path.string(), &sub, context);
  context->include_stack.pop_back();

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
  if (!ParseJson(text, origin, &root, &context->errors)) return;
  if (!root.is_object()) {
    context->errors.push_back(origin + ": the top level must be a JSON object of modules, got " + JsonTypeName(root));
    return;
  }
  out->origin = origin;
  std::map<std::string, std::vector<std::string>> entries;  // subgraph name -> its entry modules
  for (const auto& [key, value] : root.items()) {
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
      ModuleConfig module;
      ReadModule(key, value, base_dir, &module, &context->errors);
      out->modules.push_back(std::move(module));
    }
  }
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
  if (!context.errors.empty()) {
    return {StatusCode::kInvalidConfig, "invalid pipeline config:\n  " + vstream::Join(context.errors, "\n  ")};
  }
  *out = std::move(*parsed);
  return Status::Ok();
}

}  // namespace

Status GraphConfig::FromString(const std::string& json, const std::filesystem::path& base_dir, GraphConfig* out,
                               const std::string& origin) {
  ParseContext context;
  GraphConfig parsed;
  std::filesystem::path base = base_dir.empty() ? std::filesystem::current_path() : std::filesystem::absolute(base_dir);
  ParseGraph(json, base, origin, &parsed, &context);
  parsed.origin = origin;
  return Finish(context, &parsed, out);
}

Status GraphConfig::FromFile(const std::filesystem::path& path, GraphConfig* out) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return {StatusCode::kNotFound, "cannot read config file '" + path.string() + "': " +
                                       (std::filesystem::exists(path) ? "permission denied or not a file" : "no such file")};
  }
  ParseContext context;
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  context.include_stack.push_back(absolute);
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
            "override '" + assignment + "' must look like module.key=value (e.g. infer.batch_size=8)"};
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
    return {StatusCode::kInvalidArgument, "override '" + assignment + "': no module named '" + module_name +
                                              "' (modules: " + vstream::Join(names, ", ") + ")"};
  }
  const std::string prefix = "override '" + assignment + "': ";
  if (key == "parallelism" || key == "max_input_queue_size") {
    int parsed = 0;
    if (!ReadInt(Json(value), &parsed)) return {StatusCode::kInvalidArgument, prefix + key + " must be a whole number"};
    (key == "parallelism" ? module->parallelism : module->max_input_queue_size) = parsed;
  } else if (key == "queue_policy") {
    if (!ParseQueuePolicy(value, &module->queue_policy)) {
      return {StatusCode::kInvalidArgument, prefix + "queue_policy must be block, drop_oldest or drop_newest"};
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
    const auto* entry = registry.Resolve(module.class_name, module.params);
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
