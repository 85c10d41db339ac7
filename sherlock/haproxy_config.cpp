// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <set>
#include <variant>

#include "common/model/url.hpp"
#include "common/model/validate.hpp"
#include "sherlock/request_log.hpp"

namespace dstack::sherlock {
namespace {

// Every check line in both the config and `add server`: HAProxy's own checks only prove the port
// answers (watson checks the application), and one failed live connection marks a server down
// at once instead of waiting for `fall` checks (docs/notes/haproxy-2.6.md §6).
constexpr const char* kCheckTail = " fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down";

// Host: <service>.service.dstack routes like Host: <service> (docs/sherlock.md#routing).
constexpr const char* kServiceDomain = ".service.dstack";

// A client's X-Request-ID is kept when it matches this (UUIDs, ULIDs, base64 and dotted forms);
// a HAProxy regex word: no space, quote, backslash or '#'.
constexpr std::string_view kRequestIdPattern = "^[A-Za-z0-9+/=._:-]{1,200}$";

std::string ms(Duration d) {
  return std::to_string(d.count()) + "ms";
}

// One config word as HAProxy's line parser reads it back: separators, comment, quote and escape
// characters backslash-escaped. Only operator-given paths need it; `$` is literal outside quotes.
std::string word(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '#' || c == '\\' || c == '\'' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

// A converter argument inside `name(...)`: quoted at the argument level when it holds anything
// the argument parser treats as syntax, then escaped as a word (configuration.txt §2.2).
std::string argument(std::string_view s) {
  const bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("/._-+@=:").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(s);
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return word(quoted + "\"");
}

// Inside a double-quoted HAProxy string: `"`, `\` and `$` (environment expansion) escaped,
// anything unprintable as \xNN, so the string stays one string on one line.
std::string quoted_text(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\' || c == '$') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c > 0x7e) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

bool numeric_ip(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  return ::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1;
}

// A URL host (DNS name, IPv4 or bare IPv6), as parse_instance_url accepts it.
bool valid_host(const std::string& host) {
  if (host.empty()) return false;
  const bool v6 = host.find(':') != std::string::npos;
  auto url = model::parse_instance_url("https://" + (v6 ? "[" + host + "]" : host));
  const auto* parsed = std::get_if<model::InstanceUrl>(&url);
  return parsed != nullptr && parsed->host == host;
}

bool valid_base_path(const std::string& path) {
  if (path.empty()) return true;
  auto url = model::parse_instance_url("http://h" + path);
  const auto* parsed = std::get_if<model::InstanceUrl>(&url);
  return parsed != nullptr && parsed->path == path;
}

// What make_plan guarantees, checked again: a hand-made plan must not reach the text unchecked.
bool valid_server(const PlannedServer& s) {
  return !model::check_instance_id(s.name) && numeric_ip(s.address) && s.port != 0 &&
         (!s.tls || valid_host(s.host));
}

bool valid_backend(const PlannedBackend& be) {
  return !model::check_service_name(be.service) &&
         (be.mode == PlannedBackend::Mode::tcp ? be.tcp_port != 0 : valid_base_path(be.base_path));
}

std::string regex_literal(std::string_view service) {
  std::string out;
  for (char c : service) {
    if (c == '.') out += '\\';  // service names hold no other regex syntax
    out += c;
  }
  return out;
}

// replace-path's replacement is a log-format string: a literal '%' is written "%%".
std::string log_format_literal(std::string_view path) {
  std::string out;
  for (char c : path) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

void global_section(std::string& out, const SherlockConfig& cfg, const RuntimePaths& paths) {
  // No `daemon`: the master runs in the foreground under sherlock (-W -S on the command line).
  out += "global\n";
  out += "    stats socket " + word(paths.admin_socket) + " mode 600 level admin\n";
  // A large runtime batch (one prompt-mode connection) must not be cut by the 10 s default.
  out += "    stats timeout 1h\n";
  out += "    server-state-file " + word(paths.state_file) + "\n";
  // Old workers keep draining keep-alive clients after a reload; this bounds how long.
  out += "    hard-stop-after 30s\n";
  // Per-request lines for insight and the access log (docs/insight.md#how-requests-are-seen):
  // into a ring that HAProxy forwards to sherlock's socket, holding what sherlock has not read.
  if (logs_requests(cfg)) out += "    log ring@requests len 4096 format raw local0 info\n";
  for (const auto& line : cfg.haproxy.extra_global) out += "    " + line + "\n";
}

// The ring behind insight and the access log: 8 MiB (tens of thousands of lines) in each
// HAProxy worker, sent newline-framed over a stream socket, reconnected when sherlock comes back.
void ring_section(std::string& out, const SherlockConfig& cfg, const RuntimePaths& paths) {
  if (!logs_requests(cfg)) return;
  out += "\nring requests\n";
  out += "    format raw\n";
  out += "    maxlen 4096\n";
  out += "    size 8388608\n";
  out += "    timeout connect 1s\n";
  out += "    timeout server 10s\n";
  out += "    server sherlock unix@" + word(paths.log_socket) + "\n";
}

void defaults_section(std::string& out, const SherlockConfig& cfg) {
  const auto& h = cfg.haproxy;
  const auto& t = h.timeouts;
  out += "\ndefaults\n";
  out += "    mode http\n";
  out += "    timeout connect " + ms(t.connect) + "\n";
  out += "    timeout client " + ms(t.client) + "\n";
  out += "    timeout server " + ms(t.server) + "\n";
  out += "    timeout check " + ms(t.check) + "\n";
  out += "    timeout tunnel " + ms(t.tunnel) + "\n";
  // A refused connection is retried on another server (safe even for POST: nothing was sent);
  // replays after a request was sent are limited to idempotent methods in each backend.
  out += "    retries " + std::to_string(h.retries) + "\n";
  out += "    option redispatch 1\n";
  out += "    retry-on conn-failure empty-response response-timeout\n";
  // Without it keep-alive clients see resets when a reload closes their idle connection.
  out += "    option idle-close-on-response\n";
  out += "    load-server-state-from-file global\n";
  for (const auto& line : h.extra_defaults) out += "    " + line + "\n";
}

void frontend_section(std::string& out, const SherlockConfig& cfg, const RuntimePaths& paths) {
  out += "\nfrontend fe_proxy\n";
  // HTTP/1.1, and HTTP/2 with prior knowledge (gRPC clients), on the same port: HAProxy tells
  // them apart by the connection preface.
  out += "    bind " + word(paths.proxy_bind) + "\n";
  // Streamed answers (server-sent events, gRPC streams, long polls) leave as they arrive: by
  // default HAProxy lets the kernel hold small writes back (MSG_MORE), some 200 ms per event.
  out += "    option http-no-delay\n";
  // Every request reaches the instance with one X-Request-ID: the client's when it sent exactly
  // one that looks like an id, else a random UUID, so one request can be followed across the
  // services it touches and no client writes arbitrary text into their logs
  // (docs/sherlock.md#request-ids). traceparent and tracestate pass untouched.
  out +=
      "    http-request set-header X-Request-ID %[uuid] unless { req.hdr_cnt(x-request-id) eq 1 } "
      "{ req.hdr(x-request-id) -m reg " +
      std::string(kRequestIdPattern) + " }\n";
  if (logs_requests(cfg)) {
    const bool access_log = !cfg.access_log.empty();
    if (access_log) out += "    http-request set-var(txn.rid) req.hdr(x-request-id)\n";
    out += "    log global\n";
    out += "    log-format \"" + std::string(access_log ? kLogFormat : kCountFormat) + "\"\n";
  }
  // Host: <service>[:port] or <service>.service.dstack[:port] first (host_only lowercases and
  // drops the port), keeping the whole path; else the first path segment, matched exactly (a
  // prefix match would send /emitterx to emitter).
  out += "    http-request set-var(txn.be) req.hdr(host),host_only,map_str(" +
         argument(paths.host_map) + ")\n";
  out += "    http-request set-var(txn.route) str(host) if { var(txn.be) -m found }\n";
  out += "    http-request set-var(txn.be) path,field(2,/),map_str(" + argument(paths.path_map) +
         ") unless { var(txn.be) -m found }\n";
  out +=
      "    http-request set-var(txn.route) str(path) if { var(txn.be) -m found } "
      "!{ var(txn.route) -m found }\n";
  // The body echoes the client's segment only through a whitelist and a length limit.
  out +=
      "    http-request return status 404 content-type text/plain lf-string \"unknown service: "
      "%[path,field(2,/),regsub([^A-Za-z0-9._-],_,g),bytes(0,64)]\\n\" "
      "hdr X-Content-Type-Options nosniff unless { var(txn.be) -m found }\n";
  out += "    use_backend %[var(txn.be)]\n";
}

void server_lines(std::string& out, const PlannedBackend& be, const SherlockConfig& cfg,
                  const RuntimePaths& paths) {
  for (const auto& s : be.servers) {
    if (!valid_server(s)) continue;
    out += "    server " + s.name + " " + server_arguments(s, be.policy, cfg, paths) + "\n";
  }
}

// The balance lines of a traffic policy; consistent hashing, so adding an instance moves about
// 1/N of the keys. Header and cookie names are validated to [A-Za-z0-9_-] (traffic_policy.hpp).
std::string balance_lines(const model::TrafficPolicy& p) {
  if (!p.balance) return "    balance roundrobin\n";
  switch (p.balance->kind) {
    case model::Balance::Kind::leastconn:
      return "    balance leastconn\n";
    case model::Balance::Kind::header:
      return "    balance hdr(" + p.balance->name + ")\n    hash-type consistent\n";
    case model::Balance::Kind::cookie:
      return "    balance hash req.cook(" + p.balance->name + ")\n    hash-type consistent\n";
    case model::Balance::Kind::roundrobin:
      break;
  }
  return "    balance roundrobin\n";
}

// What else a traffic policy sets on the backend (docs/sherlock.md#traffic-policies). Every value
// is a validated number, duration or word from a fixed list.
std::string policy_lines(const model::TrafficPolicy& p) {
  std::string out;
  if (p.retries) out += "    retries " + std::to_string(*p.retries) + "\n";
  if (!p.retry_on.empty()) {
    out += "    retry-on";
    for (const auto& w : p.retry_on) out += " " + w;
    out += "\n";
  }
  if (p.timeout) out += "    timeout server " + ms(*p.timeout) + "\n";
  // HAProxy reads 0 as "not set" (then it waits timeout connect): 1 ms is "do not queue".
  if (p.queue_timeout)
    out += "    timeout queue " + ms(std::max(*p.queue_timeout, Duration(1))) + "\n";
  return out;
}

void http_backend(std::string& out, const PlannedBackend& be, const SherlockConfig& cfg,
                  const RuntimePaths& paths) {
  const std::string svc = regex_literal(be.service);
  out += "\nbackend " + backend_name(be.service) + "\n";
  out += balance_lines(be.policy);
  out += policy_lines(be.policy);
  // A request other than GET, HEAD or OPTIONS is never sent twice: retried only when its
  // connection failed, before any of it was sent.
  out += "    http-request disable-l7-retry unless METH_GET || METH_OPTIONS\n";
  // /<svc>[/rest] becomes <base>/rest (the query is not part of the path, so it is kept).
  if (be.base_path.empty()) {
    out += "    http-request replace-path ^/" + svc + "/?(.*)$ /\\1";
  } else {
    out += "    http-request replace-path ^/" + svc + "(/.*)?$ " +
           log_format_literal(be.base_path) + "\\1";
  }
  out += " if { var(txn.route) -m str path }\n";
  out +=
      "    http-error status 503 content-type text/plain string \"no available instance of "
      "service " +
      quoted_text(be.service) + "\\n\"\n";
  // Header pinning (docs/sherlock.md#header-pinning): the header's version and the backend the
  // frontend chose (txn.be) pick a server from the pin map, kept current through the runtime
  // API; a request without the header costs one header lookup. use-server takes a server of
  // weight 0 (a version the route gives nothing) and passes over one that is down, and a key the
  // map lacks resolves to no server: both fall back to the split.
  if (!cfg.version_header.empty())
    out += "    use-server %[req.hdr(" + cfg.version_header + "),concat(/,txn.be),map_str(" +
           argument(paths.pin_map) + ")] if { req.hdr(" + cfg.version_header + ") -m found }\n";
  server_lines(out, be, cfg, paths);
}

void tcp_listener(std::string& out, const PlannedBackend& be, const SherlockConfig& cfg,
                  const RuntimePaths& paths) {
  const std::string tunnel = ms(cfg.haproxy.timeouts.tunnel);
  out += "\nlisten " + backend_name(be.service) + "\n";
  out += "    mode tcp\n";
  out += "    bind 127.0.0.1:" + std::to_string(be.tcp_port) + "\n";
  out += "    no option idle-close-on-response\n";  // HTTP only: HAProxy warns otherwise
  out += "    balance roundrobin\n";
  // A TCP client (a database pool) may idle for long between requests: only the tunnel timeout
  // should end its connection.
  out += "    timeout client " + tunnel + "\n";
  out += "    timeout server " + tunnel + "\n";
  server_lines(out, be, cfg, paths);
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

}  // namespace

RuntimePaths runtime_paths(const SherlockConfig& config) {
  std::string dir = config.haproxy.run_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir == "/") dir.clear();
  RuntimePaths p;
  p.path_map = dir + "/path.map";
  p.host_map = dir + "/host.map";
  p.pin_map = dir + "/pin.map";
  p.admin_socket = dir + "/admin.sock";
  p.state_file = dir + "/server-state";
  p.log_socket = dir + "/log.sock";
  if (!config.haproxy.ca_file.empty()) p.ca_file = config.haproxy.ca_file;
  p.proxy_bind = config.proxy.to_string();
  return p;
}

std::string backend_name(const std::string& service) {
  return "be_" + service;
}

std::string server_arguments(const PlannedServer& s, const model::TrafficPolicy& policy,
                             const SherlockConfig& config, const RuntimePaths& paths) {
  if (!valid_server(s)) return {};
  const bool v6 = s.address.find(':') != std::string::npos;
  std::string out = (v6 ? "[" + s.address + "]" : s.address) + ":" + std::to_string(s.port);
  out += " weight " + std::to_string(std::clamp(s.weight, 0, 256));
  // Without sni and verifyhost the certificate's name is not checked at all (§7).
  if (s.tls) {
    out += " ssl verify required ca-file " + word(paths.ca_file) + " sni str(" + s.host +
           ") verifyhost " + s.host;
  }
  // HTTP/2 to http2 and grpc instances (docs/sherlock.md#protocols): over TLS chosen by ALPN,
  // in the clear spoken at once (h2c with prior knowledge, as gRPC servers expect).
  if (s.h2) out += s.tls ? " alpn h2" : " proto h2";
  out += " check";
  // Explicit, though implied for config servers: `add server` checks over plain TCP without it.
  if (s.tls) out += " check-ssl check-sni " + s.host;
  out += " inter " + ms(config.haproxy.health_check_interval);
  // Ejection after N consecutive 5xx (circuit breaking): layer 7 observation counts failed
  // connections too, so they then also take N to eject instead of one.
  if (policy.eject_5xx)
    out += " fall 2 rise 2 observe layer7 error-limit " + std::to_string(*policy.eject_5xx) +
           " on-error mark-down";
  else
    out += kCheckTail;
  // Requests beyond it wait in the backend's queue (timeout queue), then get a 503.
  if (policy.max_conn) out += " maxconn " + std::to_string(*policy.max_conn);
  return out;
}

RenderedConfig render_haproxy_config(const Plan& plan, const SherlockConfig& config,
                                     const RuntimePaths& paths) {
  RenderedConfig r;
  r.haproxy_cfg =
      "# Written by sherlock from the directory at each reload; instance changes since then\n"
      "# were applied through the runtime API (sherlock's /v1/status shows them).\n";
  global_section(r.haproxy_cfg, config, paths);
  ring_section(r.haproxy_cfg, config, paths);
  defaults_section(r.haproxy_cfg, config);
  frontend_section(r.haproxy_cfg, config, paths);
  const std::set<std::string> not_hosts = {"localhost", "localhost.localdomain", "127.0.0.1",
                                           lower(config.proxy.host)};
  for (const auto& be : plan.backends) {
    if (!valid_backend(be)) continue;
    if (be.mode == PlannedBackend::Mode::tcp) {
      tcp_listener(r.haproxy_cfg, be, config, paths);
      continue;
    }
    http_backend(r.haproxy_cfg, be, config, paths);
    const std::string entry = be.service + " " + backend_name(be.service) + "\n";
    r.path_map += entry;
    // A service named like another's alias (api.service.dstack) would take that alias's traffic
    // from whoever serves api: it is reached by path, and by its own alias, only.
    if (!not_hosts.contains(be.service) && !be.service.ends_with(kServiceDomain))
      r.host_map += entry;
    r.host_map += be.service + kServiceDomain + " " + backend_name(be.service) + "\n";
  }
  r.pin_map = pin_map_text(plan, config);
  return r;
}

std::string pin_key(const std::string& service, const std::string& version) {
  return version + "/" + backend_name(service);
}

std::map<std::string, std::string> version_pins(const PlannedBackend& be) {
  std::map<std::string, std::string> out;
  if (be.mode != PlannedBackend::Mode::http) return out;
  for (const auto& s : be.servers)  // by name: the first of each version stays
    if (valid_server(s) && !s.version.empty()) out.emplace(s.version, s.name);
  return out;
}

std::string pin_map_text(const Plan& plan, const SherlockConfig& config) {
  if (config.version_header.empty()) return {};
  std::string out;
  for (const auto& be : plan.backends) {
    if (!valid_backend(be)) continue;
    for (const auto& [version, server] : version_pins(be))
      out += pin_key(be.service, version) + " " + server + "\n";
  }
  return out;
}

}  // namespace dstack::sherlock
