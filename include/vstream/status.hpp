// Status: the result of an operation that can fail, with a message that tells the user what to fix.
//
// vstream returns Status (never throws) across its public API. A default-constructed Status is OK;
// an error carries a code and a message. Messages name the thing at fault and the expected form.
// Accessors that return a value instead (ModuleParams::GetInt, ...) do not throw either: misuse
// returns the type's empty value and logs an error that says what to fix.
//
//   vstream::Status s = pipeline.BuildFromFile("pipeline.json");
//   if (!s) { std::cerr << s.message() << "\n"; return 1; }
#pragma once

#include <string>
#include <utility>

namespace vstream {

enum class StatusCode {
  kOk = 0,
  kInvalidConfig,    // the config (JSON, graph, or a parameter) is wrong
  kInvalidArgument,  // an API argument is wrong (unknown stream, duplicate id, ...)
  kNotFound,         // a file, module or stream does not exist
  kFailedState,      // the call does not fit the object's state (e.g. AddSource before Start)
  kRuntimeError,     // something failed while running (I/O, decoder, model, ...)
  kUnavailable,      // a resource is not available on this machine (device, codec, ...)
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace vstream
