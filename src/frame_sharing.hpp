// FrameSharing: which modules may hold a frame object while another branch of the graph holds the
// same object, worked out once from the graph's shape when a pipeline is built.
//
// Fan-out hands one Frame object to every child. A frame object starts at an origin (the source
// that produced it, or a module that made a branch copy of it with Module::MakeWritable) and goes
// to every module below that origin. A module M has it alone when every other module the object
// reaches is either above M (done with it before M gets it: a module gets a frame only after each
// parent it waits for has passed it on, joins included) or below M (gets it after M passed it on).
// Any other module the object reaches may have it at the same time as M: M shares it. So a straight
// chain shares nothing; source -> {A, B} makes A and B share; a join of all the branches has the
// frame alone again unless some branch also goes on past the fork elsewhere.
//
// A branch copy goes only to the modules below the one that made it. A join below that module
// which also waits for the frame from a parent outside that part of the graph would count the
// original and the copy as two different frames and wait for both forever; such a copy is refused
// (`copy_refused`) with a message that says where to move the module.
//
//   FrameSharing sharing = AnalyzeFrameSharing({{1, 2}, {}, {}}, {"src", "a", "b"});
//   sharing.modules[1].shared[0];   // true: 'a' shares frames from 'src' with 'b'
//   sharing.modules[1].shared[1];   // false: a copy made by 'a' is its own
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace vstream::detail {

struct ModuleSharing {
  /// By origin module index: true when a frame object that started at that origin may be held by
  /// another module while this module has it (false for origins whose frames never reach it).
  std::vector<bool> shared;
  /// By source module index: why a branch copy this module makes of a frame from that source
  /// cannot travel on (a join below waits for the original). Sources missing here: it can.
  std::map<size_t, std::string> copy_refused;
};

struct FrameSharing {
  std::vector<ModuleSharing> modules;  // by module index
};

/// `children[i]` lists the children of module i (indices into the same vectors); modules without
/// parents are sources. `names` are the modules' config names (for messages). The graph must be
/// acyclic (a validated config).
FrameSharing AnalyzeFrameSharing(const std::vector<std::vector<size_t>>& children,
                                 const std::vector<std::string>& names);

}  // namespace vstream::detail
