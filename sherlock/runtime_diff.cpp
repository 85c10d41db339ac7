// SPDX-License-Identifier: Apache-2.0
#include "sherlock/runtime_diff.hpp"

#include <algorithm>
#include <cctype>

namespace dstack::sherlock {
namespace {

std::string ref(const std::string& backend, const std::string& server) {
  return backend + "/" + server;
}

std::string address_words(const PlannedServer& s) {
  return "addr " + s.address + " port " + std::to_string(s.port);
}

// What `set server` cannot change: TLS, its host, and HTTP/2 (a lingering server of a backend
// whose protocol changed comes back only through a reload).
bool same_transport(const PlannedServer& a, const PlannedServer& b) {
  return a.tls == b.tls && (!a.tls || a.host == b.host) && a.h2 == b.h2;
}

const PlannedBackend* find_backend(const Plan& plan, const std::string& service) {
  auto it = std::lower_bound(
      plan.backends.begin(), plan.backends.end(), service,
      [](const PlannedBackend& be, const std::string& name) { return be.service < name; });
  return it != plan.backends.end() && it->service == service ? &*it : nullptr;
}

// A server's limit as the backend's policy sets it; 0 is HAProxy's "no limit".
std::string maxconn_line(const std::string& server_ref, const PlannedBackend& be) {
  return "set maxconn server " + server_ref + " " + std::to_string(be.policy.max_conn.value_or(0));
}

// The pin map's commands that take `from`'s entries to `to`'s.
void diff_pins(const PlannedBackend& from, const PlannedBackend& to, const RuntimePaths& paths,
               RuntimeDiff& out) {
  const std::string be = backend_name(to.service);
  const auto before = version_pins(from), after = version_pins(to);
  if (before == after) return;
  // The runtime API splits a command at spaces: a run_dir with other characters than these (a
  // space, a quote) gets its pin map from a reload instead.
  const bool plain_path = std::all_of(paths.pin_map.begin(), paths.pin_map.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' ||
           c == '-';
  });
  if (!plain_path) {
    out.needs_reload = true;
    return;
  }
  auto emit = [&](std::string line) {
    out.commands.push_back(RuntimeCommand{std::move(line), {be, ""}, false});
  };
  for (const auto& [version, server] : before)
    if (!after.contains(version))
      emit("del map " + paths.pin_map + " " + pin_key(to.service, version));
  for (const auto& [version, server] : after) {
    auto old = before.find(version);
    if (old == before.end())
      emit("add map " + paths.pin_map + " " + pin_key(to.service, version) + " " + server);
    else if (old->second != server)
      emit("set map " + paths.pin_map + " " + pin_key(to.service, version) + " " + server);
  }
}

void diff_backend(const PlannedBackend& from, const PlannedBackend& to,
                  const std::map<ServerRef, PlannedServer>& lingering, const SherlockConfig& cfg,
                  const RuntimePaths& paths, RuntimeDiff& out) {
  const std::string be = backend_name(to.service);
  auto emit = [&](const std::string& server, std::string line, bool is_delete = false) {
    out.commands.push_back(RuntimeCommand{std::move(line), {be, server}, is_delete});
  };
  // Both server lists are sorted by name: one merge pass.
  auto a = from.servers.begin();
  auto b = to.servers.begin();
  while (a != from.servers.end() || b != to.servers.end()) {
    if (b == to.servers.end() || (a != from.servers.end() && a->name < b->name)) {
      const std::string r = ref(be, a->name);
      emit(a->name, "set server " + r + " state maint");
      emit(a->name, "del server " + r, true);
      out.deleting.emplace(ServerRef{be, a->name}, *a);
      ++a;
      continue;
    }
    if (a == from.servers.end() || b->name < a->name) {
      const std::string r = ref(be, b->name);
      auto old = lingering.find({be, b->name});
      if (old == lingering.end()) {
        emit(b->name, "add server " + r + " " + server_arguments(*b, to.policy, cfg, paths));
        emit(b->name, "enable health " + r);
        emit(b->name, "enable server " + r);
      } else if (!same_transport(old->second, *b)) {
        out.needs_reload = true;
      } else {
        emit(b->name, "set server " + r + " " + address_words(*b));
        emit(b->name, "set server " + r + " weight " + std::to_string(b->weight));
        // Its limit may be from before a max_conn change it missed while lingering.
        emit(b->name, maxconn_line(r, to));
        emit(b->name, "set server " + r + " state ready");
        out.revived.insert({be, b->name});
      }
      ++b;
      continue;
    }
    // The same server in both: the common case, so nothing is built unless it changed.
    if (!same_transport(*a, *b)) {
      out.needs_reload = true;
    } else {
      if (a->address != b->address || a->port != b->port)
        emit(b->name, "set server " + ref(be, b->name) + " " + address_words(*b));
      if (a->weight != b->weight)
        emit(b->name, "set server " + ref(be, b->name) + " weight " + std::to_string(b->weight));
    }
    ++a;
    ++b;
  }
  // A new limit for every server the backend has (a lingering one gets it when it comes back).
  if (from.policy.max_conn != to.policy.max_conn)
    for (const auto& s : to.servers) emit(s.name, maxconn_line(ref(be, s.name), to));
}

}  // namespace

RuntimeDiff runtime_diff(const Plan& applied, const std::map<ServerRef, PlannedServer>& lingering,
                         const Plan& desired, const SherlockConfig& config,
                         const RuntimePaths& paths) {
  RuntimeDiff out;
  if (needs_reload(applied, desired)) {
    out.needs_reload = true;
    return out;
  }
  for (std::size_t i = 0; i < desired.backends.size(); ++i) {
    // Backends the change did not touch still share their server list with the applied plan.
    if (applied.backends[i].servers.shares_with(desired.backends[i].servers) &&
        applied.backends[i].policy.max_conn == desired.backends[i].policy.max_conn)
      continue;
    diff_backend(applied.backends[i], desired.backends[i], lingering, config, paths, out);
    if (!config.version_header.empty())
      diff_pins(applied.backends[i], desired.backends[i], paths, out);
  }
  if (out.needs_reload) out.commands.clear();
  return out;
}

Plan runtime_part(const Plan& applied, const Plan& desired) {
  Plan out = applied;
  for (auto& be : out.backends) {
    const PlannedBackend* want = find_backend(desired, be.service);
    if (want != nullptr && same_shape(be, *want)) {
      be.servers = want->servers;
      be.policy.max_conn = want->policy.max_conn;
    }
  }
  return out;
}

}  // namespace dstack::sherlock
