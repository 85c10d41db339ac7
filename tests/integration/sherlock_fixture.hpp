// SPDX-License-Identifier: Apache-2.0
#pragma once
// The real sherlock binary with its own sherlock.yaml, run_dir and state_dir, a free proxy port
// and local API port, driving the real HAProxy. Shorthands for what the tests do: read
// /v1/status and /metrics, send requests through the proxy, wait for a service to be applied.
// The destructor kills sherlock and the HAProxy it started (HAProxy is in its own process group
// and, by design, outlives a killed sherlock).

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "directory_fixture.hpp"
#include "harness.hpp"

namespace dstack::test {

using nlohmann::json;

// A directory whose start-up grace is over at once: a fresh directory is not `synced` for two
// lease TTLs, and sherlock removes nothing until it is.
inline DirectoryOptions synced_directory() {
  DirectoryOptions o;
  o.config = "sync_grace: 1ms\n";
  return o;
}

struct SherlockOptions {
  std::vector<std::string> directories;      // base URLs
  std::string consumer;                      // empty: none
  std::map<std::string, std::uint16_t> tcp;  // service -> listener port
  std::string min_reload_interval = "200ms";
  std::string health_check_interval = "500ms";
  std::string haproxy_extra;  // lines inside `haproxy:` (indented by two spaces)
  std::string extra_config;   // appended to sherlock.yaml
};

struct SherlockRun {
  std::optional<int> status;
  std::string out, err;
};

class Sherlock {
 public:
  explicit Sherlock(SherlockOptions options = {});
  ~Sherlock();

  // Starts sherlock and waits until its local API answers and HAProxy serves. Throws with its
  // stderr otherwise.
  void start();
  void kill9();    // sherlock only: its HAProxy keeps running
  void sigterm();  // SIGTERM; wait() for the exit status
  void sighup();   // SIGHUP: a handover to a fresh sherlock
  // Writes sherlock.yaml from options() (start() does too), e.g. before a handover.
  void write_config() const;
  std::optional<int> wait(Clock::duration timeout);
  SherlockRun run(const std::vector<std::string>& args, Clock::duration timeout = 20s) const;

  std::uint16_t proxy_port() const { return proxy_port_; }
  std::uint16_t api_port() const { return api_port_; }
  const TempDir& dir() const { return dir_; }
  // Read when start() writes sherlock.yaml: a test may set paths that need run_dir().
  SherlockOptions& options() { return options_; }
  std::filesystem::path run_dir() const { return dir_.path() / "run"; }
  std::filesystem::path state_dir() const { return dir_.path() / "state"; }
  std::filesystem::path config_path() const { return dir_.path() / "sherlock.yaml"; }
  Process& process() { return *process_; }
  std::string stderr_text() const { return process_ ? process_->stderr_text() : std::string(); }

  json status() const;                           // null when the local API does not answer 200
  double metric(const std::string& name) const;  // -1 when missing
  // HAProxy's master pid from run_dir's pid file (0 when none).
  pid_t haproxy_pid() const;
  // The current worker's pid, from /proc (0 when none).
  pid_t haproxy_worker_pid() const;

  // One request through the proxy (fresh connection).
  Response get(const std::string& target, const Headers& headers = {},
               Clock::duration timeout = 5s) const;
  // Waits until /v1/status shows `service` applied with `servers` servers of weight > 0 (or
  // exactly `servers` servers when `any_weight`).
  bool wait_applied(const std::string& service, std::size_t servers, Clock::duration timeout = 10s,
                    bool any_weight = false) const;
  // The weights HAProxy has for the service's servers now, by server name, read from /v1/status.
  std::map<std::string, int> weights(const std::string& service) const;

 private:
  std::vector<std::string> argv() const;
  SherlockOptions options_;
  TempDir dir_;
  std::uint16_t proxy_port_, api_port_;
  std::unique_ptr<Process> process_;
};

std::string sherlock_binary();

// The tests' common start: a real directory (its grace over at once), a lease on it, and a
// sherlock that follows it once a test calls start().
struct SherlockTest : ::testing::Test {
  Directory directory{synced_directory()};
  std::unique_ptr<Sherlock> sherlock;
  std::string lease;

  void SetUp() override {
    directory.start();
    lease = directory.grant(60);  // the directory's longest TTL; every test ends well before it
  }

  std::string directory_url() const {
    return "http://127.0.0.1:" + std::to_string(directory.port());
  }

  // An instance of `service` at `url` under `lease`, with `extra` fields.
  void put(const std::string& service, const std::string& id, const std::string& url,
           json extra = json::object()) {
    extra["url"] = url;
    directory.put_instance(service, id, lease, extra);
  }

  // Options that follow `directory`.
  SherlockOptions options() const {
    SherlockOptions o;
    o.directories = {directory_url()};
    return o;
  }

  // Starts sherlock; without directories in `o`, it follows `directory`.
  void start(SherlockOptions o = {}) {
    if (o.directories.empty()) o.directories = {directory_url()};
    sherlock = std::make_unique<Sherlock>(std::move(o));
    sherlock->start();
  }
};

}  // namespace dstack::test
