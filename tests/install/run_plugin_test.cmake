# Driven by ctest: vstream installed and then moved to another prefix, used the way a user uses it,
# never with LD_LIBRARY_PATH: bin/vstream --version; the package's version policy; an out-of-tree
# plugin (plugin/) built with find_package(vstream) + vstream_add_module_library; vstream inspect
# and run with --plugin and with VSTREAM_PLUGIN_PATH; the errors for a missing file, a file that
# is no library and a library that is no plugin. Any failure stops with an error.
#   cmake -DBUILD_DIR=... -DPLUGIN_DIR=... -DWORK_DIR=... -DGENERATOR=... -DCXX=... -DVERSION=X.Y.Z
#         -P run_plugin_test.cmake
cmake_minimum_required(VERSION 3.22)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command without LD_LIBRARY_PATH or VSTREAM_PLUGIN_PATH (ENV NAME=VALUE... first sets some)
# and checks its exit code (EXPECT N, default 0); leaves OUT (stdout) and ERR (stderr).
function(run)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "EXPECT" "ENV;COMMAND")
  if(NOT DEFINED arg_EXPECT)
    set(arg_EXPECT 0)
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=VSTREAM_PLUGIN_PATH ${arg_ENV} ${arg_COMMAND}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL arg_EXPECT)
    message(FATAL_ERROR "exit code ${rc}, not ${arg_EXPECT}: ${arg_COMMAND}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
  set(ERR "${err}" PARENT_SCOPE)
endfunction()

function(expect_in text part what)
  string(FIND "${text}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: '${part}' not found in:\n${text}")
  endif()
endfunction()

# 1. Install, then move the prefix: nothing may depend on where it was installed.
run(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${WORK_DIR}/installed-here")
file(RENAME "${WORK_DIR}/installed-here" "${WORK_DIR}/prefix")
set(prefix "${WORK_DIR}/prefix")
set(vstream "${prefix}/bin/vstream")

# 2. The installed tool runs without LD_LIBRARY_PATH (its RPATH finds libvstream) and says its version.
run(COMMAND "${vstream}" --version)
if(NOT OUT STREQUAL "vstream ${VERSION}\n")
  message(FATAL_ERROR "vstream --version printed '${OUT}', not 'vstream ${VERSION}'")
endif()
message(STATUS "installed bin/vstream --version: ${OUT}")

# 3. Version policy of the CMake package: 0.x minors are not compatible with each other.
file(GLOB_RECURSE version_file "${prefix}/*/vstreamConfigVersion.cmake")
function(compatible find_version expected)
  set(PACKAGE_FIND_VERSION ${find_version})
  string(REPLACE "." ";" parts "${find_version}")
  list(GET parts 0 PACKAGE_FIND_VERSION_MAJOR)
  list(GET parts 1 PACKAGE_FIND_VERSION_MINOR)
  include("${version_file}")
  if(NOT "${PACKAGE_VERSION_COMPATIBLE}" STREQUAL "${expected}")
    message(FATAL_ERROR "vstream ${VERSION} compatible with a request for ${find_version}: "
                        "'${PACKAGE_VERSION_COMPATIBLE}', expected ${expected}")
  endif()
endfunction()
string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" major_minor "${VERSION}")
set(major ${CMAKE_MATCH_1})
set(minor ${CMAKE_MATCH_2})
math(EXPR next_minor "${minor} + 1")
math(EXPR next_major "${major} + 1")
compatible(${major}.${minor} TRUE)
compatible(${major}.${next_minor} FALSE)
compatible(${next_major}.0 FALSE)
if(major EQUAL 0 AND minor GREATER 0)
  math(EXPR previous_minor "${minor} - 1")
  compatible(0.${previous_minor} FALSE)  # 0.x: a newer minor is not compatible with an older one
endif()

# 4. An out-of-tree plugin, built against the installed package.
run(COMMAND ${CMAKE_COMMAND} -S "${PLUGIN_DIR}" -B "${WORK_DIR}/plugin-build" -G "${GENERATOR}"
            -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} -DVSTREAM_VERSION_WANTED=${major_minor})
run(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}/plugin-build")
set(plugin "${WORK_DIR}/plugin-build/libframe_stamp.so")
set(not_a_plugin "${WORK_DIR}/plugin-build/libnot_a_plugin.so")
foreach(library "${plugin}" "${not_a_plugin}")
  if(NOT EXISTS "${library}")
    message(FATAL_ERROR "the plugin project did not make ${library}")
  endif()
endforeach()

# 5. inspect lists the class, marked with its plugin (by its real path), and describes its parameters.
file(REAL_PATH "${plugin}" plugin_path)
run(COMMAND "${vstream}" inspect --plugin "${plugin}")
expect_in("${OUT}" "FrameStamp: Stamps frames with an object labelled `label` (a plugin built out of tree). [plugin ${plugin_path}]"
          "inspect --plugin")
expect_in("${OUT}" "SyntheticSource (source): " "inspect --plugin (built-in classes)")
run(COMMAND "${vstream}" inspect FrameStamp --plugin "${plugin}")
expect_in("${OUT}" "From plugin ${plugin_path}" "inspect FrameStamp")
expect_in("${OUT}" "label : string = stamp" "inspect FrameStamp")
expect_in("${OUT}" "every : int = 1 [1 .. 1000]" "inspect FrameStamp")

# 6. A pipeline through the plugin's module: SyntheticSource -> FrameStamp -> ResultSink.
file(WRITE "${WORK_DIR}/run/stamp.json" [[
// Two streams of 10 frames; FrameStamp marks frames 0, 3, 6 and 9 of each.
{
  "src": {"class_name": "SyntheticSource", "next_modules": ["stamp"],
          "custom_params": {"streams": 2, "frames": 10, "width": 32, "height": 16}},
  "stamp": {"class_name": "FrameStamp", "next_modules": ["out"], "custom_params": {"label": "stamped", "every": 3}},
  "out": {"class_name": "ResultSink", "custom_params": {"path": "stamps.jsonl"}}
}
]])
# The JSON lines `file` holds: 20 of them, and the 8 stamped frames carry the plugin's object.
function(check_stamps file)
  file(STRINGS "${file}" lines)
  list(LENGTH lines count)
  set(stamped 0)
  foreach(line IN LISTS lines)
    string(JSON index GET "${line}" frame_index)
    string(JSON objects LENGTH "${line}" objects)
    math(EXPR due "${index} % 3")
    if(due EQUAL 0)
      string(JSON label GET "${line}" objects 0 label)
      string(JSON frame GET "${line}" objects 0 attributes frame)
      if(NOT objects EQUAL 1 OR NOT label STREQUAL "stamped" OR NOT frame STREQUAL "${index}")
        message(FATAL_ERROR "${file}: frame ${index} should carry FrameStamp's object: ${line}")
      endif()
      math(EXPR stamped "${stamped} + 1")
    elseif(NOT objects EQUAL 0)
      message(FATAL_ERROR "${file}: frame ${index} should not be stamped: ${line}")
    endif()
  endforeach()
  if(NOT count EQUAL 20 OR NOT stamped EQUAL 8)
    message(FATAL_ERROR "${file}: ${count} lines (20 expected), ${stamped} stamped (8 expected)")
  endif()
endfunction()
run(COMMAND "${vstream}" check "${WORK_DIR}/run/stamp.json" EXPECT 2)  # no plugin: unknown class
expect_in("${ERR}" "FrameStamp" "check without the plugin")
run(COMMAND "${vstream}" run "${WORK_DIR}/run/stamp.json" --plugin "${plugin}")
check_stamps("${WORK_DIR}/run/stamps.jsonl")

# 7. The same with VSTREAM_PLUGIN_PATH: a folder of plugins (every *.so in it).
file(COPY "${plugin}" DESTINATION "${WORK_DIR}/plugins")
run(ENV "VSTREAM_PLUGIN_PATH=${WORK_DIR}/plugins"
    COMMAND "${vstream}" run "${WORK_DIR}/run/stamp.json" --set out.path=env.jsonl)
check_stamps("${WORK_DIR}/run/env.jsonl")

# 8. Errors: exit code 2 and a message that names the file and the reason.
run(COMMAND "${vstream}" inspect --plugin "${WORK_DIR}/missing.so" EXPECT 2)
expect_in("${ERR}" "plugin '${WORK_DIR}/missing.so': no such file" "a missing plugin")
file(WRITE "${WORK_DIR}/garbage.so" "This is no shared library, whatever its name says.\n")
run(COMMAND "${vstream}" inspect --plugin "${WORK_DIR}/garbage.so" EXPECT 2)
expect_in("${ERR}" "plugin '${WORK_DIR}/garbage.so': cannot load it: " "a file that is no library")
run(COMMAND "${vstream}" inspect --plugin "${not_a_plugin}" EXPECT 2)
expect_in("${ERR}" "registered no module class" "a library that is no plugin")
expect_in("${ERR}" "VSTREAM_REGISTER_MODULE" "a library that is no plugin")
run(ENV "VSTREAM_PLUGIN_PATH=${WORK_DIR}/plugins:${WORK_DIR}/nowhere" COMMAND "${vstream}" inspect EXPECT 2)
expect_in("${ERR}" "VSTREAM_PLUGIN_PATH: '${WORK_DIR}/nowhere': no such file or folder" "a missing VSTREAM_PLUGIN_PATH entry")
message(STATUS "plugin install test passed")
