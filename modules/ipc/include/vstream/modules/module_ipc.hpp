// ModuleIPC: splits one pipeline across processes. A client ModuleIPC ends the upstream process's
// pipeline; a server ModuleIPC with the same socket_address starts the downstream one.
//
// "ModuleIPC" (CNStream's class name and parameters) names two classes: when a config loads, its
// `ipc_type` chooses IpcSender ("client": a stage that sends every frame it gets) or IpcReceiver
// ("server": a source whose streams come from the senders). Both may also be named directly.
//
// The client copies each frame's pixels into a slot of a shared-memory segment it owns (the only
// copy) and sends the frame's metadata over a Unix socket; the server wraps the slot as the frame's
// buffer (no copy) and hands the slot back when the last reference to the frame in its process is
// gone. At most max_cachedframe_size frames are in flight, so a slow downstream process slows the
// upstream one. Either side may start first; several client processes may feed one server; a
// killed server is replaced and the client resends what it had not acknowledged; a killed client's
// streams end with an error on the server. See docs/multiprocess.md.
//
//   process 1: "ipc": { "class_name": "ModuleIPC",
//                       "custom_params": { "ipc_type": "client", "socket_address": "test_ipc" } }
//   process 2: "ipc": { "class_name": "ModuleIPC", "next_modules": ["infer"],
//                       "custom_params": { "ipc_type": "server", "socket_address": "test_ipc" } }
#pragma once

#include <memory>
#include <string>

#include "vstream/capacity.hpp"
#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

namespace detail::ipc {
class IpcClient;
class IpcServer;
}  // namespace detail::ipc

/// The parameters of ModuleIPC, IpcSender and IpcReceiver (one set, as CNStream has it).
VSTREAM_EXPORT ModuleDescription DescribeModuleIPC();

/// ModuleIPC with ipc_type "client": the last module of the upstream process.
class VSTREAM_EXPORT IpcSender : public Module {
 public:
  explicit IpcSender(std::string name);
  ~IpcSender() override;

  static ModuleDescription Describe();
  /// Its max_cachedframe_size frame-sized slots of shared memory, and the channel to its server.
  static HeldFrames FramesHeld(const ModuleParams& params);
  Status Open(const ModuleParams& params) override;
  void Close() override;
  /// Copies the frame into a free slot (waiting for one while max_cachedframe_size frames are in
  /// flight) and sends it; the frame also goes on to any next_modules.
  Status Process(FramePtr frame) override;
  void Interrupt() override;

 private:
  friend class detail::ipc::IpcClient;
  std::unique_ptr<detail::ipc::IpcClient> client_;
};

/// ModuleIPC with ipc_type "server": the first module of the downstream process, a source.
class VSTREAM_EXPORT IpcReceiver : public SourceModule {
 public:
  explicit IpcReceiver(std::string name);
  ~IpcReceiver() override;

  static ModuleDescription Describe();
  /// A frame in hand for each client connection (max_clients), and the channel from its clients.
  static HeldFrames FramesHeld(const ModuleParams& params);
  Status Open(const ModuleParams& params) override;
  void Close() override;
  void Interrupt() override;

 protected:
  /// A receiver's streams come from its senders; AddSource from the application is refused.
  Status OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) override;
  /// Ends the stream now; frames of it that still arrive are released unprocessed (or, when the
  /// pipeline is stopping, left unacknowledged for the client to resend to the next server).
  void OnRemoveSource(const std::string& stream_id) override;

 private:
  friend class detail::ipc::IpcServer;
  std::unique_ptr<detail::ipc::IpcServer> server_;
};

}  // namespace vstream

