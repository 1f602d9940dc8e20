// Registers the shared test modules once for the whole test binary.
#include "test_modules.hpp"

namespace vstream::test {
VSTREAM_REGISTER_MODULE(AsyncRelay);
VSTREAM_REGISTER_MODULE(BoxMaker);
VSTREAM_REGISTER_MODULE(Recorder);
VSTREAM_REGISTER_MODULE(Gate);
VSTREAM_REGISTER_MODULE(ScriptedSource);
VSTREAM_REGISTER_MODULE(ManualSource);
}  // namespace vstream::test
