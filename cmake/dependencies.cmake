# SPDX-License-Identifier: Apache-2.0
# Every dependency is a Debian 12 package; scripts/install-deps installs them.
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
if(DSTACK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
