#include "vstream/modules/pass_through.hpp"

#include "vstream/registry.hpp"

namespace vstream {

ModuleDescription PassThrough::Describe() { return {"Forwards every frame unchanged.", {}}; }

Status PassThrough::Open(const ModuleParams& /*params*/) { return {}; }

Status PassThrough::Process(FramePtr /*frame*/) { return {}; }

VSTREAM_REGISTER_MODULE(PassThrough);

}  // namespace vstream
