#include "vstream/modules/pass_through.hpp"

#include "vstream/registry.hpp"

namespace vstream {

ModuleDescription PassThrough::Describe() { return {"Forwards every frame unchanged.", {}}; }

bool PassThrough::Open(const ModuleParams& /*params*/) { return true; }

int PassThrough::Process(FramePtr /*frame*/) { return 0; }

VSTREAM_REGISTER_MODULE(PassThrough);

}  // namespace vstream
