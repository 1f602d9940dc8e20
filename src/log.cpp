#include "vstream/log.hpp"

#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "vstream/text.hpp"

namespace vstream {
namespace {
std::optional<spdlog::level::level_enum> LevelFromName(std::string_view name) {
  const std::string lower = ToLower(Trim(name));
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

LogLevel FromSpd(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return LogLevel::kTrace;
    case spdlog::level::debug: return LogLevel::kDebug;
    case spdlog::level::info: return LogLevel::kInfo;
    case spdlog::level::warn: return LogLevel::kWarn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::kError;
    default: return LogLevel::kOff;
  }
}

/// Hands each line's text to a user function. Calls are serialized by the dist_sink above it.
class CallbackSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit CallbackSink(LogCallback callback) : callback_(std::move(callback)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    callback_(FromSpd(msg.level), std::string_view(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  LogCallback callback_;
};

std::shared_ptr<spdlog::sinks::sink> StderrSink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  sink->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  return sink;
}

/// The logger's only sink; what it forwards to can change while other threads log.
const std::shared_ptr<spdlog::sinks::dist_sink_mt>& Output() {
  static auto output = std::make_shared<spdlog::sinks::dist_sink_mt>(std::vector<spdlog::sink_ptr>{StderrSink()});
  return output;
}

std::shared_ptr<spdlog::logger> MakeLogger() {
  auto made = std::make_shared<spdlog::logger>("vstream", Output());
  made->set_level(spdlog::level::info);
  if (const char* env = std::getenv("VSTREAM_LOG_LEVEL")) {
    if (auto level = LevelFromName(env)) {
      made->set_level(*level);
    } else {
      made->warn("VSTREAM_LOG_LEVEL='{}' is not a level (trace, debug, info, warn, error, off); using info", env);
    }
  }
  return made;
}
}  // namespace

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = MakeLogger();
  return *logger;
}

bool SetLogLevel(std::string_view level) {
  auto parsed = LevelFromName(level);
  if (!parsed) return false;
  Logger().set_level(*parsed);
  return true;
}

void SetLogLevel(LogLevel level) { Logger().set_level(ToSpd(level)); }

void Log(LogLevel level, std::string_view message) { Logger().log(ToSpd(level), "{}", message); }

void SetLogSink(std::shared_ptr<spdlog::sinks::sink> sink) {
  Output()->set_sinks({sink != nullptr ? std::move(sink) : StderrSink()});
}

void SetLogCallback(LogCallback callback) {
  if (!callback) return ResetLogOutput();
  Output()->set_sinks({std::make_shared<CallbackSink>(std::move(callback))});
}

void ResetLogOutput() { Output()->set_sinks({StderrSink()}); }

}  // namespace vstream
