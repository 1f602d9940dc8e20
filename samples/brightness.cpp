// Registers Brightness. Linked into the sample program, and built alone as a plugin:
//   vstream inspect Brightness --plugin build/samples/libsample_brightness.so
#include "brightness.hpp"

VSTREAM_REGISTER_MODULE(Brightness);
