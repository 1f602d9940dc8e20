# Settings that must precede every option and target: included from the top-level CMakeLists.txt
# right after project().

# Tests, benchmarks, the tool and the samples are built by default only when vstream is the
# top-level project, not when another project adds it (add_subdirectory, FetchContent).
if(PROJECT_IS_TOP_LEVEL)
  set(VSTREAM_EXTRAS_DEFAULT ON)
else()
  set(VSTREAM_EXTRAS_DEFAULT OFF)
endif()
option(VSTREAM_BUILD_TESTS "Build the GoogleTest suites" ${VSTREAM_EXTRAS_DEFAULT})
option(VSTREAM_BUILD_BENCH "Build the benchmarks in bench/" ${VSTREAM_EXTRAS_DEFAULT})
option(VSTREAM_BUILD_TOOLS "Build the vstream command-line tool" ${VSTREAM_EXTRAS_DEFAULT})
option(VSTREAM_BUILD_SAMPLES "Build the programs in samples/" ${VSTREAM_EXTRAS_DEFAULT})

# Installed programs (bin/vstream) find libvstream from their own folder, whatever the prefix, with
# no LD_LIBRARY_PATH. -DCMAKE_INSTALL_RPATH= (empty) installs without it.
include(GNUInstallDirs)
if(NOT DEFINED CMAKE_INSTALL_RPATH)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(CMAKE_INSTALL_RPATH "${CMAKE_INSTALL_LIBDIR}")
  else()
    set(CMAKE_INSTALL_RPATH "\$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  endif()
endif()

# vstream_add_module_library and vstream_link_whole: what find_package(vstream) offers plugin
# authors, used by our own tests too.
include(${CMAKE_CURRENT_LIST_DIR}/vstreamModule.cmake)
