// SPDX-License-Identifier: Apache-2.0
#pragma once
// The HAProxy configuration for a Plan, as text. Pure: no I/O. Everything that reaches the text
// has been validated (plan.hpp) or comes from sherlock.yaml, so no value can add a line.
//
// Shape (see docs/notes/haproxy-2.6.md for why each setting is there; every one was tested):
// - global: master CLI is on the command line; an admin stats socket in run_dir (stats timeout
//   1h: a large runtime-API batch must not be cut); the server state file in run_dir;
//   hard-stop-after; extra_global lines.
// - defaults: mode http, the timeouts, retries + option redispatch 1 + retry-on conn-failure
//   empty-response response-timeout, option idle-close-on-response,
//   load-server-state-from-file global; extra_defaults lines.
// - with access_log: `log ring@requests ... format raw` in global, a `ring requests` section
//   (8 MiB) forwarded to the stream socket <run_dir>/log.sock, and the proxy frontend logs each
//   request there in request_log.hpp's kLogFormat.
// - frontend on proxy.listen (HTTP/1.1 and HTTP/2 with prior knowledge), option http-no-delay
//   (streamed answers are not held back), X-Request-ID set to a random UUID unless the client
//   sent one: Host (host_only) looked up in host.map first, where
//   each service is there as <service> and <service>.service.dstack, else the first path segment
//   looked up exactly in path.map (so /emitterx is not emitter); unknown: 404 whose one-line
//   body names a sanitised, truncated service name.
// - one backend per http service: path rewrite (the /svc prefix replaced by the base path, the
//   query kept) only when routed by path; L7 retries only for GET and OPTIONS; a 503 with a
//   one-line body when no server can take the request; balance roundrobin unless the service's
//   traffic policy says otherwise, and the policy's retries, retry-on, timeout server and
//   timeout queue (docs/sherlock.md#traffic-policies); one server line per
//   planned server: address:port, weight, TLS (ssl verify required, ca-file, sni, verifyhost)
//   when tls, HTTP/2 for http2 and grpc services (`proto h2`, or `alpn h2` with tls), and
//   `check inter <health_check_interval> fall 2 rise 2 observe layer4 error-limit 1
//   on-error mark-down` (a plain TCP check: the service's own health path is unknown here, and
//   watson checks the application), or `observe layer7 error-limit N` for a policy's eject, and
//   the policy's `maxconn`.
// - one `listen` in mode tcp per tcp service on 127.0.0.1:<port>, named like a backend, with
//   the tunnel timeout as its client and server timeouts and the same server lines (TLS only
//   for tls servers).
// Operator paths (run_dir, ca_file) are escaped for HAProxy's parser; a run_dir holding ','
// still fails `haproxy -c` (its address parser splits on it), which is safe but not useful.
// A plan entry that make_plan could not have produced (an invalid service or server name,
// address, host or base path) is left out of the text rather than trusted.

#include <map>
#include <string>

#include "sherlock/plan.hpp"
#include "sherlock/sherlock_config.hpp"

namespace dstack::sherlock {

struct RenderedConfig {
  std::string haproxy_cfg;
  std::string path_map;  // "<service> <backend>\n" per http service
  // The same keys, for Host: <service>[:port], except names clients use to reach the proxy
  // itself (`localhost`, `localhost.localdomain`, `127.0.0.1`, the proxy's listen host): Host
  // routing is tried first, so such a service would capture every request, and names ending in
  // .service.dstack, which would capture another service's alias; and
  // "<service>.service.dstack <backend>\n" for every http service.
  std::string host_map;
  // "<version>/<backend> <server>\n": for header pinning, the server a pinned request of each
  // version goes to (pin_map_text).
  std::string pin_map;
};

// Header pinning's map key: "<version>/<backend>", the header's value and the frontend's choice.
std::string pin_key(const std::string& service, const std::string& version);
// Header pinning's entries of one http backend: each version its servers have -> the first of
// them by name (tcp backends: none).
std::map<std::string, std::string> version_pins(const PlannedBackend& be);
// The pin map of a plan, "<version>/<backend> <server>\n" per entry. Empty without
// proxy.version_header.
std::string pin_map_text(const Plan& plan, const SherlockConfig& config);

// Paths used inside the text.
struct RuntimePaths {
  std::string path_map;      // <run_dir>/path.map
  std::string host_map;      // <run_dir>/host.map
  std::string pin_map;       // <run_dir>/pin.map
  std::string admin_socket;  // <run_dir>/admin.sock
  std::string state_file;    // <run_dir>/server-state
  std::string log_socket;    // <run_dir>/log.sock: per-request lines, with access_log
  std::string ca_file = "@system-ca";
  // What the proxy frontend binds: proxy.listen, or fd@N for the socket sherlock holds and
  // hands HAProxy (proxy_listener.hpp).
  std::string proxy_bind;
};
RuntimePaths runtime_paths(const SherlockConfig& config);

RenderedConfig render_haproxy_config(const Plan& plan, const SherlockConfig& config,
                                     const RuntimePaths& paths);

// What follows `server <name>` for one server (address:port, weight, TLS, checks, and the
// backend's policy's ejection and maxconn): the same words in the config and in the runtime
// API's `add server`.
std::string server_arguments(const PlannedServer& server, const model::TrafficPolicy& policy,
                             const SherlockConfig& config, const RuntimePaths& paths);

// The backend name of a service (`be_<service>`), the same in the config and the runtime API.
std::string backend_name(const std::string& service);

}  // namespace dstack::sherlock
