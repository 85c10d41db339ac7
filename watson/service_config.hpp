// SPDX-License-Identifier: Apache-2.0
#pragma once
// Service definitions (docs/watson.md#service-files): one per *.yaml file in services_dir, or
// one from quick mode's command line. Everything here is validated before it is returned: names,
// URLs, bounds, and that an exec check's program exists now. Problems are
// `FILE:LINE:COL: KEY: PROBLEM` lines, all of them at once, thrown as config::ConfigError.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.hpp"
#include "common/model/model.hpp"

namespace dstack::watson {

struct Check {
  enum class Kind { none, http, tcp, exec };
  Kind kind = Kind::none;

  // http: the URL as written, and its parts for the client. The target is path and query,
  // "/" when the URL has neither. No redirects are followed.
  std::string http_url;
  bool http_tls = false;
  std::string http_host;  // IPv6 without brackets
  std::uint16_t http_port = 0;
  std::string http_target;
  std::string method = "GET";      // GET HEAD POST PUT OPTIONS
  std::vector<int> expect_status;  // empty: any 2xx passes
  std::string expect_body;         // empty: any body; else a substring the body must hold

  // tcp: connect to host:port.
  std::string tcp_host;  // IPv6 without brackets
  std::uint16_t tcp_port = 0;

  // exec: run argv without a shell; exit 0 passing, 1 warning, other critical. argv[0] was an
  // executable file (absolute, or found in $PATH) when the definition was read.
  std::vector<std::string> argv;

  Duration interval = std::chrono::seconds(3);  // 100ms..1h
  Duration timeout = std::chrono::seconds(2);   // 10ms..interval; default min(interval, 2s)
  int rise = 2;                                 // consecutive passes before registering
  int fall = 3;                                 // consecutive failures before deregistering

  bool operator==(const Check&) const = default;
};

struct ServiceDefinition {
  std::string file;  // where it came from; empty in quick mode

  // What is registered (model::Instance without lease, health and revision).
  std::string service;
  std::string id;  // default "<host>:<port>" of url (IPv6 host without brackets)
  std::string url;
  std::string version = "1";
  int weight = 100;  // 0..256; 0 = drained
  std::vector<std::string> tags;
  std::map<std::string, std::string> meta;
  std::optional<model::Protocol> protocol;  // absent: what the URL says (tcp:// tcp, else http)

  Duration drain = std::chrono::seconds(5);  // 0s..10m: time in maintenance before deregistering
  Check check;

  // Equal definitions need no re-registration on reload.
  bool operator==(const ServiceDefinition&) const = default;
};

// One service file. Throws config::ConfigError listing every problem.
ServiceDefinition load_service_file(const std::string& path);
// The same from text; `file` names it in messages and in the definition. For tests and the fuzz
// targets (docs/fuzzing.md): an exec check's program is still looked for.
ServiceDefinition parse_service_text(std::string_view text, const std::string& file);

struct ServicesDir {
  std::map<std::string, ServiceDefinition> definitions;  // by file path (dir/name)
  std::vector<std::string> problems;                     // every problem line, file by file
  // Files that are invalid or refused now but whose previous definition (from `previous`)
  // stays in force; they are in `definitions` with that previous definition.
  std::vector<std::string> kept_previous;
};

// Reads every *.yaml and *.yml file in dir, in name order; dotfiles, other names and
// directories are ignored. A file whose (service, id) an earlier file already defines is
// refused. `previous` is the last result's definitions (empty at start): an invalid or refused
// file keeps its previous definition, unless an earlier file now claims the same (service, id);
// files no longer present are gone. A dir that cannot be read is one problem, and every previous
// definition stays.
ServicesDir load_services_dir(const std::string& dir,
                              const std::map<std::string, ServiceDefinition>& previous);

// Quick mode: `watson -d DIR SERVICE URL [INTERVAL] [--check URL]`. service_arg is a name or
// `//host/.../name` (the last path element); interval_text is whole seconds ("3") or a
// duration ("500ms"), empty for 3s; check_url empty means URL/liveness_check for an http(s) URL
// and a tcp connect for a tcp URL; protocol_text empty means what the URL says. Throws
// config::ConfigError with lines that start with `SERVICE: `, `URL: `, `INTERVAL: `, `--check: `
// or `--protocol: `.
ServiceDefinition quick_service(const std::string& service_arg, const std::string& url,
                                const std::string& interval_text, const std::string& check_url,
                                const std::string& protocol_text = "");

}  // namespace dstack::watson
