// Logging: vstream writes through spdlog to stderr; these functions set the level and let custom
// modules write to the same log.
//
// The level comes from VSTREAM_LOG_LEVEL (trace, debug, info, warn, error, off) when set, else info.
//
//   vstream::SetLogLevel("debug");
//   vstream::Log(vstream::LogLevel::kWarn, "camera 3 is slow");
#pragma once

#include <string_view>

namespace vstream {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// Sets the level by name; returns false (level unchanged) for an unknown name.
bool SetLogLevel(std::string_view level);
void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view message);

}  // namespace vstream
