// SPDX-License-Identifier: Apache-2.0
#pragma once
// What HAProxy should serve, decided from the directory's view: one backend per service, one
// server per usable instance with its weight. Pure: no I/O. Host names in instance URLs are
// looked up in `addresses` (sherlock resolves them elsewhere, off this path).
//
// Rules (docs/sherlock.md repeats them):
// - Every value is validated again here (docs/api.md#names-and-values), whatever the directory
//   said: an instance or route that fails is left out and reported in `Plan::problems`, never
//   rendered. That is every field model::validate_instance checks (lease and meta too, though
//   they are never rendered), an instance or route naming another service than the one it is
//   filed under, a health outside the enum, and a repeated instance id (the first is kept). A
//   service whose name fails gets no backend at all.
// - A service's instances are served over HTTP (`http://`, `https://` URLs) through the proxy
//   port, or over TCP (`tcp://` URLs) through its own listener when sherlock.yaml gives it a
//   port under `tcp:`. An instance of the other kind than its service's is left out and
//   reported; a tcp service without a `tcp:` port (every valid instance is tcp://) is reported
//   and not served.
// - The protocol (http, http2 or grpc; model::protocol_of): all instances of an HTTP service must
//   speak the same, since HAProxy speaks one to the backend's servers; http2 and grpc are
//   reached over HTTP/2. The protocol most instances have wins (ties: http, http2, grpc, in
//   that order); instances with another are left out and reported.
// - The base path: the path of the instances' URLs. All instances of a service must share it,
//   because HAProxy rewrites the path before it picks a server. The path most instances have
//   wins (ties: the shorter, then the smaller); instances with another path are left out and
//   reported. Unresolved instances count too, so a name that stops resolving for a while does
//   not move the base path (a reload).
// - An instance whose host does not resolve (absent from `addresses`) is left out for now. A
//   lookup that is not a numeric IP is refused; addresses are written canonically (inet_ntop).
// - Weights come from weights.hpp (routes, versions, health); left-out instances are not
//   counted. Instances that take no traffic (critical, maintenance, weight 0) stay servers at
//   weight 0, so a flap is a weight change, not a new server. A service with no usable instance
//   still gets its backend (its requests get 503, not 404).
// - `services` in the view that have only routes and no instance are served the same way
//   (an empty backend: 503). A traffic policy alone makes no backend.
// - The service's traffic policy (docs/sherlock.md#traffic-policies) is validated again and
//   carried on its backend without its service and revision, so only a change of what it says
//   changes the plan. A policy that fails validation is ignored and reported (the service is
//   served with sherlock.yaml's defaults); a tcp service's policy is ignored and reported too.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/model/model.hpp"
#include "sherlock/shared_list.hpp"
#include "sherlock/sherlock_config.hpp"

namespace dstack::sherlock {

struct PlannedServer {
  std::string name;     // the instance id: HAProxy server names allow exactly its characters
  std::string address;  // a numeric IPv4 or IPv6 address
  std::uint16_t port = 0;
  bool tls = false;
  std::string host;  // the URL's host: the SNI and the name verified, for tls
  int weight = 0;    // 0..256
  bool h2 = false;   // spoken to over HTTP/2: h2c, or h2 by ALPN over tls
  // The instance's version, for header pinning's map (docs/sherlock.md#header-pinning); empty
  // when it may not take traffic (not healthy, or weight 0), so no pinned request reaches it.
  std::string version;
  bool operator==(const PlannedServer&) const = default;
};

struct PlannedBackend {
  enum class Mode { http, tcp };
  std::string service;
  Mode mode = Mode::http;
  std::string base_path;              // http: "" for the root, else "/emitter" (no trailing '/')
  std::uint16_t tcp_port = 0;         // tcp: the listener's port on 127.0.0.1
  SharedList<PlannedServer> servers;  // by name; shared between copies of a plan
  model::Protocol protocol = model::Protocol::http;  // http: http, http2 or grpc; tcp: tcp
  model::TrafficPolicy policy;                       // http only; service and revision left empty
  bool operator==(const PlannedBackend&) const = default;
};

struct Plan {
  std::vector<PlannedBackend> backends;  // by service name
  std::vector<std::string> problems;     // what was left out and why, one line each
};

// One service as the directory has it.
struct ServiceView {
  std::vector<model::Instance> instances;
  std::vector<model::Route> routes;
  std::optional<model::TrafficPolicy> policy;
};

Plan make_plan(const std::map<std::string, ServiceView>& services, const SherlockConfig& config,
               const std::map<std::string, std::string>& addresses);

// Whether two backends have the same shape: service, mode, protocol, base path, tcp port and
// traffic policy but its max_conn, all of which only a new HAProxy configuration changes.
bool same_shape(const PlannedBackend& a, const PlannedBackend& b);

// True when going from `a` to `b` needs a new HAProxy configuration (a reload): services added
// or removed, or a backend's shape changed. Servers, their addresses, ports, TLS
// and weights change through the runtime API.
bool needs_reload(const Plan& a, const Plan& b);

}  // namespace dstack::sherlock
