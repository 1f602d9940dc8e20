// CNStream compatibility (private to the core): CNStream's spellings of module keys and values,
// translated into vstream's while a config is read, so a CNStream config loads with only its model
// and media paths changed.
//
// One table per vstream class (DataSource, Inferencer, Tracker, Osd, Encoder, ModuleIPC) says what
// each of CNStream's custom_params keys for that class becomes: a vstream key, its value converted
// where CNStream writes it differently; a key that does not apply here (an MLU buffer count, a
// device for an encoder that runs on the CPU), accepted with one info line; a key for a feature
// vstream does not have (mosaic output, a logo), accepted with one warning, since the result
// differs from CNStream's; or a config error that says what to write instead. Keys the module's
// class declares itself are vstream's and stay as they are, except for CNStream's values of them
// (decoder_type "mlu"). Each line is logged once per module and key each time a config is read,
// after the whole config has been read without error.
//
// Class names: the CNStream classes that map one to one (Encode, VEncode, Inferencer2) are aliases
// in the module registry (VSTREAM_REGISTER_MODULE_WITH_ALIASES); a CNStream class vstream does not
// have (RtspSink, Displayer, ...) is an error naming the closest class (CnstreamClassAdvice).
//
//   CnstreamNotes notes;
//   TranslateCnstreamModule(&module, &notes, &errors);  // once the module is read
//   if (errors.empty()) notes.Log();                    // once the whole config is read
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "vstream/config.hpp"
#include "vstream/log.hpp"

namespace vstream::detail {

/// A CNStream spelling that was accepted but not (fully) honoured, for the log.
struct CnstreamNote {
  std::string module;  // the module's name in the expanded config ("sub/module" inside a subgraph)
  std::string key;
  LogLevel level = LogLevel::kInfo;  // kInfo: does not apply here; kWarn: not supported, the result differs
  std::string text;                  // what follows "module 'NAME': "
};

/// The notes of one config read: at most one per module and key.
class CnstreamNotes {
 public:
  void Add(const std::string& module, const std::string& key, LogLevel level, std::string text);
  /// Puts `prefix` before the module names of the notes from index `first` on (a subgraph's modules
  /// are renamed "NAME/module" once it is read).
  void Prefix(size_t first, const std::string& prefix);
  size_t size() const { return notes_.size(); }
  const std::vector<CnstreamNote>& notes() const { return notes_; }
  /// Logs each note, one line each, at its level.
  void Log() const;

 private:
  std::vector<CnstreamNote> notes_;
  std::set<std::string> seen_;  // "module\nkey"
};

/// Translates the custom_params of `module` (and the module settings a CNStream key decides, such
/// as an Inferencer's parallelism from engine_num) from CNStream's spelling into vstream's, for the
/// vstream class `module->class_name` names. Problems go to `errors`, one line each, starting with
/// "module 'NAME': ".
void TranslateCnstreamModule(ModuleConfig* module, CnstreamNotes* notes, std::vector<std::string>* errors);

/// A module-level key CNStream writes and vstream does not have (`show_perf_info`): true when `key`
/// is one, after adding its note or its error. `text` is the value as text, or nullptr when it is
/// not a scalar.
bool CnstreamModuleKey(const std::string& module, const std::string& key, const std::string* text,
                       CnstreamNotes* notes, std::vector<std::string>* errors);

/// The error for a top-level entry that has no class_name but keys such as "url", "type" or
/// "include" (`keys`), which are not module settings; "" when `keys` holds none of them.
std::string CnstreamForeignEntry(const std::string& name, const std::vector<std::string>& keys);

/// True for the custom_params keys whose CNStream value may be a JSON object (kept as its text).
bool CnstreamTakesJsonText(std::string_view key);

/// For a class name that is not registered: the message for a CNStream class vstream does not
/// have, naming the closest class and what to write; "" for any other name.
std::string CnstreamClassAdvice(std::string_view class_name);

}  // namespace vstream::detail
