// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock as a daemon, and its one-shot modes.

#include <string>

#include "sherlock/handover.hpp"
#include "sherlock/sherlock_config.hpp"

namespace dstack::sherlock {

// Runs until SIGTERM/SIGINT: HAProxy is stopped gracefully, then sherlock exits 0. SIGHUP hands
// HAProxy over to `self` started afresh (handover.hpp).
int run_daemon(const SherlockConfig& config, const SelfCommand& self);

// --render: the HAProxy config sherlock would run now (from the first directory that answers,
// else the saved view), with its maps as comments at the end.
int render_now(const SherlockConfig& config);

// --check-config's second half: the config rendered for no services through `haproxy -c` (when
// the binary exists), so extra_global/extra_defaults mistakes show before a start.
int check_with_haproxy(const SherlockConfig& config);

}  // namespace dstack::sherlock
