// The plugins' own source file. Their module class comes from the static library
// vstream_test_plugin_modules (see CMakeLists.txt): the case vstream_link_whole exists for.
extern "C" int vstream_test_plugin_entry() { return 1; }
