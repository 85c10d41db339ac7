// SPDX-License-Identifier: Apache-2.0
#pragma once
// What the HAProxy manager does next, decided apart from I/O (the rules:
// docs/sherlock.md#update-rules). The manager reports events (a new plan, how a start, a reload or
// a runtime batch went, HAProxy exiting, a stop) and asks next() for its next step; the decider
// owns no socket, timer or clock, so every rule is tested step by step with a fake clock
// (tests/unit/sherlock_decider_test).
//
// Plans are counted: generation N is the N-th plan submitted. Every outcome names the generation
// it was for, so an outcome that arrives after a newer plan never marks that plan as done.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/core/backoff.hpp"

namespace dstack::sherlock {

struct HaproxyStep {
  enum class Kind {
    start,               // start HAProxy (or take over one left running) with the newest plan
    wait_backoff,        // after a failed start: wait until `until`; only a stop cuts it short
    apply_runtime_part,  // the runtime-API part of a plan that also needs a reload
    reload,              // validate and load the newest plan; `reason` says why
    apply_runtime,       // the newest plan through the runtime API
    retry_deletes,       // servers that still had connections: try deleting them again
    sleep,               // until `until` or the next event, whichever comes first
    exit,                // stopping: the loop ends
  };
  Kind kind = Kind::sleep;
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max();
  std::string reason;

  bool operator==(const HaproxyStep&) const = default;
};

class HaproxyDecider {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr Duration kDeleteRetry = std::chrono::seconds(1);

  HaproxyDecider(Duration min_reload_interval, Backoff restart_backoff);

  // `structural`: the newest plan differs from the applied one in a way only a reload applies
  // (needs_reload in plan.hpp).
  HaproxyStep next(TimePoint now, bool structural) const;
  std::uint64_t generation() const { return gen_; }

  // ---- events ----
  void plan_submitted() { ++gen_; }
  enum class StartOutcome {
    up,              // serving the plan of that generation
    up_but_refused,  // took over a running HAProxy, whose reload refused the plan
    config_refused,  // haproxy -c refused the plan: wait for another plan
    failed,          // HAProxy did not come up: try again after a backoff
  };
  void started(std::uint64_t gen, StartOutcome outcome, TimePoint now);
  enum class ReloadOutcome {
    ok,
    config_refused,  // haproxy -c refused it: never loaded
    failed,          // HAProxy (or reload_command) refused it: the old config runs on
  };
  void reloaded(std::uint64_t gen, ReloadOutcome outcome, TimePoint now);
  // A runtime batch (`part`: the part before a reload) was sent; `lingering`: removed servers
  // still hold connections.
  void runtime_applied(std::uint64_t gen, bool part, bool lingering, TimePoint now);
  // Something only a reload can apply: a server's TLS settings (the first reason given stays
  // until that reload)...
  void reload_needed(std::string reason);
  // ...or HAProxy refused runtime commands (this reason replaces the earlier one).
  void runtime_refused(std::string reason);
  void deletes_retried(bool lingering, TimePoint now);
  void haproxy_exited() { running_ = false; }
  void stop() { stopping_ = true; }

  bool running() const { return running_; }
  // A reload was asked for by a runtime batch (not counting structural changes).
  bool reload_wanted() const { return reload_wanted_; }

 private:
  Duration min_reload_interval_;
  Backoff restart_backoff_;
  std::uint64_t gen_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  std::optional<std::uint64_t> refused_gen_;  // the plan haproxy -c or HAProxy refused
  std::optional<TimePoint> backoff_until_;
  bool reload_wanted_ = false;
  std::string reload_reason_;
  TimePoint next_reload_at_{};
  std::optional<std::uint64_t> part_applied_gen_;     // runtime part of this plan sent
  std::optional<std::uint64_t> runtime_applied_gen_;  // this plan fully applied
  bool lingering_ = false;
  TimePoint delete_retry_at_{};
};

}  // namespace dstack::sherlock
