// SPDX-License-Identifier: Apache-2.0
#pragma once
// The watson daemon: reads the service files (or takes quick mode's one service), checks and
// registers, serves the local API, reloads on SIGHUP and on changes in services_dir, and drains
// on SIGTERM. Returns the exit code.

#include <optional>

#include "watson/service_config.hpp"
#include "watson/watson_config.hpp"

namespace dstack::watson {

struct RunOptions {
  // Quick mode: this one service instead of services_dir.
  std::optional<ServiceDefinition> quick;
  // The local API's address was asked for (flag or file): failing to bind it is fatal. Otherwise
  // (quick mode's default) a busy port only costs the local API, so several quick-mode watsons
  // can share a host as they did in the seed.
  bool listen_required = true;
};

int run_daemon(const WatsonConfig& config, const RunOptions& options);

}  // namespace dstack::watson
