// SPDX-License-Identifier: Apache-2.0
#include "sherlock/sherlock_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include <filesystem>
#include <set>
#include <variant>

#include "common/config/checks.hpp"
#include "common/config/reader.hpp"
#include "common/log/log.hpp"
#include "common/model/validate.hpp"
#include "common/registry/address_config.hpp"

namespace dstack::sherlock {
namespace {

using namespace std::chrono_literals;

config::Check host_port_check(std::uint16_t default_port) {
  return [default_port](std::string_view text) -> std::optional<std::string> {
    auto parsed = net::parse_host_port(text, default_port);
    if (auto* why = std::get_if<std::string>(&parsed)) return *why;
    return std::nullopt;
  };
}

net::HostPort host_port(const std::string& text, std::uint16_t default_port) {
  return std::get<net::HostPort>(net::parse_host_port(text, default_port));
}

// Operator-written lines go into the HAProxy config as they are: one line each, nothing that
// could start another.
std::optional<std::string> one_line(std::string_view line) {
  for (unsigned char c : line)
    if (c < 0x20 && c != '\t') return std::string("must be one line without control characters");
  return std::nullopt;
}

std::optional<std::string> absolute_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::string("must be an absolute path");
  return one_line(path);
}

// Checked here: HAProxy would only notice at the first https instance, long after the start.
std::optional<std::string> readable_file(std::string_view path) {
  if (auto why = absolute_path(path)) return why;
  if (::access(std::string(path).c_str(), R_OK) != 0)
    return "cannot read " + std::string(path) + ": " + std::strerror(errno);
  return std::nullopt;
}

void read_haproxy(config::MapReader h, HaproxySettings& s) {
  s.binary = h.string("binary", s.binary, absolute_path);
  s.run_dir = h.string("run_dir", s.run_dir, absolute_path);
  auto manage = h.one_of("manage", "child", {"child", "external"});
  s.manage =
      manage == "external" ? HaproxySettings::Manage::external : HaproxySettings::Manage::child;
  s.reload_command = h.string("reload_command", "", one_line);
  if (s.manage == HaproxySettings::Manage::external && s.reload_command.empty())
    h.error("reload_command", "required with manage: external (e.g. systemctl reload haproxy)");
  s.min_reload_interval = h.duration("min_reload_interval", s.min_reload_interval, {0ms, 1h});
  s.retries = static_cast<int>(h.integer("retries", s.retries, {0, 10}));
  s.health_check_interval =
      h.duration("health_check_interval", s.health_check_interval, {100ms, 1h});
  s.ca_file = h.string("ca_file", "", readable_file);
  auto t = h.map("timeouts");
  s.timeouts.connect = t.duration("connect", s.timeouts.connect, {1ms, 1h});
  s.timeouts.client = t.duration("client", s.timeouts.client, {1ms, 24h});
  s.timeouts.server = t.duration("server", s.timeouts.server, {1ms, 24h});
  s.timeouts.check = t.duration("check", s.timeouts.check, {1ms, 1h});
  s.timeouts.tunnel = t.duration("tunnel", s.timeouts.tunnel, {1ms, 7 * 24h});
  s.extra_global = h.string_list("extra_global", {}, one_line);
  s.extra_defaults = h.string_list("extra_defaults", {}, one_line);
}

void read_tcp(config::MapReader r, SherlockConfig& cfg) {
  if (!r.has("tcp")) {
    r.map("tcp");  // `tcp:` with no value: nothing to read, not unknown
    return;
  }
  auto tcp = r.map("tcp");
  std::set<std::int64_t> ports;
  for (const auto& service : tcp.keys()) {
    auto port = tcp.integer(service, 0, {1, 65535});
    if (auto why = config::without_field(model::check_service_name(service, ""))) {
      tcp.error(service, *why);
      continue;
    }
    if (port == 0) continue;  // reported by integer()
    if (!ports.insert(port).second) {
      tcp.error(service, "port " + std::to_string(port) + " is given to another service too");
      continue;
    }
    if (port == cfg.proxy.port) {
      tcp.error(service, "port " + std::to_string(port) + " is the proxy's (proxy.listen)");
      continue;
    }
    cfg.tcp[service] = static_cast<std::uint16_t>(port);
  }
}

}  // namespace

std::string default_consumer_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return {};
  std::string host(name);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!model::check_consumer_name(host)) return host;
  host = host.substr(0, host.find('.'));  // web-1.example.internal -> web-1
  return model::check_consumer_name(host) ? std::string() : host;
}

SherlockConfig default_sherlock_config() {
  SherlockConfig cfg;
  cfg.consumer = default_consumer_name();
  cfg.directories = registry::default_directories();
  return cfg;
}

namespace {

// Everything after the YAML is parsed, shared by load_sherlock_config and parse_sherlock_config.
SherlockConfig read_sherlock_config(const config::Document& doc, config::Errors& errors) {
  SherlockConfig cfg = default_sherlock_config();
  config::MapReader r(doc, errors);

  cfg.directories = registry::read_directories(r, doc, errors);
  cfg.consumer =
      r.string("consumer", default_consumer_name(), config::model_rule(model::check_consumer_name));
  auto proxy = r.map("proxy");
  cfg.proxy =
      host_port(proxy.string("listen", cfg.proxy.to_string(), host_port_check(kDefaultProxyPort)),
                kDefaultProxyPort);
  cfg.version_header = proxy.string(
      "version_header", cfg.version_header, [](std::string_view v) -> std::optional<std::string> {
        const bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                        });
        if (ok) return std::nullopt;
        return "must be a header name of letters, digits and '-' (at most 64), or empty for none";
      });
  read_tcp(r, cfg);
  read_haproxy(r.map("haproxy"), cfg.haproxy);
  cfg.state_dir = r.string("state_dir", cfg.state_dir, absolute_path);
  cfg.token_file = registry::read_token_file(r, cfg.token);
  cfg.directory_ca_file = r.string("directory_ca_file", "", readable_file);
  registry::read_client_certificate(r, cfg.tls_cert, cfg.tls_key);
  cfg.listen =
      host_port(r.string("listen", cfg.listen.to_string(), host_port_check(kDefaultListenPort)),
                kDefaultListenPort);
  cfg.log_level = r.string("log_level", cfg.log_level, log::check_level);
  cfg.access_log = r.string("access_log", "", [](std::string_view v) -> std::optional<std::string> {
    if (v == "stdout") return std::nullopt;
    if (auto why = absolute_path(v)) return *why + ", or stdout";
    return std::nullopt;
  });
  if (cfg.listen.to_string() == cfg.proxy.to_string())
    r.error("listen", "is the same address as proxy.listen");
  cfg.insight = r.boolean("insight", cfg.insight);
  cfg.report_interval = r.duration("report_interval", cfg.report_interval,
                                   {std::chrono::seconds(1), std::chrono::hours(1)});

  r.finish();
  errors.throw_if_any();
  return cfg;
}

}  // namespace

SherlockConfig load_sherlock_config(const std::string& path, bool must_exist) {
  if (!must_exist && !std::filesystem::exists(path)) return default_sherlock_config();
  config::Errors errors;
  auto doc = config::load_file(path, errors);
  if (!doc) errors.throw_if_any();
  return read_sherlock_config(*doc, errors);
}

SherlockConfig parse_sherlock_config(std::string_view text, const std::string& file) {
  config::Errors errors;
  auto doc = config::parse_text(text, file, errors);
  if (!doc) errors.throw_if_any();
  return read_sherlock_config(*doc, errors);
}

void apply_overrides(SherlockConfig& cfg, const SherlockOverrides& flags) {
  std::vector<std::string> problems;
  registry::override_directories(cfg.directories, flags.directories, problems);
  if (flags.proxy_port != 0) {
    if (flags.proxy_port < 1 || flags.proxy_port > 65535)
      problems.push_back("--proxy-port: " + std::to_string(flags.proxy_port) +
                         " is out of range 1..65535");
    else
      cfg.proxy.port = static_cast<std::uint16_t>(flags.proxy_port);
  }
  if (!flags.log_level.empty()) {
    if (auto why = log::check_level(flags.log_level))
      problems.push_back("--log-level: " + *why);
    else
      cfg.log_level = flags.log_level;
  }
  if (auto why = registry::check_token_for(cfg.directories, cfg.token))
    problems.push_back("token_file: " + *why);
  if (!problems.empty()) throw config::ConfigError(problems);
}

}  // namespace dstack::sherlock
