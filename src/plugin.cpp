#include "vstream/plugin.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <mutex>
#include <string_view>
#include <system_error>

#include "vstream/log.hpp"
#include "vstream/registry.hpp"
#include "vstream/text.hpp"

namespace vstream {
namespace {

namespace fs = std::filesystem;

struct Plugins {
  std::mutex mutex;  // one load at a time, so that a load's registry diff is its own
  std::vector<PluginInfo> loaded;
};

Plugins& State() {
  static Plugins* plugins = new Plugins;  // never destroyed: plugins stay loaded until exit
  return *plugins;
}

// A path from the command line or the environment in a message: printable, and clipped (paths run
// longer than other values, so further).
std::string Quoted(const fs::path& path) { return "'" + Excerpt(path.string(), 200) + "'"; }

Status Load(const fs::path& library, std::vector<std::string>* classes_added) {
  if (classes_added != nullptr) classes_added->clear();
  if (library.empty()) return {StatusCode::kInvalidArgument, "plugin: the library path is empty"};
  std::error_code error;
  const fs::file_status status = fs::status(library, error);
  if (!fs::exists(status)) {
    return {StatusCode::kNotFound, "plugin " + Quoted(library) + ": no such file"};
  }
  if (fs::is_directory(status)) {
    return {StatusCode::kInvalidArgument, "plugin " + Quoted(library) +
                                              " is a folder; give a library file (folders go in VSTREAM_PLUGIN_PATH)"};
  }
  fs::path path = fs::canonical(library, error);
  if (error) {
    return {StatusCode::kNotFound, "plugin " + Quoted(library) + ": " + error.message()};
  }

  Plugins& plugins = State();
  std::lock_guard<std::mutex> lock(plugins.mutex);
  for (const PluginInfo& plugin : plugins.loaded) {
    if (plugin.path == path) return Status::Ok();  // loaded already
  }
  const ModuleRegistry& registry = ModuleRegistry::Instance();
  const std::vector<std::string> before = registry.ClassNames();
  ::dlerror();  // clear a stale message
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return {StatusCode::kRuntimeError,
            "plugin " + Quoted(library) + ": cannot load it: " + (why != nullptr ? why : "unknown dynamic loader error")};
  }
  // The handle is never closed: the registry (and any postprocessor, codec or skip condition the
  // library registered) keeps pointers into its code.
  const std::vector<std::string> after = registry.ClassNames();
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  if (added.empty()) {
    return {StatusCode::kInvalidArgument,
            "plugin " + Quoted(library) +
                " loaded but registered no module class. A plugin registers its classes with "
                "VSTREAM_REGISTER_MODULE(Class) in a source file of the library itself; when the modules "
                "sit in a static library linked into the plugin, the linker drops their registrations "
                "unless the whole archive is linked (CMake: vstream_link_whole(plugin modules_lib), or "
                "-Wl,--whole-archive). A class whose name is already registered (built in, or from "
                "another plugin) is not added again."};
  }
  std::string names;
  for (const auto& name : added) names += (names.empty() ? "" : ", ") + name;
  Log(LogLevel::kDebug, "plugin " + Quoted(path) + ": " + names);
  if (classes_added != nullptr) *classes_added = added;
  plugins.loaded.push_back({std::move(path), std::move(added)});
  return Status::Ok();
}

}  // namespace

Status LoadPlugin(const fs::path& library, std::vector<std::string>* classes_added) {
  try {
    return Load(library, classes_added);
  } catch (const std::exception& e) {
    return {StatusCode::kRuntimeError, "plugin " + Quoted(library) + ": " + e.what()};
  }
}

Status LoadPluginsFromEnv() {
  const char* value = std::getenv(kPluginPathVariable);
  if (value == nullptr || *value == '\0') return Status::Ok();
  try {
    StatusCode first = StatusCode::kOk;
    std::string messages;
    auto fail = [&](const Status& s) {
      if (first == StatusCode::kOk) first = s.code();
      messages += (messages.empty() ? "" : "\n") + std::string(kPluginPathVariable) + ": " + s.message();
    };
    const std::string_view list = value;
    size_t begin = 0;
    while (begin <= list.size()) {
      size_t end = list.find(':', begin);
      if (end == std::string_view::npos) end = list.size();
      const fs::path entry(std::string(list.substr(begin, end - begin)));
      begin = end + 1;
      if (entry.empty()) continue;
      std::error_code error;
      const fs::file_status status = fs::status(entry, error);
      if (!fs::exists(status)) {
        fail({StatusCode::kNotFound, Quoted(entry) + ": no such file or folder"});
        continue;
      }
      if (!fs::is_directory(status)) {
        if (Status s = LoadPlugin(entry); !s) fail(s);
        continue;
      }
      std::vector<fs::path> libraries;
      fs::directory_iterator it(entry, error);
      if (error) {
        fail({StatusCode::kNotFound, Quoted(entry) + ": cannot list the folder: " + error.message()});
        continue;
      }
      for (; it != fs::directory_iterator(); it.increment(error)) {
        std::error_code ignored;
        if (it->path().extension() == ".so" && it->is_regular_file(ignored)) libraries.push_back(it->path());
      }
      if (error) fail({StatusCode::kRuntimeError, Quoted(entry) + ": cannot list the folder: " + error.message()});
      std::sort(libraries.begin(), libraries.end());
      for (const fs::path& library : libraries) {
        if (Status s = LoadPlugin(library); !s) fail(s);
      }
    }
    return first == StatusCode::kOk ? Status::Ok() : Status(first, messages);
  } catch (const std::exception& e) {
    return {StatusCode::kRuntimeError, std::string(kPluginPathVariable) + ": " + e.what()};
  }
}

std::vector<PluginInfo> LoadedPlugins() {
  Plugins& plugins = State();
  std::lock_guard<std::mutex> lock(plugins.mutex);
  return plugins.loaded;
}

}  // namespace vstream
