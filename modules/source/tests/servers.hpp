// Servers the network tests start on 127.0.0.1 and stop again, also when a test fails, are
// test::ChildProcess (media.hpp); the helper scripts they run live next to this file.
#pragma once

#include <string>

#include "media.hpp"

namespace vstream::test {

/// The folder of this file (set by CMake): the helper scripts live here.
inline std::string SourceTestsDir() { return VSTREAM_SOURCE_TESTS_DIR; }

}  // namespace vstream::test
