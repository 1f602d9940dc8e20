#include "vstream/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "log_internal.hpp"
#include "text_util.hpp"

namespace vstream {
namespace {
std::optional<spdlog::level::level_enum> LevelFromName(std::string_view name) {
  const std::string lower = detail::ToLower(detail::Trim(name));
  if (lower == "trace") return spdlog::level::trace;
  if (lower == "debug") return spdlog::level::debug;
  if (lower == "info") return spdlog::level::info;
  if (lower == "warn" || lower == "warning") return spdlog::level::warn;
  if (lower == "error") return spdlog::level::err;
  if (lower == "off" || lower == "none") return spdlog::level::off;
  return std::nullopt;
}

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}
}  // namespace

namespace detail {
spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto made = std::make_shared<spdlog::logger>("vstream", sink);
    made->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    made->set_level(spdlog::level::info);
    if (const char* env = std::getenv("VSTREAM_LOG_LEVEL")) {
      if (auto level = LevelFromName(env)) {
        made->set_level(*level);
      } else {
        made->warn("VSTREAM_LOG_LEVEL='{}' is not a level (trace, debug, info, warn, error, off); using info", env);
      }
    }
    return made;
  }();
  return *logger;
}
}  // namespace detail

bool SetLogLevel(std::string_view level) {
  auto parsed = LevelFromName(level);
  if (!parsed) return false;
  detail::Logger().set_level(*parsed);
  return true;
}

void SetLogLevel(LogLevel level) { detail::Logger().set_level(ToSpd(level)); }

void Log(LogLevel level, std::string_view message) { detail::Logger().log(ToSpd(level), "{}", message); }

}  // namespace vstream
