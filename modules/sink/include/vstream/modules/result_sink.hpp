// ResultSink: writes one JSON line per frame (end-of-stream frames excluded) with its detections.
//
// The line format is a stable contract:
//   {"stream_id": "cam1", "frame_index": 41, "pts": 1.64, "width": 1280, "height": 720,
//    "objects": [{"label": "face", "label_id": 0, "score": 0.93, "box": [x, y, w, h],
//                 "track_id": 7, "attributes": {...}}]}
// with `box` in pixels of the original frame and `pts` in seconds. `path` "-" writes to stdout;
// a path with "{stream}" writes one file per stream.
//
//   "results": { "class_name": "ResultSink", "custom_params": { "path": "out/detections.jsonl" } }
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT ResultSink : public Module {
 public:
  using Module::Module;
  ~ResultSink() override;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override;
  Status Process(FramePtr frame) override;

  /// The JSON line for `frame` (without the newline).
  static std::string ToJsonLine(const Frame& frame);

 private:
  struct File;
  Status FileFor(const std::string& stream_id, std::shared_ptr<File>* file);
  Status EndFile(const std::string& stream_id);  // a stream's EOS: its own file closes

  std::string path_;
  bool flush_ = false;
  bool append_ = false;
  bool per_stream_ = false;                                 // {stream} in path_
  std::mutex mutex_;                                        // guards files_ and written_
  std::map<std::string, std::shared_ptr<File>> files_;      // open files, by path
  std::set<std::string> written_;                           // every path opened in this run
};

}  // namespace vstream
