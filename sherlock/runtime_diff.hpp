// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HAProxy runtime-API commands that take the servers HAProxy has to the servers a new plan
// wants, without a reload. Pure: no I/O.
//
// Per server (backend be_<service>, server named by the instance id):
// - new:      add server be/s <args> (it starts in maintenance); enable health; enable server
// - gone:     set server be/s state maint; del server be/s. HAProxy refuses the delete while
//             connections are attached; the server then lingers in maintenance (no traffic) and
//             the delete is retried later (docs/notes/haproxy-2.6.md §2.1).
// - back while lingering: set server addr/port, weight, maxconn, state ready (the same name
//   returns)
// - moved:    set server be/s addr A port P
// - weight:   set server be/s weight W
// - the policy's max_conn changed: set maxconn server be/s N on each server (0: no limit)
// - header pinning's map (with proxy.version_header): add map / set map / del map of the
//   backend's "<version>/<be>" keys whose first server changed
// A change HAProxy cannot make at runtime (TLS on or off, another TLS host, HTTP/2 on or off, a
// lingering server that comes back with other such settings) and any backend whose shape changed
// (needs_reload) make the diff ask for a reload instead.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sherlock/haproxy_config.hpp"
#include "sherlock/plan.hpp"

namespace dstack::sherlock {

// (backend name, server name)
using ServerRef = std::pair<std::string, std::string>;

struct RuntimeCommand {
  std::string line;
  ServerRef server;
  bool is_delete = false;  // a refused delete leaves the server lingering, not broken
};

struct RuntimeDiff {
  std::vector<RuntimeCommand> commands;
  bool needs_reload = false;
  // Servers this diff deletes, as they were: the caller keeps those whose delete is refused as
  // lingering.
  std::map<ServerRef, PlannedServer> deleting;
  // Lingering servers this diff brings back into service.
  std::set<ServerRef> revived;
};

// `lingering` are servers HAProxy still has in maintenance after a refused delete, with what
// they were (their TLS settings decide whether they can come back at runtime).
RuntimeDiff runtime_diff(const Plan& applied, const std::map<ServerRef, PlannedServer>& lingering,
                         const Plan& desired, const SherlockConfig& config,
                         const RuntimePaths& paths);

// `desired` cut to the structure of `applied`: backends of `applied` whose shape is unchanged
// in `desired` take desired's servers, every other backend of `applied` stays as it is. What can
// be applied at runtime while a reload waits for its slot.
Plan runtime_part(const Plan& applied, const Plan& desired);

}  // namespace dstack::sherlock
