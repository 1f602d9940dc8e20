// libFuzzer target for the ModuleIPC message decoder: any bytes must be rejected or accepted
// without reading outside the input (ASan) or undefined behaviour (UBSan).
//   clang++ -fsanitize=fuzzer,address,undefined ... ; ./fuzz_ipc_protocol -runs=100000
#include <cstddef>
#include <cstdint>

#include "ipc_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstream::detail::ipc;
  MessageType type{};
  uint32_t payload = 0;
  if (size >= kHeaderSize && DecodeHeader(data, kHeaderSize, &type, &payload)) {
    const uint8_t* body = data + kHeaderSize;
    const size_t available = size - kHeaderSize;
    const size_t n = payload < available ? payload : available;
    FrameMessage frame;
    Hello hello;
    Welcome welcome;
    Release release;
    std::string reason;
    switch (type) {
      case MessageType::kFrame:
        if (DecodeFrame(body, n, &frame)) CheckLayout(frame.image, 64, 1u << 20);
        break;
      case MessageType::kHello: DecodeHello(body, n, &hello); break;
      case MessageType::kWelcome: DecodeWelcome(body, n, &welcome); break;
      case MessageType::kRelease: DecodeRelease(body, n, &release); break;
      case MessageType::kError: DecodeError(body, n, &reason); break;
      default: break;
    }
  }
  // Also every decoder on the raw bytes, header or not.
  FrameMessage frame;
  DecodeFrame(data, size, &frame);
  Hello hello;
  DecodeHello(data, size, &hello);
  return 0;
}
