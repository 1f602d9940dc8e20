// PassThrough: forwards every frame unchanged. A placeholder stage, a fan-out/fan-in joint, and
// the unit of the framework-cost benchmark.
//
//   "tee": { "class_name": "PassThrough", "parallelism": 2, "next_modules": ["a", "b"] }
#pragma once

#include "vstream/export.hpp"
#include "vstream/module.hpp"

namespace vstream {

class VSTREAM_EXPORT PassThrough : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe();
  Status Open(const ModuleParams& params) override;
  void Close() override {}
  Status Process(FramePtr frame) override;
};

}  // namespace vstream
