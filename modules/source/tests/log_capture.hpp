// Collects vstream's log lines (SetLogCallback) while it lives; back to stderr afterwards.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vstream/log.hpp"

namespace vstream::test {

class LogCapture {
 public:
  explicit LogCapture(LogLevel level = LogLevel::kInfo) {
    SetLogLevel(level);
    SetLogCallback([this](LogLevel line_level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(line_level, std::string(line));
      changed_.notify_all();
    });
  }
  ~LogCapture() {
    ResetLogOutput();
    SetLogLevel(LogLevel::kInfo);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::pair<LogLevel, std::string>> Lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  /// Lines that contain `text`.
  std::vector<std::pair<LogLevel, std::string>> Containing(const std::string& text) const {
    std::vector<std::pair<LogLevel, std::string>> out;
    for (auto& line : Lines()) {
      if (line.second.find(text) != std::string::npos) out.push_back(line);
    }
    return out;
  }
  /// Waits until a line contains `text`.
  bool WaitFor(const std::string& text, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const auto& line : lines_) {
        if (line.second.find(text) != std::string::npos) return true;
      }
      return false;
    });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<LogLevel, std::string>> lines_;  // guarded by mutex_
};

}  // namespace vstream::test
