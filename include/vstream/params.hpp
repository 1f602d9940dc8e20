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
#include <ostream>
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
  kList,    // a JSON array (its items are never split), or a string of comma-separated items
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

/// One custom_params value as the config gave it: a scalar (a string; numbers and booleans spelled
/// out as text), a list (a JSON array of scalars) or a JSON value (an object, or an array with an
/// item that is not a scalar). A list's items are kept as they are: an item that contains a comma
/// stays one item. A scalar given to a list parameter is split at commas. A JSON value is kept as
/// its JSON text and only a class that accepts other params (ModuleDescription::other_params) takes
/// one, for a key it does not declare: a declared parameter never receives one.
class ParamValue {
 public:
  ParamValue() = default;
  ParamValue(std::string text) : text_(std::move(text)) {}  // NOLINT(google-explicit-constructor): a scalar
  ParamValue(const char* text) : text_(text) {}             // NOLINT(google-explicit-constructor)
  /// A list (a JSON array of scalars); `json`, when given, is the array's JSON text as the config
  /// wrote it (numbers stay numbers there), for a class that passes the value on whole.
  static ParamValue List(std::vector<std::string> items, std::string json = {}) {
    ParamValue value;
    value.is_list_ = true;
    for (size_t i = 0; i < items.size(); ++i) value.text_ += (i == 0 ? "" : ", ") + items[i];
    value.items_ = std::move(items);
    value.json_ = std::move(json);
    return value;
  }
  /// A JSON value that is neither a scalar nor a list of scalars, as its (compact) JSON text.
  static ParamValue Json(std::string json) {
    ParamValue value;
    value.is_json_ = true;
    value.text_ = json;
    value.json_ = std::move(json);
    return value;
  }

  bool is_list() const { return is_list_; }
  bool is_json() const { return is_json_; }
  /// A scalar's text; a list's items joined by ", " (for messages and logs only); a JSON value's text.
  const std::string& text() const { return text_; }
  /// A list's items; empty for a scalar and a JSON value.
  const std::vector<std::string>& items() const { return items_; }
  /// A JSON value's text, or a list's JSON text when the config gave it; empty otherwise.
  const std::string& json() const { return json_; }

  friend bool operator==(const ParamValue& a, const ParamValue& b) {
    return a.is_list_ == b.is_list_ && a.is_json_ == b.is_json_ &&
           (a.is_list_ ? a.items_ == b.items_ : a.text_ == b.text_);
  }
  friend bool operator!=(const ParamValue& a, const ParamValue& b) { return !(a == b); }
  friend std::ostream& operator<<(std::ostream& out, const ParamValue& value) {
    return value.is_list_ ? out << '[' << value.text_ << ']' : out << value.text_;
  }

 private:
  bool is_list_ = false;
  bool is_json_ = false;
  std::string text_;
  std::vector<std::string> items_;
  std::string json_;
};

/// A module's custom_params: name -> value. Converts from a map of texts (every value a scalar), so
/// `{{"frames", "40"}}` and a `std::map<std::string, std::string>` work wherever it is taken.
class VSTREAM_EXPORT ParamValues : public std::map<std::string, ParamValue> {
 public:
  using std::map<std::string, ParamValue>::map;
  ParamValues() = default;
  ParamValues(const std::map<std::string, std::string>& texts);  // NOLINT(google-explicit-constructor)
  /// Every value as text (a list's items joined by ", "): what ModuleRegistry's `choose` reads.
  std::map<std::string, std::string> Texts() const;
};

/// What ModuleParams::Validate does with a custom_params key the module does not declare.
enum class OtherParams {
  kReject,  // a config error naming the key, with a did-you-mean (every module class but a few)
  kAccept,  // kept unchecked, for ModuleParams::others() (a class with ModuleDescription::other_params)
};

/// Validated parameter values of one module instance. Getters of a declared key with a value never
/// fail; a string or list parameter without default reads as empty, other types without default are
/// unset until the config sets them (check Has()). Keys the module does not declare, which only a
/// class that accepts other params gets (OtherParams::kAccept), are read through others().
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

  /// Checks `raw` against `specs`, fills defaults and resolves kPath values against `base_dir`. A
  /// list parameter takes a list value as it is, or splits a scalar at commas (and line breaks);
  /// any other parameter takes only a scalar (never a JSON value). A key `specs` does not declare is
  /// an error, or with OtherParams::kAccept kept as it is for others(). On error, returns
  /// kInvalidConfig with one line per problem, each starting with "module '<module>'".
  static Status Validate(const std::string& module, const std::vector<ParamSpec>& specs, const ParamValues& raw,
                         const std::filesystem::path& base_dir, ModuleParams* out,
                         OtherParams others = OtherParams::kReject);

  bool Has(const std::string& key) const;  // declared and set (explicitly or by default)
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  std::filesystem::path GetPath(const std::string& key) const;
  std::vector<std::string> GetList(const std::string& key) const;
  /// Every set value of a declared key as text (a list's items joined by ", "), for logging and
  /// `vstream inspect`.
  const std::map<std::string, std::string>& values() const { return values_; }
  /// The custom_params the module does not declare, as the config gave them (unchecked, paths not
  /// resolved): empty unless validated with OtherParams::kAccept.
  const ParamValues& others() const { return others_; }
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
  std::map<std::string, std::vector<std::string>> lists_;  // the items of every set list parameter
  ParamValues others_;                                     // undeclared keys, with OtherParams::kAccept
  std::filesystem::path base_dir_;
  mutable ReportedProblems reported_;
};

/// Parses the boolean spellings above; nullopt when `text` is none of them.
VSTREAM_EXPORT std::optional<bool> ParseBool(const std::string& text);

}  // namespace vstream
