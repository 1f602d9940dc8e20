# Driven by ctest: install, then build and run the consumer two ways. Any failure stops with an error.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

# 1. find_package(vstream) -> vstream::vstream
run(${CMAKE_COMMAND} -S "${CONSUMER_DIR}" -B "${WORK_DIR}/cmake-build" -G "${GENERATOR}"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX})
run(${CMAKE_COMMAND} --build "${WORK_DIR}/cmake-build")
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${prefix}/lib "${WORK_DIR}/cmake-build/consumer")
if(NOT LAST_OUTPUT MATCHES "consumer ok: 30 frames")
  message(FATAL_ERROR "the find_package consumer printed: ${LAST_OUTPUT}")
endif()

# 2. pkg-config --cflags --libs vstream
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB pc_dirs "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
string(REPLACE ";" ":" pc_path "${pc_dirs}")
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_path} ${PKG_CONFIG} --cflags --libs vstream
                OUTPUT_VARIABLE flags RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find vstream in ${pc_path}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
if(flags MATCHES "-std=")
  message(FATAL_ERROR "pkg-config's flags choose the language standard; they should not: ${flags}")
endif()
# The .pc file leaves the standard to the user: vstream needs C++20 or later.
run(${CXX} -std=c++20 "${CONSUMER_DIR}/main.cpp" -o "${WORK_DIR}/pc-consumer" ${flags})
file(GLOB lib_dirs "${prefix}/lib*" "${prefix}/lib/*-linux-gnu")
string(REPLACE ";" ":" ld_path "${lib_dirs}")
run(${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${ld_path} "${WORK_DIR}/pc-consumer")
if(NOT LAST_OUTPUT MATCHES "consumer ok: 30 frames")
  message(FATAL_ERROR "the pkg-config consumer printed: ${LAST_OUTPUT}")
endif()
message(STATUS "install test passed")
