# Compiler warnings and sanitizer flags shared by every vstream target.

set(VSTREAM_SANITIZE_FLAGS "")
if(VSTREAM_SANITIZE STREQUAL "address")
  set(VSTREAM_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
elseif(VSTREAM_SANITIZE STREQUAL "thread")
  set(VSTREAM_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT VSTREAM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "VSTREAM_SANITIZE must be '', 'address' or 'thread', not '${VSTREAM_SANITIZE}'")
endif()
if(VSTREAM_SANITIZE_FLAGS)
  add_compile_options(${VSTREAM_SANITIZE_FLAGS})
  add_link_options(${VSTREAM_SANITIZE_FLAGS})
endif()

function(vstream_target_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
  if(VSTREAM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Registers a GoogleTest binary's tests with ctest under `label`. In a ThreadSanitizer build the
# tests ignore accesses made inside uninstrumented libraries (FFmpeg, OpenCV, TBB synchronize in
# code TSan cannot see: without this it reports, and then suppresses, hundreds of thousands of
# races per test, slowly enough to look like a hang) and get tests/tsan.supp as a second layer.
function(vstream_add_gtests target label)
  set(environment "")
  if(VSTREAM_SANITIZE STREQUAL "thread")
    set(environment ENVIRONMENT
        "TSAN_OPTIONS=ignore_noninstrumented_modules=1 suppressions=${PROJECT_SOURCE_DIR}/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1")
  endif()
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS ${label} TIMEOUT 300 ${environment})
endfunction()

# Objects that go into libvstream.so: position-independent, and hidden unless marked VSTREAM_EXPORT
# (include/vstream/export.hpp), so the library exports its public API and nothing else.
function(vstream_library_objects target)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
endfunction()

# Makes the object library vstream_<family> for the module family in the current folder and links
# its objects into the `vstream` library. The family sees the public headers (vstream_headers), its
# own folder and its own include/ (installed with the library): never the core's private headers.
#   vstream_add_module_family(source SOURCES data_source.cpp ... PRIVATE_DEPS PkgConfig::FFMPEG
#                             PUBLIC_DEPS ${OpenCV_LIBS})
# PUBLIC_DEPS are needed by the family's public headers, so users of `vstream` get them too.
function(vstream_add_module_family family)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;PUBLIC_SYSTEM_INCLUDES" ${ARGN})
  set(target vstream_${family})
  add_library(${target} OBJECT ${ARG_SOURCES})
  vstream_library_objects(${target})
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${target} PRIVATE vstream_headers ${ARG_PUBLIC_DEPS} ${ARG_PRIVATE_DEPS})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_include_directories(vstream PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
  endif()
  if(ARG_PUBLIC_SYSTEM_INCLUDES)
    target_include_directories(${target} SYSTEM PRIVATE ${ARG_PUBLIC_SYSTEM_INCLUDES})
    target_include_directories(vstream SYSTEM PUBLIC ${ARG_PUBLIC_SYSTEM_INCLUDES})
  endif()
  vstream_target_flags(${target})
  target_link_libraries(vstream PRIVATE ${target} PUBLIC ${ARG_PUBLIC_DEPS})
endfunction()
