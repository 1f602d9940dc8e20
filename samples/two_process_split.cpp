// A pipeline split across two processes with ModuleIPC, launched from an application.
//
// Run without arguments, this program starts itself twice with posix_spawn (spawn semantics: a
// fresh process, never a fork of one that already runs pipeline threads): a "decode" process
// (DataSource -> Stamp -> ModuleIPC client) and a "detect" process (ModuleIPC server -> BlazeFace
// -> FaceCounter). Frames cross through shared memory; the Stamp module's user data crosses too,
// because both processes register a codec for its type. The parent waits for both.
//
//   build/samples/sample_two_process_split [video]   (default: opencv-doc's Megamind.avi)
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <vstream/vstream.hpp>

extern char** environ;

namespace {

// What the decoding process attaches to each frame: where it was decoded.
struct DecodedBy {
  int pid = 0;
};

// Registered in both processes (both run this binary): how DecodedBy crosses.
const bool kCodec = vstream::RegisterUserDataCodec<DecodedBy>(
    "sample.decoded_by", [](const DecodedBy& d) { return std::to_string(d.pid); },
    [](std::string_view bytes, DecodedBy* d) {
      d->pid = std::atoi(std::string(bytes).c_str());
      return d->pid > 0;
    });

class Stamp : public vstream::Module {
 public:
  using Module::Module;
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {}
  vstream::Status Process(vstream::FramePtr frame) override {
    frame->data.Set("decoded_by", DecodedBy{static_cast<int>(::getpid())});
    return {};
  }
};
VSTREAM_REGISTER_MODULE(Stamp);

class FaceCounter : public vstream::Module {
 public:
  using Module::Module;
  vstream::Status Open(const vstream::ModuleParams&) override { return {}; }
  void Close() override {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [stream, faces] : faces_) {
      std::printf("%d faces in %s (%d frames, decoded by process %d, detected in process %d)\n", faces, stream.c_str(),
                  frames_[stream], decoder_pid_, static_cast<int>(::getpid()));
    }
  }
  vstream::Status Process(vstream::FramePtr frame) override {
    if (frame->IsEos()) return {};
    std::lock_guard<std::mutex> lock(mutex_);
    faces_[frame->stream_id] += static_cast<int>(frame->objects.size());
    ++frames_[frame->stream_id];
    if (const auto* by = frame->data.Get<DecodedBy>("decoded_by")) decoder_pid_ = by->pid;
    return {};
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> faces_;   // guarded by mutex_
  std::map<std::string, int> frames_;  // guarded by mutex_
  int decoder_pid_ = 0;                // guarded by mutex_
};
VSTREAM_REGISTER_MODULE(FaceCounter);

int RunPart(const std::string& part, const std::string& socket, const std::string& video) {
  const std::string decode = R"({
    "source": { "class_name": "DataSource", "next_modules": ["stamp"],
                "custom_params": { "inputs": ["megamind=)" + video + R"("] } },
    "stamp": { "class_name": "Stamp", "next_modules": ["ipc"] },
    "ipc": { "class_name": "ModuleIPC",
             "custom_params": { "ipc_type": "client", "socket_address": ")" + socket + R"(", "max_cachedframe_size": 16 } } })";
  const std::string detect = R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["detect"],
             "custom_params": { "ipc_type": "server", "socket_address": ")" + socket + R"(" } },
    "detect": { "class_name": "Inferencer", "parallelism": 2, "next_modules": ["count"],
                "custom_params": {
                  "model_path": "~/.cache/vstream/models/blazeface/face_detection_front_128x128_barracuda.onnx",
                  "postproc_name": "blazeface", "resize": "letterbox", "scale": 0.0078431373, "mean": [1, 1, 1] } },
    "count": { "class_name": "FaceCounter" } })";
  vstream::Pipeline pipeline(part);
  if (vstream::Status s = pipeline.BuildFromString(part == "decode" ? decode : detect); !s) {
    std::fprintf(stderr, "%s: %s\n", part.c_str(), s.message().c_str());
    return 2;
  }
  if (vstream::Status s = pipeline.Start(); !s) {
    std::fprintf(stderr, "%s: %s\n", part.c_str(), s.message().c_str());  // e.g. run scripts/fetch_models.sh
    return 1;
  }
  pipeline.WaitForStreams();  // the server waits until its client has said goodbye
  return pipeline.Stop() ? 0 : 1;
}

pid_t Spawn(const std::string& part, const std::string& socket, const std::string& video) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string a = part, b = socket, c = video;
  char* argv[] = {self.data(), a.data(), b.data(), c.data(), nullptr};
  pid_t pid = -1;
  return posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ) == 0 ? pid : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4) return RunPart(argv[1], argv[2], argv[3]);  // a child: "decode" or "detect"
  const std::string video = argc > 1 ? argv[1] : "/usr/share/doc/opencv-doc/examples/data/Megamind.avi";
  const std::string socket = "sample_split_" + std::to_string(::getpid());  // a bare name: the per-user runtime folder
  // Either may start first; the client waits for the server.
  const pid_t decode = Spawn("decode", socket, video);
  const pid_t detect = Spawn("detect", socket, video);
  if (decode < 0 || detect < 0) {
    std::perror("posix_spawn");
    return 1;
  }
  int failed = 0;
  for (pid_t pid : {decode, detect}) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    failed += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }
  return failed == 0 ? 0 : 1;
}
