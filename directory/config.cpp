// SPDX-License-Identifier: Apache-2.0
#include "directory/config.hpp"

#include <arpa/inet.h>

#include <filesystem>

#include "common/config/checks.hpp"
#include "common/config/reader.hpp"
#include "common/log/log.hpp"
#include "common/net/tls.hpp"
#include "directory/token_secret.hpp"

namespace dstack::directory {

using namespace std::chrono_literals;

namespace {
std::optional<std::string> check_listen(std::string_view text) {
  auto parsed = net::parse_host_port(text, 7400);
  if (auto* why = std::get_if<std::string>(&parsed)) return *why;
  return std::nullopt;
}

// Everything after the YAML is parsed, shared by load_config and parse_config.
DirectoryConfig read_config(const config::Document& doc, config::Errors& errors,
                            const std::string& token_file_flag) {
  DirectoryConfig cfg;
  config::MapReader r(doc, errors);

  auto listen = r.string("listen", cfg.listen.to_string(), check_listen);
  auto parsed = net::parse_host_port(listen, 7400);
  if (auto* hp = std::get_if<net::HostPort>(&parsed)) cfg.listen = *hp;
  cfg.data_dir = r.string("data_dir", cfg.data_dir);
  cfg.token_file = r.string("token_file", "", [&](std::string_view path) {
    if (!token_file_flag.empty()) return std::optional<std::string>{};  // the flag wins
    auto why = config::read_token(path, cfg.token);  // now: --check-config reports it
    if (!why) why = check_admin_token(cfg.token);
    return why;
  });
  cfg.log_level = r.string("log_level", cfg.log_level, log::check_level);
  auto auth = r.map("auth");
  if (auth.has("anonymous"))
    cfg.anonymous = auth.one_of("anonymous", "read", {"read", "none"}) == "none" ? Anonymous::none
                                                                                 : Anonymous::read;

  if (r.has("tls")) {
    auto tls = r.map("tls");
    auto file = config::readable_file;
    cfg.tls = net::ServerTls{tls.required_string("cert", file), tls.required_string("key", file),
                             tls.string("client_ca", "", file)};
    if (errors.empty()) {
      // Readable is not enough: the files must also be a matching PEM certificate and key.
      try {
        net::make_server_context(*cfg.tls);
      } catch (const std::runtime_error& e) {
        tls.error("", e.what());
      }
    }
  }

  auto lease = r.map("lease");
  // Leases count whole seconds on the wire, so 1500ms would be silently cut: refuse it.
  auto ttl = [&lease](std::string_view key, std::chrono::seconds def) {
    auto d = lease.duration(key, def, {1s, 24h});
    if (d % 1s != 0ms) lease.error(key, "must be a whole number of seconds");
    return std::chrono::duration_cast<std::chrono::seconds>(d);
  };
  cfg.state.min_ttl = ttl("min_ttl", cfg.state.min_ttl);
  cfg.state.max_ttl = ttl("max_ttl", cfg.state.max_ttl);
  cfg.state.default_ttl = ttl("default_ttl", cfg.state.default_ttl);
  if (cfg.state.min_ttl > cfg.state.max_ttl) lease.error("min_ttl", "is above lease.max_ttl");
  if (cfg.state.default_ttl < cfg.state.min_ttl || cfg.state.default_ttl > cfg.state.max_ttl)
    lease.error("default_ttl", "must lie between lease.min_ttl and lease.max_ttl");
  cfg.state.sync_grace = r.duration("sync_grace", 0ms, {0ms, 24h});
  cfg.watch_keepalive = r.duration("watch_keepalive", cfg.watch_keepalive, {100ms, 1h});
  cfg.watch_io_uring = r.boolean("watch_io_uring", cfg.watch_io_uring);
  cfg.traffic_window = r.duration("traffic_window", cfg.traffic_window, {1min, 1h});

  auto l = r.map("limits");
  auto& lim = cfg.limits;
  lim.max_body = l.size("max_body", lim.max_body, {1024, 64 << 20});
  lim.max_header = l.size("max_header", lim.max_header, {1024, 1 << 20});
  lim.idle_timeout = l.duration("idle_timeout", lim.idle_timeout, {100ms, 1h});
  lim.request_timeout = l.duration("request_timeout", lim.request_timeout, {100ms, 1h});
  lim.write_timeout = l.duration("write_timeout", lim.write_timeout, {100ms, 1h});
  lim.max_connections = static_cast<std::size_t>(
      l.integer("max_connections", static_cast<std::int64_t>(lim.max_connections), {1, 1000000}));
  lim.max_stream_buffer = l.size("watch_buffer", lim.max_stream_buffer, {64 << 10, 1 << 30});
  cfg.state.max_instances_per_lease = static_cast<std::size_t>(
      l.integer("max_instances_per_lease",
                static_cast<std::int64_t>(cfg.state.max_instances_per_lease), {1, 1000000}));
  cfg.state.history = static_cast<std::size_t>(
      l.integer("watch_history", static_cast<std::int64_t>(cfg.state.history), {1, 10000000}));

  r.finish();
  errors.throw_if_any();
  return cfg;
}

bool loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

}  // namespace

Anonymous anonymous_access(const DirectoryConfig& cfg) {
  if (cfg.anonymous) return *cfg.anonymous;
  return loopback_host(cfg.listen.host) ? Anonymous::read : Anonymous::none;
}

DirectoryConfig load_config(const std::string& path, bool must_exist,
                            const std::string& token_file_flag) {
  if (!must_exist && !std::filesystem::exists(path)) return {};
  config::Errors errors;
  auto doc = config::load_file(path, errors);
  if (!doc) errors.throw_if_any();
  return read_config(*doc, errors, token_file_flag);
}

DirectoryConfig parse_config(std::string_view text, const std::string& file,
                             const std::string& token_file_flag) {
  config::Errors errors;
  auto doc = config::parse_text(text, file, errors);
  if (!doc) errors.throw_if_any();
  return read_config(*doc, errors, token_file_flag);
}

void apply_overrides(DirectoryConfig& cfg, const std::string& listen, const std::string& data_dir,
                     const std::string& token_file, const std::string& log_level) {
  std::vector<std::string> problems;
  if (!listen.empty()) {
    auto parsed = net::parse_host_port(listen, 7400);
    if (auto* why = std::get_if<std::string>(&parsed))
      problems.push_back("--listen: " + *why);
    else
      cfg.listen = std::get<net::HostPort>(parsed);
  }
  if (!log_level.empty()) {
    if (auto why = log::check_level(log_level))
      problems.push_back("--log-level: " + *why);
    else
      cfg.log_level = log_level;
  }
  if (!data_dir.empty()) cfg.data_dir = data_dir;
  if (!token_file.empty()) {
    auto why = config::read_token(token_file, cfg.token);
    if (!why) why = check_admin_token(cfg.token);
    if (why) problems.push_back("--token-file: " + *why);
    cfg.token_file = token_file;
  }
  if (!problems.empty()) throw config::ConfigError(problems);
}

}  // namespace dstack::directory
