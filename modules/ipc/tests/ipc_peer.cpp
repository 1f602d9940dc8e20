#include "ipc_peer.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "vstream/vstream.hpp"

extern char** environ;

namespace vstream::test {
namespace {

// A user-data type with a codec (it must cross) and one without (it must stay behind).
struct Tag {
  int number = 0;
  std::string text;
};
struct LocalOnly {
  int number = 0;
};

const bool kTagCodec = RegisterUserDataCodec<Tag>(
    "test.tag", [](const Tag& tag) { return std::to_string(tag.number) + ":" + tag.text; },
    [](std::string_view bytes, Tag* tag) {
      const size_t colon = bytes.find(':');
      if (colon == std::string_view::npos) return false;
      tag->number = std::stoi(std::string(bytes.substr(0, colon)));
      tag->text = std::string(bytes.substr(colon + 1));
      return true;
    });

// Adds an object and user data to every frame, all derived from the frame's index.
class Decorate : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() { return {"test: adds objects and user data", {}}; }
  Status Open(const ModuleParams&) override { return {}; }
  void Close() override {}
  Status Process(FramePtr frame) override {
    if (frame->IsEos()) return {};
    const auto i = frame->frame_index;
    DetectedObject object;
    object.box = {0.01f * static_cast<float>(i % 50), 0.25f, 0.125f, 0.5f};
    object.label = "thing";
    object.label_id = static_cast<int>(i % 7);
    object.score = 0.5f + 0.001f * static_cast<float>(i % 100);
    object.track_id = i;
    object.attributes["parity"] = i % 2 == 0 ? "even" : "odd";
    object.features["f"] = {static_cast<float>(i), -1.5f};
    frame->objects.push_back(object);
    frame->data.Set("note", frame->stream_id + "#" + std::to_string(i));
    frame->data.Set("weight", static_cast<double>(i) * 0.5);
    frame->data.Set("tag", Tag{static_cast<int>(i), "t" + std::to_string(i * 3)});
    frame->data.Set("local", LocalOnly{1});
    return {};
  }
};
VSTREAM_REGISTER_MODULE(Decorate);

uint64_t Checksum(const VideoFrame& image) {
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over every plane's row bytes
  for (int p = 0; p < image.plane_count(); ++p) {
    for (int r = 0; r < image.plane_rows(p); ++r) {
      const uint8_t* row = image.plane(p) + static_cast<size_t>(r) * image.stride(p);
      for (int b = 0; b < image.plane_row_bytes(p); ++b) hash = (hash ^ row[b]) * 1099511628211ull;
    }
  }
  return hash;
}

// Writes one line per frame with everything that must cross a process boundary unchanged.
class FrameLog : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe() {
    return {"test: logs frames", {ParamSpec::String("path", "", "log file").Required(), ParamSpec::Bool("echo", false, "also to stderr")}};
  }
  Status Open(const ModuleParams& params) override {
    file_ = std::fopen(params.GetString("path").c_str(), "w");
    echo_ = params.GetBool("echo");
    return file_ != nullptr ? Status::Ok() : Fail("cannot write " + params.GetString("path"));
  }
  void Close() override {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }
  Status Process(FramePtr frame) override {
    std::ostringstream line;
    line << frame->stream_id << ' ' << frame->frame_index;
    if (frame->IsEos()) {
      line << " eos";
    } else {
      line << " pts=" << frame->pts << " tb=" << frame->time_base.num << '/' << frame->time_base.den
           << " flags=" << frame->flags;
      if (!frame->image.empty()) {
        line << " img=" << frame->image.width() << 'x' << frame->image.height() << '/'
             << PixelFormatName(frame->image.format()) << " sum=" << std::hex << Checksum(frame->image) << std::dec;
      }
      for (const auto& o : frame->objects) {
        line << " obj=" << o.label << ',' << o.label_id << ',' << o.score << ',' << o.track_id << ',' << o.box.x << ','
             << o.box.y << ',' << o.box.w << ',' << o.box.h;
        for (const auto& [k, v] : o.attributes) line << ',' << k << '=' << v;
        for (const auto& [k, v] : o.features) {
          line << ',' << k << '=';
          for (float f : v) line << f << ';';
        }
      }
      if (const auto* note = frame->data.Get<std::string>("note")) line << " note=" << *note;
      if (const auto* weight = frame->data.Get<double>("weight")) line << " weight=" << *weight;
      if (const auto* tag = frame->data.Get<Tag>("tag")) line << " tag=" << tag->number << ':' << tag->text;
      if (frame->data.Has("local")) line << " local";
    }
    std::lock_guard<std::mutex> lock(mutex_);
    std::fprintf(file_, "%s\n", line.str().c_str());
    std::fflush(file_);  // in the file before the frame is released: survives a kill -9 after it
    if (echo_) std::fprintf(stderr, "framelog %s %ld\n", frame->stream_id.c_str(), static_cast<long>(frame->frame_index));
    return {};
  }

 private:
  std::mutex mutex_;
  FILE* file_ = nullptr;
  bool echo_ = false;
};
VSTREAM_REGISTER_MODULE(FrameLog);

}  // namespace

int RunPeer(const std::string& config) {
  // Limits a test gives this process alone (a container's, a user's): applied before anything runs.
  for (const auto& [variable, resource] : {std::pair{"VSTREAM_TEST_RLIMIT_FSIZE", RLIMIT_FSIZE},
                                           std::pair{"VSTREAM_TEST_RLIMIT_NOFILE", RLIMIT_NOFILE}}) {
    if (const char* value = std::getenv(variable); value != nullptr) {
      const rlim_t limit = std::strtoull(value, nullptr, 10);
      rlimit wanted{limit, limit};
      if (::setrlimit(resource, &wanted) != 0) std::fprintf(stderr, "peer: setrlimit %s: %s\n", variable, std::strerror(errno));
    }
  }
  Pipeline pipeline("peer");
  if (Status s = pipeline.BuildFromFile(config); !s) {
    std::fprintf(stderr, "peer: %s\n", s.message().c_str());
    return 2;
  }
  pipeline.SetObserver([](const Event& e) {
    std::fprintf(stderr, "event %d %s %s %s\n", static_cast<int>(e.type), e.module.c_str(), e.stream_id.c_str(), e.message.c_str());
  });
  // SIGTERM stops the pipeline gracefully, from a thread that waits for it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (Status s = pipeline.Start(); !s) {
    std::fprintf(stderr, "peer: %s\n", s.message().c_str());
    return 1;
  }
  // Address space for a few more threads' stacks at most, once the pipeline runs: how a process
  // that is out of threads or memory looks from inside.
  if (const char* extra = std::getenv("VSTREAM_TEST_ADDRESS_SPACE_LEFT_MB"); extra != nullptr) {
    std::ifstream status("/proc/self/status");
    std::string line;
    unsigned long long vm_kb = 0;
    while (std::getline(status, line)) {
      if (line.rfind("VmSize:", 0) == 0) vm_kb = std::strtoull(line.c_str() + 7, nullptr, 10);
    }
    const rlim_t limit = (vm_kb << 10) + (std::strtoull(extra, nullptr, 10) << 20);
    rlimit wanted{limit, limit};
    if (::setrlimit(RLIMIT_AS, &wanted) != 0) std::fprintf(stderr, "peer: setrlimit RLIMIT_AS: %s\n", std::strerror(errno));
    std::fprintf(stderr, "peer: address space limited\n");
  }
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (!done) (void)pipeline.Stop();  // its outcome is what the test reads from the logs
  });
  pipeline.WaitForStreams();
  Status stopped = pipeline.Stop();
  done = true;
  ::kill(::getpid(), SIGTERM);  // ends the waiter
  waiter.join();
  std::fprintf(stderr, "peer: done\n");
  return stopped ? 0 : 1;
}

Peer::Peer(const std::string& config, const std::string& run_as) {
  std::vector<std::string> args;
  if (!run_as.empty()) args = {"/usr/bin/setpriv", "--reuid=" + run_as, "--regid=" + run_as, "--clear-groups", "--"};
  args.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  args.push_back("--ipc-peer");
  args.push_back(config);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { Read(fd); });
}

Peer::~Peer() {
  if (pid_ > 0) Kill();
  if (reader_.joinable()) reader_.join();
}

void Peer::Read(int fd) {
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    output_.append(buffer, static_cast<size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  ended_ = true;
  changed_.notify_all();
}

bool Peer::WaitFor(const std::string& text, int count) {
  auto seen = [&] {
    int found = 0;
    for (size_t at = output_.find(text); at != std::string::npos; at = output_.find(text, at + 1)) ++found;
    return found >= count;
  };
  std::unique_lock<std::mutex> lock(mutex_);
  // The deadline only turns a hang into a failure; it is not what the test waits for.
  return changed_.wait_for(lock, std::chrono::minutes(1), [&] { return seen() || ended_; }) && seen();
}

void Peer::Terminate() {
  if (pid_ > 0) ::kill(pid_, SIGTERM);
}

void Peer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

int Peer::Wait() {
  if (pid_ <= 0) return -1;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::minutes(2), [&] { return ended_; })) return -2;
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Peer::Output() {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

std::string IpcScenario::Write(const std::string& name, const std::string& json) const {
  std::ofstream(dir / name) << json;
  return dir / name;
}

std::string IpcScenario::Client(const std::string& name, const std::string& source_params, int slots) const {
  return Write(name, R"({
    "source": { "class_name": "SyntheticSource", "next_modules": ["decorate"], "custom_params": )" + source_params + R"( },
    "decorate": { "class_name": "Decorate", "next_modules": ["ipc"] },
    "ipc": { "class_name": "ModuleIPC", "parallelism": 1, "next_modules": ["sent"],
             "custom_params": { "ipc_type": "client", "memmap_type": "cpu", "socket_address": ")" + socket +
                                R"(", "max_cachedframe_size": )" + std::to_string(slots) + R"( } },
    "sent": { "class_name": "FrameLog", "custom_params": { "path": ")" + Log(name) + R"(", "echo": true } } })");
}

std::string IpcScenario::Server(const std::string& name, bool keep_serving, const std::string& extra_params) const {
  return Write(name, R"({
    "ipc": { "class_name": "ModuleIPC", "next_modules": ["received"],
             "custom_params": { "ipc_type": "server", "memmap_type": "cpu", "socket_address": ")" + socket +
                                R"(", "keep_serving": )" + (keep_serving ? "true" : "false") + extra_params + R"( } },
    "received": { "class_name": "FrameLog", "custom_params": { "path": ")" + Log(name) + R"(", "echo": true } } })");
}

std::map<std::string, std::vector<std::string>> ReadFrameLog(const std::string& path) {
  std::map<std::string, std::vector<std::string>> by_stream;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    by_stream[line.substr(0, line.find(' '))].push_back(line);
  }
  return by_stream;
}

long IndexOf(const std::string& line) {
  const size_t space = line.find(' ');
  return space == std::string::npos ? -1 : std::atol(line.c_str() + space + 1);
}

std::vector<std::string> SegmentsOf(pid_t pid) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", error)) {
    const std::string name = entry.path().filename().string();
    // The names earlier versions gave their segments ("vstream-<uid>-<pid>-<n>"): there must be none.
    if (name.rfind("vstream-" + std::to_string(::geteuid()) + "-" + std::to_string(pid) + "-", 0) == 0) found.push_back(name);
  }
  return found;
}

}  // namespace vstream::test

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--ipc-peer") == 0) return vstream::test::RunPeer(argv[2]);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
