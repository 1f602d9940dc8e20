// Plugins (vstream/plugin.hpp): module classes loaded from shared libraries at run time, and the
// errors that say why a library is not one. The test plugins are built by tests/plugin/.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "media.hpp"
#include "vstream/plugin.hpp"
#include "vstream/registry.hpp"
#include "vstream/version.hpp"

namespace vstream {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool Loaded(const std::filesystem::path& library) {
  const auto plugins = LoadedPlugins();
  const auto path = std::filesystem::canonical(library);
  return std::any_of(plugins.begin(), plugins.end(), [&](const PluginInfo& p) { return p.path == path; });
}

// Sets VSTREAM_PLUGIN_PATH for one test.
class PluginPath {
 public:
  explicit PluginPath(const std::string& value) { ::setenv(kPluginPathVariable, value.c_str(), 1); }
  ~PluginPath() { ::unsetenv(kPluginPathVariable); }
};

TEST(Plugin, LoadsItsClassesAndSaysWhichOnce) {
  const bool before = Loaded(VSTREAM_TEST_PLUGIN);  // (when every test runs in one process)
  std::vector<std::string> added{"stale"};
  Status s = LoadPlugin(VSTREAM_TEST_PLUGIN, &added);
  ASSERT_TRUE(s) << s.message();
  if (!before) {
    EXPECT_EQ(added, std::vector<std::string>{"TestPluginStamp"});
  }
  const ModuleRegistry::Entry* entry = ModuleRegistry::Instance().Find("TestPluginStamp");
  ASSERT_NE(entry, nullptr);
  const ModuleDescription description = entry->describe();
  ASSERT_EQ(description.params.size(), 1u);
  EXPECT_EQ(description.params[0].name, "label");
  EXPECT_NE(ModuleRegistry::Instance().Create("cnstream::TestPluginStamp", "stamp"), nullptr);

  // The same file again, also through a link with another name: nothing to do.
  test::ScratchDir dir("plugin_again");
  std::filesystem::create_symlink(VSTREAM_TEST_PLUGIN, dir / "other_name.so");
  s = LoadPlugin(dir / "other_name.so", &added);
  EXPECT_TRUE(s) << s.message();
  EXPECT_TRUE(added.empty());
  const auto plugins = LoadedPlugins();
  ASSERT_EQ(std::count_if(plugins.begin(), plugins.end(),
                          [](const PluginInfo& p) { return p.path == std::filesystem::canonical(VSTREAM_TEST_PLUGIN); }),
            1);
  for (const auto& plugin : plugins) {
    if (plugin.path == std::filesystem::canonical(VSTREAM_TEST_PLUGIN)) {
      EXPECT_EQ(plugin.classes, std::vector<std::string>{"TestPluginStamp"});
    }
  }
}

TEST(Plugin, MissingFileIsNotFound) {
  const Status s = LoadPlugin("/no/such/folder/libnope.so");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(Contains(s.message(), "'/no/such/folder/libnope.so': no such file")) << s.message();
}

TEST(Plugin, FileTheLoaderRefusesNamesItAndTheLoadersReason) {
  test::ScratchDir dir("plugin_bad");
  std::ofstream(dir / "libfake.so") << std::string(200, 'x') << "\n";  // not an ELF file
  const Status s = LoadPlugin(dir / "libfake.so");
  EXPECT_EQ(s.code(), StatusCode::kRuntimeError);
  EXPECT_TRUE(Contains(s.message(), dir / "libfake.so")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "cannot load it: ")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "ELF")) << s.message();  // dlerror(): "invalid ELF header"
}

TEST(Plugin, LibraryWithoutModuleClassesSaysWhyThatHappens) {
  const Status s = LoadPlugin(VSTREAM_TEST_PLUGIN_DROPPED);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "registered no module class")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "VSTREAM_REGISTER_MODULE")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "static library")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "vstream_link_whole")) << s.message();
  EXPECT_FALSE(Loaded(VSTREAM_TEST_PLUGIN_DROPPED));
}

TEST(Plugin, FolderIsNotALibrary) {
  test::ScratchDir dir("plugin_folder");
  const Status s = LoadPlugin(dir.path());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "is a folder")) << s.message();
}

TEST(Plugin, EnvironmentUnsetOrEmptyLoadsNothing) {
  ::unsetenv(kPluginPathVariable);
  EXPECT_TRUE(LoadPluginsFromEnv());
  PluginPath empty("::");
  EXPECT_TRUE(LoadPluginsFromEnv());
}

TEST(Plugin, EnvironmentLoadsFilesAndFoldersAndReportsEveryFailure) {
  test::ScratchDir dir("plugin_env");
  // A folder: its *.so in name order (the one without classes first), other files ignored.
  std::filesystem::create_symlink(VSTREAM_TEST_PLUGIN_DROPPED, dir / "a_dropped.so");
  std::filesystem::create_symlink(VSTREAM_TEST_PLUGIN, dir / "b_stamp.so");
  std::ofstream(dir / "notes.txt") << "not a plugin\n";
  PluginPath path(dir.path().string() + ":/no/such/plugin.so:");
  const Status s = LoadPluginsFromEnv();
  EXPECT_FALSE(s);
  EXPECT_TRUE(Contains(s.message(), "VSTREAM_PLUGIN_PATH: '/no/such/plugin.so': no such file or folder")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "a_dropped.so")) << s.message();
  EXPECT_TRUE(Contains(s.message(), "registered no module class")) << s.message();
  EXPECT_FALSE(Contains(s.message(), "notes.txt")) << s.message();
  // The failures did not stop the plugin after them.
  EXPECT_TRUE(Loaded(VSTREAM_TEST_PLUGIN));
  EXPECT_NE(ModuleRegistry::Instance().Find("TestPluginStamp"), nullptr);
}

TEST(Version, LibraryAndHeadersAgree) {
  EXPECT_STREQ(Version(), VSTREAM_VERSION_STRING);
  EXPECT_EQ(std::string(VSTREAM_VERSION_STRING),
            std::to_string(VSTREAM_VERSION_MAJOR) + "." + std::to_string(VSTREAM_VERSION_MINOR) + "." +
                std::to_string(VSTREAM_VERSION_PATCH));
}

}  // namespace
}  // namespace vstream
