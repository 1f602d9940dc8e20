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
