// Logging: one spdlog logger, "vstream", that the library, its modules and yours write to.
//
// It writes to stderr by default. An application sends it elsewhere with SetLogSink (any spdlog
// sink: a file, syslog, its own) or SetLogCallback (a function that gets each line), and back to
// stderr with ResetLogOutput. Those three are safe to call while pipelines run. The level comes
// from VSTREAM_LOG_LEVEL (trace, debug, info, warn, error, off) when set, else info.
//
// Inside a module, the VSTREAM_LOG_* macros take spdlog's (fmt's) format strings:
//   VSTREAM_LOG_WARN("module '{}': camera {} is slow", name(), stream_id);
//   vstream::SetLogCallback([](vstream::LogLevel level, std::string_view line) { my_log(level, line); });
//   vstream::SetLogLevel("debug");
#pragma once

#include "vstream/export.hpp"

#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <string_view>

namespace vstream {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// Sets the level by name; returns false (level unchanged) for an unknown name.
VSTREAM_EXPORT bool SetLogLevel(std::string_view level);
VSTREAM_EXPORT void SetLogLevel(LogLevel level);
/// Writes one line at `level`.
VSTREAM_EXPORT void Log(LogLevel level, std::string_view message);

/// The logger itself, for the VSTREAM_LOG_* macros (and for spdlog features the functions here
/// do not cover). Do not replace its sinks directly; use SetLogSink.
VSTREAM_EXPORT spdlog::logger& Logger();

/// Sends every line to `sink` instead of stderr (nullptr: back to stderr). The sink formats lines
/// with its own pattern.
VSTREAM_EXPORT void SetLogSink(std::shared_ptr<spdlog::sinks::sink> sink);
/// Calls `callback` with each line's level and text (without time stamp or level) instead of
/// writing to stderr. It is called on the thread that logs, one call at a time (under the log's
/// lock): keep it quick, and do not log or change the log output from inside it. An empty callback
/// goes back to stderr.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;
VSTREAM_EXPORT void SetLogCallback(LogCallback callback);
/// Back to stderr.
VSTREAM_EXPORT void ResetLogOutput();

}  // namespace vstream

#define VSTREAM_LOG_TRACE(...) ::vstream::Logger().trace(__VA_ARGS__)
#define VSTREAM_LOG_DEBUG(...) ::vstream::Logger().debug(__VA_ARGS__)
#define VSTREAM_LOG_INFO(...) ::vstream::Logger().info(__VA_ARGS__)
#define VSTREAM_LOG_WARN(...) ::vstream::Logger().warn(__VA_ARGS__)
#define VSTREAM_LOG_ERROR(...) ::vstream::Logger().error(__VA_ARGS__)
