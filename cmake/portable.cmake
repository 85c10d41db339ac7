# SPDX-License-Identifier: Apache-2.0
# DSTACK_PORTABLE: the programs the .rpm packages carry, built on Debian 12 to run on Rocky/RHEL 9
# and current Fedora (docs/install.md#what-the-rpm-packages-need). They may need only what those
# systems have: glibc 2.34, OpenSSL 3.0, libm. Everything else is linked in: libstdc++ and libgcc,
# yaml-cpp from Debian's static library, spdlog and fmt compiled from their headers.
# packaging/test-rpm-portability checks the result. Included by cmake/dependencies.cmake in place
# of finding yaml-cpp and spdlog; defines the same target names, so no consumer changes.
if(DSTACK_SANITIZE OR DSTACK_TSAN OR DSTACK_BUILD_FUZZ)
  message(FATAL_ERROR "DSTACK_PORTABLE is for the release build of the .rpm packages: "
                      "configure it without DSTACK_SANITIZE, DSTACK_TSAN and DSTACK_BUILD_FUZZ")
endif()

# yaml-cpp: libyaml-cpp-dev ships libyaml-cpp.a beside the shared library.
find_library(DSTACK_YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
find_path(DSTACK_YAML_CPP_INCLUDE yaml-cpp/yaml.h REQUIRED)
add_library(yaml-cpp STATIC IMPORTED)
set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION ${DSTACK_YAML_CPP_STATIC}
                                          INTERFACE_INCLUDE_DIRECTORIES ${DSTACK_YAML_CPP_INCLUDE})

# spdlog and fmt header-only: Debian ships no static libspdlog.a or libfmt.a, but both libraries
# compile inline from their headers (spdlog without SPDLOG_COMPILED_LIB, fmt with FMT_HEADER_ONLY).
find_path(DSTACK_SPDLOG_INCLUDE spdlog/spdlog.h REQUIRED)
find_path(DSTACK_FMT_INCLUDE fmt/format.h REQUIRED)
add_library(spdlog::spdlog INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL;FMT_HEADER_ONLY=1"
  INTERFACE_INCLUDE_DIRECTORIES "${DSTACK_SPDLOG_INCLUDE};${DSTACK_FMT_INCLUDE}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

# GCC's runtime statically, and the two glibc functions newer than 2.34 that it calls redirected
# to packaging/portable/glibc_compat.cpp, which every program gets.
target_link_options(dstack_options INTERFACE -static-libstdc++ -static-libgcc
                                             -Wl,--wrap=_dl_find_object -Wl,--wrap=arc4random)
set(glibc_compat ${PROJECT_SOURCE_DIR}/packaging/portable/glibc_compat.cpp)
target_sources(dstack_options INTERFACE
               $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${glibc_compat}>)
