// SPDX-License-Identifier: Apache-2.0
#pragma once
// When sherlock's reporter (reporter.hpp) does what, apart from the I/O: get a lease, register
// this host as a consumer on it, keep the lease alive every ttl/3, send a traffic report every
// report_interval, and after a failure wait with capped, doubling backoff. A lost lease means a
// new lease and a new registration; a directory that forgot the consumer (a restart) means a
// new registration. Takes events and the time and says what is next, so every path is tested
// with a fake clock (docs/insight.md#reports).

#include <chrono>
#include <cstdint>
#include <string>

#include "common/core/clock.hpp"
#include "common/core/duration.hpp"

namespace dstack::sherlock {

class ReportSchedule {
 public:
  enum class Action { grant, register_consumer, keepalive, report };
  struct Next {
    Action action;
    Clock::TimePoint at;  // not before
  };

  ReportSchedule(std::chrono::seconds ttl, Duration report_interval, Clock::TimePoint now);

  Next next() const;

  void granted(std::string lease, Clock::TimePoint now);
  // A registration is sent (with the services as they are now), and it succeeded. A change of
  // services while it was on its way leaves the consumer to register again.
  void registering() { sent_generation_ = generation_; }
  void registered(Clock::TimePoint now);
  void kept_alive(Clock::TimePoint now);
  void reported(Clock::TimePoint now);
  // The services this host routes changed: register again with the new list.
  void services_changed() {
    ++generation_;
    registered_ = false;
  }
  // The directory no longer has the lease (404 on keepalive or registration).
  void lease_lost(Clock::TimePoint now);
  // The directory no longer has the consumer (404 on a report): register again.
  void consumer_lost(Clock::TimePoint now);
  // Anything else (unreachable, refused): the same step again after a backoff.
  void failed(Clock::TimePoint now);

  const std::string& lease() const { return lease_; }
  bool registered() const { return registered_; }

 private:
  void succeeded() { backoff_ = Duration::zero(); }

  std::chrono::seconds ttl_;
  Duration interval_;
  std::string lease_;
  bool registered_ = false;
  std::uint64_t generation_ = 0;       // of the services; a change adds one
  std::uint64_t sent_generation_ = 0;  // the one the last registration sent
  Clock::TimePoint not_before_;        // backoff after a failure
  Clock::TimePoint keepalive_at_;
  Clock::TimePoint report_at_;
  Duration backoff_ = Duration::zero();
};

}  // namespace dstack::sherlock
