// ModuleIPC: splits one pipeline across processes. A client ModuleIPC ends the upstream process's
// pipeline; a server ModuleIPC with the same socket_address starts the downstream one.
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

#include <map>
#include <memory>
#include <string>

#include "vstream/module.hpp"

namespace vstream {

namespace detail::ipc {
class IpcClient;
class IpcServer;
}  // namespace detail::ipc

class ModuleIPC : public SourceModule {
 public:
  explicit ModuleIPC(std::string name);
  ~ModuleIPC() override;

  static ModuleDescription Describe();
  /// A server is a source (its frames come from other processes); a client is a stage.
  static bool IsSource(const std::map<std::string, std::string>& custom_params);

  bool Open(const ModuleParams& params) override;
  void Close() override;
  /// Client: copies the frame into a free slot (waiting for one while max_cachedframe_size frames
  /// are in flight) and sends it; returns 0 (the frame also goes on to any next_modules).
  int Process(FramePtr frame) override;
  void Interrupt() override;

 protected:
  /// A server's streams come from its clients; AddSource from the application is refused.
  Status OnAddSource(const std::string& stream_id, const std::string& uri, const StreamOptions& options) override;
  /// Server: ends the stream now; frames of it that still arrive are released unprocessed (or, when
  /// the pipeline is stopping, left unacknowledged for the client to resend to the next server).
  void OnRemoveSource(const std::string& stream_id) override;

 private:
  friend class detail::ipc::IpcServer;
  friend class detail::ipc::IpcClient;
  std::unique_ptr<detail::ipc::IpcClient> client_;
  std::unique_ptr<detail::ipc::IpcServer> server_;
};

}  // namespace vstream
