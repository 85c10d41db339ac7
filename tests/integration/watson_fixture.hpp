// SPDX-License-Identifier: Apache-2.0
#pragma once
// The real watson binary with its own watson.yaml, services dir and local API port, plus
// shorthands for what the tests do to it: read /v1/status, write and remove service files,
// signal it, and put services into maintenance through the API or the `watson maint` command.
// Start-up failures throw with watson's stderr, which GoogleTest reports as a test failure.

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace dstack::test {

using nlohmann::json;

struct WatsonOptions {
  std::vector<std::string> directories;         // base URLs, e.g. "http://127.0.0.1:7400"
  int lease_ttl = 2;                            // seconds
  std::string extra_config;                     // appended to the generated watson.yaml
  std::map<std::string, std::string> services;  // file name -> YAML, written before start
  // Quick mode: these arguments instead of `-c watson.yaml`; `--listen` and `--log-level debug`
  // are added.
  std::vector<std::string> quick_args;
};

// A finished run of the binary (for --check-config, maint, and start-up failures).
struct WatsonRun {
  std::optional<int> status;  // nullopt: still running after the timeout (then killed)
  std::string out, err;
};

class Watson {
 public:
  explicit Watson(WatsonOptions options = {});
  ~Watson();

  // Starts the daemon and waits until GET /v1/status answers 200. Throws with its stderr if it
  // exits or does not answer within 15 s.
  void start();
  // Runs the binary with the fixture's config and `args` added, to its end (or `timeout`).
  WatsonRun run(const std::vector<std::string>& args, Clock::duration timeout = 10s) const;

  std::uint16_t port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_.path() / "watson.yaml"; }
  std::filesystem::path services_dir() const { return dir_.path() / "services"; }
  Process& process() { return *process_; }
  std::string stderr_text() const { return process_ ? process_->stderr_text() : std::string(); }

  // /v1/status as JSON; null when it does not answer 200 (not up yet, or gone).
  json status() const;
  // The entry of /v1/status "services" for service (and id when given); null when absent.
  json service(const std::string& name, const std::string& id = "") const;
  // Parts of that entry: how many checks it has had (0 when not said), the last check output.
  int checks(const std::string& name) const;
  std::string output(const std::string& name) const;
  // The /v1/status "directories" entry for `url`; an empty object when there is none.
  json directory(const std::string& url) const;
  // True when /v1/status "problems" holds exactly `line`.
  bool has_problem(const std::string& line) const;
  // One sample of /metrics by its full name with labels; -1 when it is missing.
  double metric(const std::string& name) const;
  Response get(const std::string& target) const;

  // Writes a service file the way config tools do (written elsewhere, renamed into place), so
  // watson never sees half of it. Returns its path.
  std::filesystem::path write_service(const std::string& name, const std::string& yaml) const;
  // Rewrites it in place (truncate + write), the way `echo > file` does.
  void overwrite_service(const std::string& name, const std::string& yaml) const;
  // Rewrites it through a hard link outside services_dir: inotify reports a change to the
  // directory it was made through, so watson learns of this one only when told (SIGHUP).
  void overwrite_service_unwatched(const std::string& name, const std::string& yaml) const;
  void remove_service(const std::string& name) const;

  void sighup();
  void sigterm();

  // PUT /v1/maintenance/{service}?enable=...[&reason=...], the query given raw.
  Response maint_api(const std::string& service, const std::string& query) const;
  // `watson maint SERVICE on|off [--reason TEXT] --api 127.0.0.1:PORT`.
  WatsonRun maint_cli(const std::string& service, const std::string& on_off,
                      const std::string& reason = "") const;

  // Resident memory of the running daemon in KiB, from /proc/PID/status (-1 when unreadable).
  long rss_kib() const;

 private:
  std::vector<std::string> argv() const;
  WatsonOptions options_;
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

// j[k0][k1]..., or null when a step is missing.
json dig(const json& j, std::initializer_list<std::string> keys);

// The path to the binary under test, from the build.
std::string watson_binary();

// Runs any command line to its end within `timeout` (killing it after), logs in `log_dir`.
WatsonRun run_to_end(const std::vector<std::string>& argv, const std::filesystem::path& log_dir,
                     Clock::duration timeout = 10s);

}  // namespace dstack::test
