#include "vstream/modules/result_sink.hpp"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "vstream/registry.hpp"

namespace vstream {

struct ResultSink::File {
  ~File() {
    if (handle != nullptr && handle != stdout) std::fclose(handle);
  }
  std::FILE* handle = nullptr;
  std::mutex mutex;  // one line at a time
};

ResultSink::~ResultSink() { Close(); }

ModuleDescription ResultSink::Describe() {
  return {"Writes one JSON line per frame with its detections (JSON Lines), to a file or stdout.",
          {ParamSpec::String("path", "-",
                             "output file; \"-\" is stdout; \"{stream}\" in the path writes one file per stream "
                             "(relative paths start at the config's folder)"),
           ParamSpec::Bool("append", false, "append to existing files instead of replacing them"),
           ParamSpec::Bool("flush", false, "flush after every line (for tailing the file live)")},
          R"(One line per frame, in each stream's order (lines of different streams interleave when they
share a file); end-of-stream frames write nothing:

```json
{"stream_id": "cam1", "frame_index": 41, "pts": 1.64, "width": 1280, "height": 720,
 "objects": [{"label": "face", "label_id": 0, "score": 0.93, "box": [412.0, 96.5, 120.0, 151.2],
              "track_id": 7, "attributes": {}}]}
```

`pts` is in seconds; `box` is `[x, y, width, height]` in pixels of the frame as decoded; `track_id`
is -1 until a Tracker assigns one; `attributes` holds what secondary models wrote (strings).
Feature vectors are not written. Folders in `path` are created as needed.)"};
}

Status ResultSink::Open(const ModuleParams& params) {
  path_ = params.GetString("path");
  append_ = params.GetBool("append");
  flush_ = params.GetBool("flush");
  if (path_ != "-" && std::filesystem::path(path_).is_relative()) path_ = (params.base_dir() / path_).string();
  if (path_.find("{stream}") == std::string::npos && FileFor("") == nullptr) {
    return Fail("path: cannot open '" + path_ + "' for writing");
  }
  return {};
}

void ResultSink::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  files_.clear();
}

ResultSink::File* ResultSink::FileFor(const std::string& stream_id) {
  std::string path = path_;
  if (const size_t at = path.find("{stream}"); at != std::string::npos) path.replace(at, 8, stream_id);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& file = files_[path];
  if (file) return file.get();
  auto opened = std::make_shared<File>();
  if (path == "-") {
    opened->handle = stdout;
  } else {
    std::error_code ignored;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    opened->handle = std::fopen(path.c_str(), append_ ? "a" : "w");
  }
  if (opened->handle == nullptr) {
    files_.erase(path);
    return nullptr;
  }
  file = std::move(opened);
  return file.get();
}

std::string ResultSink::ToJsonLine(const Frame& frame) {
  nlohmann::ordered_json line;
  line["stream_id"] = frame.stream_id;
  line["frame_index"] = frame.frame_index;
  line["pts"] = frame.timestamp();
  const int width = frame.image.width();
  const int height = frame.image.height();
  line["width"] = width;
  line["height"] = height;
  auto objects = nlohmann::ordered_json::array();
  for (const auto& o : frame.objects) {
    nlohmann::ordered_json object;
    object["label"] = o.label;
    object["label_id"] = o.label_id;
    object["score"] = o.score;
    object["box"] = {o.box.x * static_cast<float>(width), o.box.y * static_cast<float>(height),
                     o.box.w * static_cast<float>(width), o.box.h * static_cast<float>(height)};
    object["track_id"] = o.track_id;
    object["attributes"] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : o.attributes) object["attributes"][key] = value;
    objects.push_back(std::move(object));
  }
  line["objects"] = std::move(objects);
  return line.dump();
}

Status ResultSink::Process(FramePtr frame) {
  if (frame->IsEos()) return {};
  File* file = FileFor(frame->stream_id);
  if (file == nullptr) {
    return Fail("cannot open the output for stream '" + frame->stream_id + "'");
  }
  std::string line;
  {
    auto lock = frame->LockObjects();
    line = ToJsonLine(*frame);
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(file->mutex);
  if (std::fwrite(line.data(), 1, line.size(), file->handle) != line.size()) {
    return Fail("writing the results failed (disk full?)");
  }
  if (flush_) std::fflush(file->handle);
  return {};
}

VSTREAM_REGISTER_MODULE(ResultSink);

}  // namespace vstream
