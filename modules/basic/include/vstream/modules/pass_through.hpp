// PassThrough: forwards every frame unchanged. A placeholder stage, a fan-out/fan-in joint, and
// the unit of the framework-cost benchmark.
//
//   "tee": { "class_name": "PassThrough", "parallelism": 2, "next_modules": ["a", "b"] }
#pragma once

#include "vstream/module.hpp"

namespace vstream {

class PassThrough : public Module {
 public:
  using Module::Module;
  static ModuleDescription Describe();
  bool Open(const ModuleParams& params) override;
  void Close() override {}
  int Process(FramePtr frame) override;
};

}  // namespace vstream
