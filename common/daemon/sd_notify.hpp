// SPDX-License-Identifier: Apache-2.0
#pragma once
// systemd's notification protocol (sd_notify(3), "Notes": stable and meant to be reimplemented):
// one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET. Done here instead of linking
// libsystemd, which with the six libraries it pulls in costs every daemon about 1 MB of RSS for
// two calls.

#include <chrono>
#include <optional>
#include <string_view>

namespace dstack::daemon {

// Sends `state` ("READY=1", "WATCHDOG=1", ...); false when not under systemd or the send failed.
bool sd_notify_send(std::string_view state);

// The watchdog interval systemd asked this process for ($WATCHDOG_USEC, when $WATCHDOG_PID is
// unset or ours); nullopt when there is none.
std::optional<std::chrono::microseconds> sd_watchdog_interval();

}  // namespace dstack::daemon
