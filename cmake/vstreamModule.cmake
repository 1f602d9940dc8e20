# CMake helpers for libraries of vstream module classes. find_package(vstream) provides them (this
# file is included by vstreamConfig.cmake), and vstream's own build uses the same file.
#
#   vstream_add_module_library(<name> [MODULE | SHARED] [ALLOW_UNDEFINED] [SOURCES] <source>...)
#
#     A plugin: a shared library of module classes (each with VSTREAM_REGISTER_MODULE) that
#     `vstream --plugin`, VSTREAM_PLUGIN_PATH or vstream::LoadPlugin load at run time. MODULE (the
#     default) makes a library only ever loaded with dlopen; SHARED one that programs may also link.
#     It is compiled as C++20 with position-independent code and linked against vstream::vstream;
#     a symbol that nothing defines is a link error (-Wl,--no-undefined) instead of a dlopen failure
#     at run time (ALLOW_UNDEFINED turns that check off; sanitizer builds skip it). Add sources and
#     libraries with target_sources / target_link_libraries as for any target.
#
#       find_package(vstream 0.1 REQUIRED)
#       vstream_add_module_library(frame_stamp SOURCES frame_stamp.cpp)   # -> libframe_stamp.so
#
#   vstream_link_whole(<target> <static-library>...)
#
#     Links static libraries whole into <target>. The linker copies an object file out of a static
#     library only when something refers to one of its symbols, and nothing refers to the objects
#     that hold VSTREAM_REGISTER_MODULE lines: linked the ordinary way, their classes silently
#     vanish (a plugin then "registered no module class"). Uses $<LINK_LIBRARY:WHOLE_ARCHIVE,...>
#     with CMake 3.24 or later, else -Wl,--whole-archive. A library linked whole into a target must
#     not also reach that target's link the ordinary way (CMake 3.24+ reports the conflict).
include_guard(GLOBAL)

function(vstream_add_module_library name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "MODULE;SHARED;ALLOW_UNDEFINED" "" "SOURCES")
  if(arg_MODULE AND arg_SHARED)
    message(FATAL_ERROR "vstream_add_module_library(${name}): MODULE or SHARED, not both")
  endif()
  set(sources ${arg_SOURCES} ${arg_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "vstream_add_module_library(${name}): no SOURCES given")
  endif()
  set(type MODULE)
  if(arg_SHARED)
    set(type SHARED)
  endif()
  add_library(${name} ${type} ${sources})
  target_link_libraries(${name} PRIVATE vstream::vstream)
  target_compile_features(${name} PRIVATE cxx_std_20)
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_EXTENSIONS OFF)

  # Undefined symbols: a link error here rather than "undefined symbol" from dlopen later. Not with
  # sanitizers, whose runtime a shared library may leave to the program to provide.
  set(flags "${CMAKE_CXX_FLAGS} ${CMAKE_SHARED_LINKER_FLAGS} ${CMAKE_MODULE_LINKER_FLAGS}")
  get_directory_property(directory_link_options LINK_OPTIONS)
  get_directory_property(directory_compile_options COMPILE_OPTIONS)
  string(APPEND flags " ${directory_link_options} ${directory_compile_options}")
  if(NOT arg_ALLOW_UNDEFINED AND NOT VSTREAM_SANITIZE AND NOT flags MATCHES "-fsanitize"
     AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
endfunction()

function(vstream_link_whole target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "vstream_link_whole: '${target}' is not a target")
  endif()
  foreach(library IN LISTS ARGN)
    if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.24)
      target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${library}>")
    elseif(TARGET ${library})
      # The archive whole between the flags, then the target itself for its usage requirements
      # (include folders, its own dependencies) and the build order; the second mention of the
      # archive adds nothing, every object of it being in already.
      target_link_libraries(${target} PRIVATE
        "-Wl,--whole-archive" "$<TARGET_FILE:${library}>" "-Wl,--no-whole-archive" ${library})
    else()
      target_link_libraries(${target} PRIVATE "-Wl,--whole-archive" "${library}" "-Wl,--no-whole-archive")
    endif()
  endforeach()
endfunction()
