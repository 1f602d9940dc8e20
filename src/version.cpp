#include "vstream/version.hpp"

namespace vstream {

const char* Version() { return VSTREAM_VERSION_STRING; }

}  // namespace vstream
