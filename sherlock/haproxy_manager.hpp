// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keeps HAProxy serving the newest plan (docs/sherlock.md#update-rules):
// - instance changes (servers added, removed, moved, reweighted) go through the runtime API at
//   once, with no reload;
// - structural changes (a service added or removed, its base path, mode or TCP port, a server's
//   TLS settings) are validated and loaded by a hitless reload, at most one per
//   min_reload_interval; changes arriving meanwhile are coalesced into the next one, and the
//   runtime part of them (other services' servers) is applied without waiting;
// - before each reload HAProxy's server state is saved to the server-state file, which the new
//   worker loads, so weights, drain and health survive it;
// - a config `haproxy -c` refuses is never installed; a reload HAProxy refuses leaves the old
//   config running and on disk;
// - manage: child — HAProxy's master runs as sherlock's child and is restarted (with backoff)
//   whenever it exits without being asked; an HAProxy left running by an earlier sherlock
//   (found through run_dir's pid file) is taken over with a reload rather than killed, so
//   restarting sherlock does not interrupt traffic;
// - manage: external — the config is written and reload_command is run; the runtime API is used
//   the same way through the admin socket.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/core/backoff.hpp"
#include "common/core/clock.hpp"
#include "common/net/asio.hpp"
#include "common/process/child_process.hpp"
#include "sherlock/haproxy_decider.hpp"
#include "sherlock/haproxy_files.hpp"
#include "sherlock/proxy_listener.hpp"
#include "sherlock/runtime_diff.hpp"

namespace dstack::sherlock {

struct ManagerCounters {
  std::uint64_t reloads = 0;             // successful
  std::uint64_t reload_failures = 0;     // refused by HAProxy or reload_command
  std::uint64_t failed_validations = 0;  // refused by haproxy -c: never loaded
  std::uint64_t runtime_updates = 0;     // runtime-API commands that succeeded
  std::uint64_t runtime_failures = 0;    // refused commands (each led to a reload)
  std::uint64_t haproxy_starts = 0;
  std::uint64_t haproxy_exits = 0;  // exits sherlock did not ask for
};

struct ReloadRecord {
  std::chrono::system_clock::time_point at;
  bool ok = false;
  std::string reason;  // why a reload was needed
  std::string error;   // when !ok
  Duration took{0};
};

class HaproxyManager {
 public:
  HaproxyManager(asio::any_io_executor ex, const SherlockConfig& config,
                 const Clock& clock = real_clock());
  ~HaproxyManager();

  // Creates run_dir; starts the work loop. Throws std::runtime_error when run_dir cannot be made.
  void start();
  // Before start(): HAProxy is handed the proxy's socket, held by sherlock (proxy_listener.hpp);
  // it outlives this manager.
  void use_listener(ProxyListener& listener) { listener_ = &listener; }
  // The plan HAProxy should serve from now on.
  void submit(Plan desired);
  // Stops a child HAProxy gracefully (in-flight requests finish, up to `grace`).
  awaitable<void> stop(Duration grace);
  // Stops managing HAProxy and leaves it running for the next sherlock (handover.hpp): returns
  // once an operation in flight has finished (or `timeout` passed), with HAProxy's master pid
  // (0 when none is running, or with manage: external).
  awaitable<pid_t> release(Duration timeout);

  const Plan& applied() const { return *applied_; }
  const Plan& desired() const { return *desired_; }
  bool serving() const { return decider_.running(); }
  const ManagerCounters& counters() const { return counters_; }
  nlohmann::json status() const;
  // Called after every change HAProxy has taken (runtime batch or reload).
  void on_applied(std::function<void()> f) { on_applied_ = std::move(f); }

 private:
  awaitable<void> run();
  awaitable<void> supervise(process::ChildProcess* child);
  // Plans are shared, never copied: at 10,000 servers a copy per change costs milliseconds.
  // Arguments by value: a coroutine outlives its caller's temporaries.
  using PlanPtr = std::shared_ptr<const Plan>;
  awaitable<HaproxyDecider::StartOutcome> start_haproxy(PlanPtr want);
  // An HAProxy an earlier sherlock left running (run_dir's pid file, confirmed by its master).
  awaitable<std::unique_ptr<process::ChildProcess>> find_left_running();
  // nullopt: nothing to take over.
  awaitable<std::optional<HaproxyDecider::StartOutcome>> adopt_running(PlanPtr want);
  awaitable<HaproxyDecider::ReloadOutcome> reload(PlanPtr want, std::string reason);
  awaitable<void> apply_runtime(PlanPtr want);
  awaitable<void> retry_deletes();
  awaitable<void> save_server_state();
  awaitable<void> sleep_until(std::chrono::steady_clock::time_point t);
  void wake();
  void record(bool ok, std::string reason, std::string error,
              std::chrono::steady_clock::time_point began);

  asio::any_io_executor ex_;
  const SherlockConfig& config_;
  HaproxyFiles files_;
  std::unique_ptr<process::ChildProcess> process_;
  ProxyListener* listener_ = nullptr;
  const Clock& clock_;
  HaproxyDecider decider_;         // what to do next; this class does it
  asio::steady_timer wake_;        // cancelled by every event the loop may be sleeping through
  asio::steady_timer backoff_;     // between attempts to start HAProxy; only a stop cuts it short
  asio::steady_timer exited_;      // cancelled when HAProxy exits (stop() waits on it)
  asio::steady_timer loop_ended_;  // cancelled when the loop ends (release() waits on it)

  PlanPtr desired_ = std::make_shared<const Plan>();
  PlanPtr applied_ = std::make_shared<const Plan>();
  std::map<ServerRef, PlannedServer> lingering_;
  bool stopping_ = false;
  bool loop_running_ = false;
  bool dirty_ = false;  // an event since the loop last looked: do not sleep
  std::optional<ReloadRecord> last_reload_;
  std::string last_error_;
  ManagerCounters counters_;
  std::function<void()> on_applied_;
};

}  // namespace dstack::sherlock
