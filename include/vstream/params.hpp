// Declared module parameters: what a module accepts, validated before anything starts.
//
// A module describes each parameter once (name, type, default, required, range or choices, and a
// sentence for the reference docs). The config's custom_params are checked against that list:
// unknown keys, missing required values, wrong types and out-of-range values are config errors
// that name the module and the key. Open() then reads typed, already-valid values.
//
//   static std::vector<vstream::ParamSpec> Params() {
//     return {vstream::ParamSpec::Int("batch_size", 1, "frames per inference call").Range(1, 256)};
//   }
//   int batch = static_cast<int>(params.GetInt("batch_size"));
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vstream/export.hpp"
#include "vstream/status.hpp"

namespace vstream {

enum class ParamType {
  kString,
  kInt,
  kDouble,
  kBool,    // true/false, 1/0, yes/no, on/off (strings or JSON booleans)
  kEnum,    // one of `choices`
  kPath,    // a file or folder: "~/" and ${NAME} (environment) expand; relative values are resolved
            // against the config file's folder
  kList,    // a JSON array of strings, or a comma-separated string
};

VSTREAM_EXPORT std::string_view ParamTypeName(ParamType type);

struct VSTREAM_EXPORT ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string default_value;  // as text; empty with required=false means "not set"
  bool required = false;
  std::string description;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // kEnum only

  static ParamSpec String(std::string name, std::string default_value, std::string description);
  static ParamSpec Int(std::string name, int64_t default_value, std::string description);
  static ParamSpec Double(std::string name, double default_value, std::string description);
  static ParamSpec Bool(std::string name, bool default_value, std::string description);
  static ParamSpec Enum(std::string name, std::string default_value, std::vector<std::string> choices,
                        std::string description);
  static ParamSpec Path(std::string name, std::string default_value, std::string description);
  static ParamSpec List(std::string name, std::string default_value, std::string description);

  ParamSpec& Required() { required = true; return *this; }
  ParamSpec& Range(double lo, double hi) { min = lo; max = hi; return *this; }
  ParamSpec& Min(double lo) { min = lo; return *this; }
};

/// Validated parameter values of one module instance. Getters of a declared key with a value never
/// fail; a string or list parameter without default reads as empty, other types without default are
/// unset until the config sets them (check Has()).
///
/// The getters never throw. Reading an undeclared key, a declared key without a value, or a value
/// as the wrong type (GetInt of "abc") is a bug in the module: the getter returns the type's empty
/// value ("", 0, 0.0, false, an empty path, an empty list) and logs an error that names the module
/// and the key and says what to fix (declare the key in the module's Describe(), or check Has()).
/// Each (key, problem) is logged once per ModuleParams object. Getters are safe to call from
/// several threads at once.
class VSTREAM_EXPORT ModuleParams {
 public:
  ModuleParams() = default;

  /// Checks `raw` (key -> text; list values joined by '\n') against `specs`, fills defaults and
  /// resolves kPath values against `base_dir`. On error, returns kInvalidConfig with one line per
  /// problem, each starting with "module '<module>'".
  static Status Validate(const std::string& module, const std::vector<ParamSpec>& specs,
                         const std::map<std::string, std::string>& raw,
                         const std::filesystem::path& base_dir, ModuleParams* out);

  bool Has(const std::string& key) const;  // declared and set (explicitly or by default)
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  std::filesystem::path GetPath(const std::string& key) const;
  std::vector<std::string> GetList(const std::string& key) const;
  /// Every set value as text, for logging and `vstream inspect`.
  const std::map<std::string, std::string>& values() const { return values_; }
  /// The folder of the config file that declared the module: where relative paths start.
  const std::filesystem::path& base_dir() const { return base_dir_; }

 private:
  // Problems already logged, as "key\nproblem". A copy starts with none: it is another object.
  class ReportedProblems {
   public:
    ReportedProblems() = default;
    ReportedProblems(const ReportedProblems&) {}
    ReportedProblems& operator=(const ReportedProblems&) { return *this; }
    bool First(const std::string& problem);  // true the first time `problem` is seen

   private:
    std::mutex mutex_;
    std::set<std::string> seen_;  // guarded by mutex_
  };

  /// The value of `key`, or nullptr after logging why there is none (`getter` names the caller).
  const std::string* Find(const std::string& key, std::string_view getter) const;
  /// Logs that `text` (the value of `key`) is not what `getter` reads.
  void ReportWrongType(const std::string& key, const std::string& text, std::string_view getter) const;
  void Report(const std::string& key, std::string_view problem, const std::string& message) const;

  std::string module_;                         // for messages; empty when not made by Validate
  std::map<std::string, ParamType> declared_;  // every declared key and its type
  std::map<std::string, std::string> values_;
  std::filesystem::path base_dir_;
  mutable ReportedProblems reported_;
};

/// Parses the boolean spellings above; nullopt when `text` is none of them.
VSTREAM_EXPORT std::optional<bool> ParseBool(const std::string& text);

}  // namespace vstream
