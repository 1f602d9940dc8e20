#include "vstream/modules/module_ipc.hpp"

#include <map>

#include "ipc_client.hpp"
#include "ipc_server.hpp"
#include "ipc_socket.hpp"
#include "vstream/log.hpp"
#include "vstream/registry.hpp"

namespace vstream {

ModuleDescription DescribeModuleIPC() {
  ModuleDescription d;
  d.summary = "Splits a pipeline across processes: pixels in shared memory, metadata over a Unix socket "
              "(IpcSender for ipc_type client, IpcReceiver for server).";
  d.params = {
      ParamSpec::Enum("ipc_type", "", {"client", "server"},
                      "client: the last module of the upstream process (sends frames); server: the first module of "
                      "the downstream process (a source of the frames its clients send)")
          .Required(),
      ParamSpec::String("socket_address", "",
                        "where the pair meets: a bare name (\"test_ipc\") lives in the per-user runtime folder "
                        "($XDG_RUNTIME_DIR/vstream or /tmp/vstream-<uid>); a value with a '/' is a socket path")
          .Required(),
      ParamSpec::Enum("memmap_type", "cpu", {"cpu"}, "how pixels are shared: cpu (an anonymous shared-memory file, memfd)"),
      ParamSpec::Int("max_cachedframe_size", 40,
                     "client: frames in flight at most (shared-memory slots); when all are taken Process waits "
                     "for the server to release one, which slows this process to the other's pace. The slots' memory "
                     "is reserved when they are made; when not all of it can be, the client runs with the slots "
                     "that fit (logged)")
          .Range(1, 4096),
      ParamSpec::Int("close_timeout_ms", 10000,
                     "client: how long closing waits for the server to acknowledge the frames still in flight "
                     "(a server that is restarting gets them when it is back); what is left is reported lost")
          .Range(0, 86400000),
      ParamSpec::Bool("keep_serving", false,
                      "server: false ends the wait for streams once the clients that connected have said goodbye "
                      "(so `vstream run` returns); true serves clients until the pipeline is stopped"),
      ParamSpec::Int("max_clients", 64,
                     "server: client connections served at once; one more is told so and retries later")
          .Range(1, 4096),
      ParamSpec::Int("max_streams", 1024,
                     "server: open streams at once, over all clients; frames of a stream over the limit are "
                     "released unprocessed and reported (module error, once per stream)")
          .Range(1, 1000000),
      ParamSpec::Int("max_message_bytes", 4 << 20,
                     "server: the largest frame message (metadata: objects, attributes, features, user data) it "
                     "takes; clients learn it when they connect and refuse larger frames themselves; a peer that "
                     "sends one anyway is disconnected with an error")
          .Range(4096, 16 << 20),
      ParamSpec::Int("max_send_queue_bytes", 4 << 20,
                     "server: acknowledgements queued for a client that does not read them; a client over it is "
                     "disconnected (its open streams end with an error)")
          .Range(4096, int64_t{1} << 30),
  };
  d.details = R"(Two configs make one pipeline: the upstream process ends with a client, the downstream
process starts with a server that has the same `socket_address`. Either process may start first:
the client retries until a server listens. Several client processes may feed one server; their
stream ids must differ. See [multiprocess.md](../multiprocess.md) for a walk-through.

**Data path.** The client copies each frame's image into a free slot of a shared-memory segment it
owns (an anonymous memory file, memfd, passed to the server over the socket; it has no name in
`/dev/shm`), the only copy, and sends the frame's metadata
over the socket: stream id, frame index, pts, time base, flags (EOS), objects with attributes and
features, and user data whose type has a codec (`vstream::RegisterUserDataCodec`, built in for
strings, numbers, `std::vector<float>` and `std::vector<uint8_t>`). The server's frame buffer is the
slot itself; the slot goes back to the client when the last reference to the frame in the server
process is gone, whether the frame reached a leaf, was dropped by a queue policy or failed in a
module. EOS frames cross in order and end the stream on the server side.

**Faults.** A server killed with `kill -9`: the client notices at once, keeps every frame not yet
acknowledged, reconnects when a server listens again and resends them in order (frames the dead
server had not finished may be processed twice; a server drops repeats it has seen). A client that
disconnects without goodbye: the server posts a stream error for each of its open streams, ends
them, and serves the other clients. A graceful stop of the server leaves the frames it did not take
unacknowledged, for the next server. A crashed process leaks no shared memory (the kernel frees a
memfd with its last user); a socket file left by a crashed server is replaced by the next one.
Peers running as another user are refused; a malformed message, a segment that is not sealed
against shrinking, a message over `max_message_bytes` or a client that does not read its
acknowledgements closes that connection with an error, and the server serves the others. See
[security.md](../security.md) for what a hostile peer can and cannot do.

**Events.** Server: stream error (client disconnected before ending a stream), module error (a stream
id used by two clients, user data without a codec). Client: module error at close when frames were
never acknowledged within `close_timeout_ms`.)";
  return d;
}

namespace {
/// The ModuleIPC parameters for one role: `ipc_type` optional and only that role's value.
ModuleDescription DescribeRole(const std::string& role, const std::string& summary) {
  ModuleDescription d = DescribeModuleIPC();
  d.summary = summary;
  for (ParamSpec& spec : d.params) {
    if (spec.name == "ipc_type") spec = ParamSpec::Enum("ipc_type", role, {role}, "always " + role + " for this class (optional)");
  }
  return d;
}

Status SocketPathParam(const ModuleParams& params, std::string* path) {
  if (Status s = detail::ipc::SocketPath(params.GetString("socket_address"), path); !s) {
    return {StatusCode::kInvalidConfig, "socket_address: " + s.message()};
  }
  return Status::Ok();
}

// The channel both ends of a pair agree on: socket_address as written (resolving a bare name
// would create the runtime folder, and `vstream check` leaves the machine as it is).
std::string ChannelName(const ModuleParams& params) { return params.GetString("socket_address"); }

}  // namespace

// IpcSender ------------------------------------------------------------------------------------

IpcSender::IpcSender(std::string name) : Module(std::move(name)) {}

IpcSender::~IpcSender() { Close(); }

ModuleDescription IpcSender::Describe() {
  return DescribeRole("client", "Sends every frame to an IpcReceiver in another process (ModuleIPC with ipc_type client).");
}

HeldFrames IpcSender::FramesHeld(const ModuleParams& params) {
  const int64_t slots = params.GetInt("max_cachedframe_size");
  HeldFrames held;
  held.shared_memory_slots = slots;  // a copy of each frame in flight; the frame itself is released
  held.channel = {ChannelName(params), true, slots, "max_cachedframe_size"};
  held.detail = std::to_string(slots) + " shared-memory slots";
  return held;
}

Status IpcSender::Open(const ModuleParams& params) {
  std::string path;
  if (Status s = SocketPathParam(params, &path); !s) return s;
  detail::ipc::ClientSettings settings;
  settings.module = name();
  settings.socket_path = path;
  settings.slots = static_cast<uint32_t>(params.GetInt("max_cachedframe_size"));
  settings.close_timeout_ms = params.GetInt("close_timeout_ms");
  client_ = std::make_unique<detail::ipc::IpcClient>(this, settings);
  if (Status s = client_->Start(); !s) {
    client_.reset();
    return s;
  }
  return Status::Ok();
}

void IpcSender::Close() {
  if (client_ == nullptr) return;
  Status s = client_->Stop();
  client_.reset();
  if (!s) {
    VSTREAM_LOG_ERROR("module '{}': {}", name(), s.message());
    ReportModuleError(s.message());
  }
}

Status IpcSender::Process(FramePtr frame) {
  if (client_ == nullptr) return Fail("module '" + name() + "' is not open", StatusCode::kFailedState);
  return client_->Send(frame);
}

void IpcSender::Interrupt() {
  if (client_ != nullptr) client_->Interrupt();
}

// IpcReceiver ----------------------------------------------------------------------------------

IpcReceiver::IpcReceiver(std::string name) : SourceModule(std::move(name)) {}

IpcReceiver::~IpcReceiver() { Close(); }

ModuleDescription IpcReceiver::Describe() {
  return DescribeRole("server", "Receives the frames IpcSenders in other processes send (ModuleIPC with ipc_type server).");
}

HeldFrames IpcReceiver::FramesHeld(const ModuleParams& params) {
  HeldFrames held;
  held.per_module = params.GetInt("max_clients");  // each connection's reader hands on one frame at a time
  held.channel = {ChannelName(params), false, 0, ""};
  held.frames_in_shared_memory = true;  // the clients' slots, counted with the clients
  held.detail = "a frame in hand per client connection (max_clients " + std::to_string(held.per_module) + ")";
  return held;
}

Status IpcReceiver::Open(const ModuleParams& params) {
  std::string path;
  if (Status s = SocketPathParam(params, &path); !s) return s;
  detail::ipc::ServerSettings settings;
  settings.module = name();
  settings.socket_path = path;
  settings.keep_serving = params.GetBool("keep_serving");
  settings.max_clients = static_cast<uint32_t>(params.GetInt("max_clients"));
  settings.max_streams = static_cast<uint32_t>(params.GetInt("max_streams"));
  settings.max_message_bytes = static_cast<uint32_t>(params.GetInt("max_message_bytes"));
  settings.max_send_queue_bytes = static_cast<uint64_t>(params.GetInt("max_send_queue_bytes"));
  server_ = std::make_unique<detail::ipc::IpcServer>(this, settings);
  if (Status s = server_->Start(); !s) {
    server_.reset();
    return {s.code(), "socket_address: " + s.message()};
  }
  return Status::Ok();
}

void IpcReceiver::Close() {
  if (server_ == nullptr) return;
  server_->Stop();
  server_.reset();
}

void IpcReceiver::Interrupt() {
  if (server_ != nullptr) server_->SuspendAcknowledgements();
}

Status IpcReceiver::OnAddSource(const std::string& stream_id, const std::string& /*uri*/, const StreamOptions& /*options*/) {
  return {StatusCode::kInvalidArgument, "module '" + name() + "': the streams of a ModuleIPC server come from its clients; add '" +
                                            stream_id + "' to the client process's source instead"};
}

void IpcReceiver::OnRemoveSource(const std::string& stream_id) {
  if (server_ != nullptr) server_->RemoveStream(stream_id);
}

VSTREAM_REGISTER_MODULE(IpcSender);
VSTREAM_REGISTER_MODULE(IpcReceiver);

// "ModuleIPC": CNStream's name for both ends; ipc_type chooses the class.
[[maybe_unused]] const bool kModuleIpcRegistered = ModuleRegistry::Instance().Register([] {
  ModuleRegistry::Entry entry;
  entry.class_name = "ModuleIPC";
  entry.describe = [] { return DescribeModuleIPC(); };
  entry.choose = [](const std::map<std::string, std::string>& params) -> std::string {
    auto it = params.find("ipc_type");
    return it != params.end() && it->second == "server" ? "IpcReceiver" : "IpcSender";
  };
  return entry;
}());

}  // namespace vstream
