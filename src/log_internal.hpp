// The library's spdlog logger (private). Use the VS_LOG_* macros inside vstream.
#pragma once

#include <spdlog/spdlog.h>

namespace vstream::detail {
spdlog::logger& Logger();
}  // namespace vstream::detail

#define VS_LOG_TRACE(...) ::vstream::detail::Logger().trace(__VA_ARGS__)
#define VS_LOG_DEBUG(...) ::vstream::detail::Logger().debug(__VA_ARGS__)
#define VS_LOG_INFO(...) ::vstream::detail::Logger().info(__VA_ARGS__)
#define VS_LOG_WARN(...) ::vstream::detail::Logger().warn(__VA_ARGS__)
#define VS_LOG_ERROR(...) ::vstream::detail::Logger().error(__VA_ARGS__)
