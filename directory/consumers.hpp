// SPDX-License-Identifier: Apache-2.0
#pragma once
// Consumers and their traffic reports (docs/api.md#consumers, docs/insight.md): each sherlock
// registers under its consumer name on a lease it holds, like an instance, and reports what its
// proxy forwarded; the reports feed the traffic window. Soft state: when the lease ends the
// consumer goes, and a directory restart loses consumers and reports (sherlock registers again),
// never routes. No I/O; the clock is injected.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/core/clock.hpp"
#include "common/model/consumer.hpp"
#include "common/model/traffic.hpp"
#include "directory/api_error.hpp"
#include "directory/caller.hpp"
#include "directory/state.hpp"
#include "directory/traffic_window.hpp"

namespace dstack::directory {

struct ConsumerCounters {
  std::uint64_t reports = 0;            // taken
  std::uint64_t reports_refused = 0;    // from an unknown consumer or one whose lease is not theirs
  std::uint64_t requests_reported = 0;  // requests the taken reports counted
};

class Consumers {
 public:
  Consumers(State& state, const Clock& clock, TrafficWindowOptions window = {});

  // Registers or updates one (validated by the caller): its lease must be alive and the
  // caller's. A name registered on another live lease the caller may not use is refused (409).
  Outcome<model::Consumer> put(model::Consumer consumer, const Caller& caller);
  // 404 for a consumer not registered (or whose lease ended), 403 when its lease is not the
  // caller's. Taken whole or not at all.
  Outcome<> report(const std::string& name, const model::TrafficRows& report, const Caller& caller);
  // The lease ended: consumers on it go, with their per-consumer traffic.
  void lease_ended(const std::string& lease);
  // Called when a consumer registers, changes what it says (host, api, services, lease), or goes
  // (`now` null): the watch stream's consumer events. Reports change nothing here.
  void on_change(std::function<void(const std::string& name, const model::Consumer* now)> call) {
    on_change_ = std::move(call);
  }
  // Called with each report taken, after the window has it: rollouts judge on them.
  void on_report(
      std::function<void(const std::string& name, const model::TrafficRows& report)> call) {
    on_report_ = std::move(call);
  }

  // By name; last_report_ms is left 0 (reports are timed on the steady clock: see last_report).
  std::vector<model::Consumer> list() const;
  std::optional<Clock::TimePoint> last_report(const std::string& name) const;
  // The window's answer to a query, as served.
  model::TrafficView traffic(const TrafficQuery& query) const;
  TrafficSeries series(const TrafficSeriesQuery& query) const {
    return window_.series(query, clock_.now());
  }

  const TrafficWindow& window() const { return window_; }
  const Clock& clock() const { return clock_; }
  const ConsumerCounters& counters() const { return counters_; }
  std::size_t size() const { return consumers_.size(); }

 private:
  struct Entry {
    model::Consumer consumer;
    std::optional<Clock::TimePoint> last_report;
  };

  State& state_;
  const Clock& clock_;
  TrafficWindow window_;
  std::function<void(const std::string&, const model::Consumer*)> on_change_;
  std::function<void(const std::string&, const model::TrafficRows&)> on_report_;
  std::map<std::string, Entry> consumers_;
  ConsumerCounters counters_;
};

}  // namespace dstack::directory
