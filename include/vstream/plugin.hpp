// Plugins: module classes in shared libraries, loaded at run time.
//
// A plugin is a shared library whose VSTREAM_REGISTER_MODULE lines register module classes when it
// loads (its static initializers run). LoadPlugin loads one (dlopen, RTLD_NOW | RTLD_GLOBAL) and
// says which classes it added; LoadPluginsFromEnv loads what VSTREAM_PLUGIN_PATH names (a
// colon-separated list of .so files and folders; a folder means every *.so in it, in name order).
// A library that registers no class is an error: usually its modules sit in a static library whose
// registration objects the linker dropped (vstream_link_whole in CMake keeps them). Loading a path
// that is already loaded does nothing and succeeds. Plugins stay loaded until the process exits.
// Build a plugin with vstream_add_module_library (CMake, find_package(vstream)).
//
//   std::vector<std::string> added;
//   if (vstream::Status s = vstream::LoadPlugin("build/libframe_stamp.so", &added); !s) die(s.message());
//   for (const auto& plugin : vstream::LoadedPlugins()) std::cout << plugin.path << "\n";
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/status.hpp"

namespace vstream {

/// A loaded plugin: where it was loaded from and the module classes it registered.
struct VSTREAM_EXPORT PluginInfo {
  std::filesystem::path path;        // absolute, symbolic links resolved
  std::vector<std::string> classes;  // sorted
};

/// The environment variable LoadPluginsFromEnv reads.
inline constexpr const char* kPluginPathVariable = "VSTREAM_PLUGIN_PATH";

/// Loads the shared library `library` (a path; relative paths start at the current folder) and
/// registers its module classes. `classes_added`, when given, receives the classes this call added
/// (sorted; empty when the library was loaded already). Errors: kNotFound (no such file),
/// kRuntimeError (the dynamic loader refused it: the message has its reason), kInvalidArgument (it
/// loaded but registered no module class). Thread-safe; never throws.
VSTREAM_EXPORT Status LoadPlugin(const std::filesystem::path& library, std::vector<std::string>* classes_added = nullptr);

/// Loads every plugin VSTREAM_PLUGIN_PATH names: entries separated by ':', each a library file or a
/// folder (every *.so directly inside it, sorted by name); empty entries are skipped. OK when the
/// variable is unset or empty. Goes on after a failure and returns every failure in one error
/// (kNotFound for an entry that does not exist, else the first failure's code).
VSTREAM_EXPORT Status LoadPluginsFromEnv();

/// The plugins loaded so far, in load order.
VSTREAM_EXPORT std::vector<PluginInfo> LoadedPlugins();

}  // namespace vstream
