# SPDX-License-Identifier: Apache-2.0
# Every dependency is a Debian 12 package; scripts/install-deps installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(CLI11 REQUIRED)
# RapidJSON, header-only: the directory's reader of traffic reports (docs/benchmarks.md).
find_path(DSTACK_RAPIDJSON_INCLUDE rapidjson/reader.h REQUIRED)
# liburing: the watch stream's batched sends (docs/directory.md#watch-fan-out). Its static
# library always, so that no package needs liburing at run time (liburing-dev ships it).
find_library(DSTACK_URING_STATIC NAMES liburing.a REQUIRED)
find_path(DSTACK_URING_INCLUDE liburing.h REQUIRED)
add_library(uring STATIC IMPORTED)
set_target_properties(uring PROPERTIES IMPORTED_LOCATION ${DSTACK_URING_STATIC}
                                       INTERFACE_INCLUDE_DIRECTORIES ${DSTACK_URING_INCLUDE})
# The .rpm build links yaml-cpp, spdlog and fmt into the programs (cmake/portable.cmake).
if(DSTACK_PORTABLE)
  include(cmake/portable.cmake)
else()
  find_package(yaml-cpp REQUIRED)
  find_package(spdlog REQUIRED)
endif()
if(DSTACK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
