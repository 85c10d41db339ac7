// SPDX-License-Identifier: Apache-2.0
#pragma once
// Handing HAProxy over to a fresh sherlock (SIGHUP, `systemctl reload dstack-sherlock`): the
// sherlock binary at the path this one was started from (a package upgrade may have replaced it)
// re-reads sherlock.yaml, and HAProxy serves throughout. The steps, in sherlock's daemon:
//   1. `SELF ARGS... --check-config` must pass, else nothing changes (the error is logged);
//   2. the watcher and the HAProxy manager stop, HAProxy is left running, the view is saved to
//      state_dir and the resolved host addresses beside it;
//   3. sherlock execs itself with the same pid, so HAProxy stays its child and systemd's main
//      process; the new image loads the saved view and takes HAProxy over with a hitless reload.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/net/asio.hpp"
#include "sherlock/proxy_listener.hpp"

namespace dstack::sherlock {

// How this sherlock was started: the program's path (absolute, found on PATH when argv[0] had no
// slash) and its arguments, argv[0] first.
struct SelfCommand {
  std::string path;
  std::vector<std::string> argv;
};
SelfCommand self_command(int argc, char** argv);

// Runs `SELF ARGS... --check-config`; nullopt when it passes, else what it said.
awaitable<std::optional<std::string>> check_successor(SelfCommand self);

// Host addresses the next sherlock starts with, so instances named by host are not left out of
// the plan it takes HAProxy over with. Kept in state_dir; read once, then removed. Addresses
// older than a minute are ignored (the file is left from a handover that never happened).
void save_handover_addresses(const std::string& state_dir,
                             const std::map<std::string, std::string>& addresses);
std::map<std::string, std::string> take_handover_addresses(const std::string& state_dir);

// From the moment a handover is committed, SIGTERM and SIGINT are only noted (by a handler of
// our own, whichever thread takes them) rather than handed to this image's signal set, which
// will not run again; SIGHUP is dropped (this handover is what it asks for). Called on the
// thread that will exec.
void hold_stop_signals();
// Whether a SIGTERM or SIGINT was noted since hold_stop_signals().
bool stop_signal_held();

// Reaps children that ended before this image could (an HAProxy that exited during the
// handover), so none stays a zombie. Live ones are left alone.
void reap_exited_children();

// Replaces this process with `self`, every descriptor closed on exec but the proxy's listening
// socket, which `listener` passes on. A stop noted since hold_stop_signals(), or
// `then_terminate` (one this image took earlier), is raised again as one blocked SIGTERM,
// pending across exec for the new image's daemon::Signals. Returns only when exec failed, with
// why.
std::string exec_self(const SelfCommand& self, bool then_terminate, const ProxyListener& listener);

}  // namespace dstack::sherlock
