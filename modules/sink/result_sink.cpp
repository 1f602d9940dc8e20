#include "vstream/modules/result_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "vstream/registry.hpp"
#include "vstream/stream_id.hpp"
#include "vstream/text.hpp"

namespace vstream {

struct ResultSink::File {
  ~File() {
    if (handle != nullptr && handle != stdout) std::fclose(handle);
  }
  std::FILE* handle = nullptr;
  std::mutex mutex;  // one line at a time
};

namespace {
// Opens `path` for writing without following a symbolic link planted there (O_NOFOLLOW: the
// check and the open are one system call, so nothing can swap the file in between).
Status OpenOutput(const std::string& path, bool append, std::FILE** handle) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC);
  const int fd = ::open(path.c_str(), flags, 0666);
  if (fd < 0) {
    const int error = errno;
    if (error == ELOOP) {
      return {StatusCode::kInvalidArgument, "'" + Printable(path, 512) +
                                                "' is a symbolic link; ResultSink does not write through links "
                                                "(remove it or choose another path)"};
    }
    return {StatusCode::kRuntimeError, "cannot open '" + Printable(path, 512) + "' for writing: " + std::strerror(error)};
  }
  *handle = ::fdopen(fd, append ? "a" : "w");
  if (*handle == nullptr) {
    const int error = errno;
    ::close(fd);
    return {StatusCode::kRuntimeError, "cannot open '" + Printable(path, 512) + "' for writing: " + std::strerror(error)};
  }
  return Status::Ok();
}
}  // namespace

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
Feature vectors are not written. Folders in `path` are created as needed.

With `{stream}` in `path`, each stream's file is opened at its first frame and closed at its EOS,
so a finished stream holds no file open; a stream id that comes back later in the same run
appends to the file it wrote before. Stream ids cannot leave the folder (see the stream id rules
in config.md), and a frame whose id would is a frame error. A symbolic link at an output path is
not followed: opening it is an error (`'PATH' is a symbolic link ...`).)"};
}

Status ResultSink::Open(const ModuleParams& params) {
  path_ = params.GetString("path");
  append_ = params.GetBool("append");
  flush_ = params.GetBool("flush");
  if (path_ != "-" && std::filesystem::path(path_).is_relative()) path_ = (params.base_dir() / path_).string();
  per_stream_ = path_.find("{stream}") != std::string::npos;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    written_.clear();
  }
  if (!per_stream_) {
    std::shared_ptr<File> file;
    if (Status s = FileFor("", &file); !s) return Fail("path: " + s.message());
  }
  return {};
}

void ResultSink::Close() {
  std::lock_guard<std::mutex> lock(mutex_);
  files_.clear();
}

Status ResultSink::FileFor(const std::string& stream_id, std::shared_ptr<File>* out) {
  std::string path = path_;
  if (per_stream_) {
    // Stream ids are checked where streams start; this keeps an id from elsewhere (a frame made
    // by a custom module) from naming a path outside the folder all the same.
    if (Status s = CheckStreamId(stream_id); !s) return s;
    for (size_t at; (at = path.find("{stream}")) != std::string::npos;) path.replace(at, 8, stream_id);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto& file = files_[path];
  if (file) {
    *out = file;
    return Status::Ok();
  }
  auto opened = std::make_shared<File>();
  Status status;
  if (path == "-") {
    opened->handle = stdout;
  } else {
    std::error_code ignored;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ignored);
    // A file this sink wrote before in this run (a stream id that came back) is appended to.
    const bool append = append_ || written_.count(path) != 0;
    status = OpenOutput(path, append, &opened->handle);
  }
  if (!status) {
    files_.erase(path);
    return status;
  }
  written_.insert(path);
  file = std::move(opened);
  *out = file;
  return Status::Ok();
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
  if (frame->IsEos()) return per_stream_ ? EndFile(frame->stream_id) : Status::Ok();
  std::shared_ptr<File> file;
  if (Status s = FileFor(frame->stream_id, &file); !s) {
    return Fail("stream '" + Printable(frame->stream_id) + "': " + s.message(), s.code());
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

Status ResultSink::EndFile(const std::string& stream_id) {
  if (!CheckStreamId(stream_id)) return {};  // no file was ever opened for it
  std::string path = path_;
  for (size_t at; (at = path.find("{stream}")) != std::string::npos;) path.replace(at, 8, stream_id);
  std::shared_ptr<File> ending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = files_.find(path);
    if (it == files_.end()) return {};
    ending = std::move(it->second);
    files_.erase(it);
  }
  // The stream's frames all came before its EOS (same worker), so nothing writes to it any more.
  std::lock_guard<std::mutex> lock(ending->mutex);
  const bool written = std::fflush(ending->handle) == 0;
  const bool closed = std::fclose(ending->handle) == 0;
  ending->handle = nullptr;
  if (!written || !closed) return Fail("writing the results to '" + Printable(path, 512) + "' failed (disk full?)");
  return {};
}

VSTREAM_REGISTER_MODULE(ResultSink);

}  // namespace vstream
