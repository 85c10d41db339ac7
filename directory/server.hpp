// SPDX-License-Identifier: Apache-2.0
#pragma once
// The directory daemon put together: route store, state, API, HTTP server, timers and signals,
// on one io_context thread. Returns the process exit code.

#include <string>

#include "directory/config.hpp"

namespace dstack::directory {

struct Identity {
  std::string name;       // -n
  std::string advertise;  // -a
};

int run(const DirectoryConfig& config, const Identity& identity);

}  // namespace dstack::directory
