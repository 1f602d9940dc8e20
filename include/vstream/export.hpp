// VSTREAM_EXPORT: marks what libvstream.so exports. The library is built with hidden visibility,
// so only the public API (classes and functions declared in vstream/ headers and marked with this)
// is visible to programs and plugins; everything else stays inside the library.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define VSTREAM_EXPORT __attribute__((visibility("default")))
#else
#define VSTREAM_EXPORT
#endif
