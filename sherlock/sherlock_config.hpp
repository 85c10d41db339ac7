// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock.yaml (docs/sherlock.md#sherlockyaml): every key, its default and its bounds.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.hpp"
#include "common/net/address.hpp"
#include "common/registry/address.hpp"

namespace dstack::sherlock {

inline constexpr const char* kDefaultConfigPath = "/etc/datawire/sherlock.yaml";
inline constexpr std::uint16_t kDefaultProxyPort = 8000;
inline constexpr std::uint16_t kDefaultListenPort = 7402;

struct HaproxyTimeouts {
  Duration connect = std::chrono::seconds(2);  // to an instance
  Duration client = std::chrono::seconds(30);  // client inactivity
  Duration server = std::chrono::seconds(30);  // instance inactivity
  Duration check = std::chrono::seconds(2);    // one health check
  Duration tunnel = std::chrono::hours(1);     // websockets and TCP listeners, once established
  bool operator==(const HaproxyTimeouts&) const = default;
};

struct HaproxySettings {
  enum class Manage { child, external };
  std::string binary = "/usr/sbin/haproxy";
  std::string run_dir = "/run/sherlock";  // config, master and runtime sockets (mode 0700)
  Manage manage = Manage::child;
  std::string reload_command;  // manage: external; run without a shell, split on spaces
  Duration min_reload_interval = std::chrono::seconds(1);
  int retries = 2;                                           // 0..10, with option redispatch
  Duration health_check_interval = std::chrono::seconds(2);  // HAProxy's own checks
  std::string ca_file;  // CA bundle that https instances are verified against; empty: system CAs
  HaproxyTimeouts timeouts;
  std::vector<std::string> extra_global;    // lines appended to `global`, as written
  std::vector<std::string> extra_defaults;  // lines appended to `defaults`, as written
  bool operator==(const HaproxySettings&) const = default;
};

struct SherlockConfig {
  // First reachable wins, fail over in order; absent or empty: http://127.0.0.1:7400.
  std::vector<registry::DirectoryAddress> directories;
  // This host's consumer name: for per-consumer routes and traffic reports. Default: the host
  // name (default_consumer_name()); empty: none.
  std::string consumer;
  net::HostPort proxy{"127.0.0.1", kDefaultProxyPort};
  // A request carrying this header with a version's name goes to that version when it has an
  // instance HAProxy holds up (docs/sherlock.md#header-pinning); empty: no pinning.
  std::string version_header = "X-Dstack-Version";
  std::map<std::string, std::uint16_t> tcp;  // service -> its own TCP listener port on 127.0.0.1
  HaproxySettings haproxy;
  std::string state_dir = "/var/lib/sherlock";
  std::string token_file;
  std::string directory_ca_file;  // CA bundle for https:// and etcds:// directories; empty: system
  std::string tls_cert, tls_key;  // a client certificate for those directories; empty: none
  std::string token;
  net::HostPort listen{"127.0.0.1", kDefaultListenPort};  // local API
  std::string log_level = "info";
  // JSON lines, one per proxied request (docs/sherlock.md#access-log): an absolute file path,
  // "stdout", or empty for none.
  std::string access_log;
  // Traffic insight (docs/insight.md): count every request and report to the directory.
  bool insight = true;
  Duration report_interval = std::chrono::seconds(5);
};

// Whether HAProxy sends sherlock a line per request: for insight, the access log, or both.
inline bool logs_requests(const SherlockConfig& cfg) {
  return cfg.insight || !cfg.access_log.empty();
}

// The host name, lowercased; its first label when the whole does not pass the name rule; empty
// when neither does.
std::string default_consumer_name();

SherlockConfig default_sherlock_config();

// Reads the file (throws config::ConfigError listing every problem). A missing file gives the
// defaults unless `must_exist`.
SherlockConfig load_sherlock_config(const std::string& path, bool must_exist);
// The same from text; `file` names it in messages. For tests and the fuzz targets
// (docs/fuzzing.md): the files it names (token, CA bundles) are still read.
SherlockConfig parse_sherlock_config(std::string_view text, const std::string& file);

// -d replaces `directories` (else $DSTACK_DIRECTORY does); --proxy-port replaces proxy's port.
// Throws config::ConfigError with lines that start with the flag's name.
struct SherlockOverrides {
  std::vector<std::string> directories;
  int proxy_port = 0;  // 0: not given
  std::string log_level;
};
void apply_overrides(SherlockConfig& cfg, const SherlockOverrides& flags);

}  // namespace dstack::sherlock
