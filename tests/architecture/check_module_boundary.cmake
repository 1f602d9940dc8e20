# The module boundary (docs/architecture.md): module families, the tool, samples and benchmarks see
# only the public API (`vstream/...` headers) and files of their own folder; the core's private
# headers in src/ are for the core alone. Run by ctest as `architecture.module_boundary`:
#   cmake -DSOURCE_DIR=<repo> -P check_module_boundary.cmake
# Fails with one line per #include that crosses the boundary.
cmake_minimum_required(VERSION 3.22)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "set -DSOURCE_DIR=<the vstream source tree>")
endif()

file(GLOB private_headers RELATIVE "${SOURCE_DIR}/src" "${SOURCE_DIR}/src/*.hpp" "${SOURCE_DIR}/src/*.h")
file(GLOB_RECURSE checked
  "${SOURCE_DIR}/modules/*.cpp" "${SOURCE_DIR}/modules/*.hpp"
  "${SOURCE_DIR}/tools/*.cpp" "${SOURCE_DIR}/tools/*.hpp"
  "${SOURCE_DIR}/samples/*.cpp" "${SOURCE_DIR}/samples/*.hpp"
  "${SOURCE_DIR}/bench/*.cpp" "${SOURCE_DIR}/bench/*.hpp"
  "${SOURCE_DIR}/python/*.cpp" "${SOURCE_DIR}/python/*.hpp")

set(problems "")
set(count 0)
foreach(file IN LISTS checked)
  file(RELATIVE_PATH rel "${SOURCE_DIR}" "${file}")
  get_filename_component(dir "${file}" DIRECTORY)
  # The folder a file may include from: its module family's, or else its own top-level folder.
  string(REGEX MATCH "^(modules/[^/]+|[^/]+)" owner "${rel}")
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS lines)
    math(EXPR count "${count} + 1")
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*" "\\1" header "${line}")
    if(header MATCHES "^vstream/")
      continue()  # public API
    endif()
    get_filename_component(name "${header}" NAME)
    if(name IN_LIST private_headers AND NOT EXISTS "${dir}/${header}" AND NOT EXISTS "${SOURCE_DIR}/${owner}/${header}")
      string(APPEND problems "  ${rel}: #include \"${header}\" is a private header of the core (src/${name}); "
                             "use the public API (include/vstream/), or make what it offers public\n")
      continue()
    endif()
    set(found FALSE)
    foreach(root "${dir}" "${SOURCE_DIR}/${owner}" "${SOURCE_DIR}/tests/support" "${SOURCE_DIR}/tests")
      if(EXISTS "${root}/${header}")
        get_filename_component(resolved "${root}/${header}" REALPATH)
        file(RELATIVE_PATH resolved_rel "${SOURCE_DIR}" "${resolved}")
        if(resolved_rel MATCHES "^src/")
          string(APPEND problems "  ${rel}: #include \"${header}\" reaches into src/ (${resolved_rel})\n")
        endif()
        set(found TRUE)
        break()
      endif()
    endforeach()
    if(NOT found)
      string(APPEND problems "  ${rel}: #include \"${header}\" is neither public (vstream/...) nor in ${owner}/\n")
    endif()
  endforeach()
endforeach()

if(problems)
  message(FATAL_ERROR "module boundary crossed:\n${problems}")
endif()
message(STATUS "module boundary holds: ${count} quoted includes checked")
