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
