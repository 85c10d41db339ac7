// SPDX-License-Identifier: Apache-2.0
#include "directory/consumers.hpp"

#include <variant>

namespace dstack::directory {

Consumers::Consumers(State& state, const Clock& clock, TrafficWindowOptions window)
    : state_(state), clock_(clock), window_(window) {}

Outcome<model::Consumer> Consumers::put(model::Consumer consumer, const Caller& caller) {
  auto lease = state_.check_lease(consumer.lease, caller);
  if (auto* e = std::get_if<ApiError>(&lease)) return *e;
  auto it = consumers_.find(consumer.name);
  if (it != consumers_.end() && it->second.consumer.lease != consumer.lease) {
    // Its old lease: one this caller holds (a sherlock that restarted) may be replaced; a live
    // one of another caller's may not.
    auto old = state_.check_lease(it->second.consumer.lease, caller);
    if (auto* e = std::get_if<ApiError>(&old); e && e->status == 403)
      return ApiError{409, "consumer_taken",
                      "consumer " + consumer.name + " is registered on another token's lease " +
                          it->second.consumer.lease};
  }
  consumer.last_report_ms = 0;
  const bool changed = it == consumers_.end() || it->second.consumer != consumer;
  if (it == consumers_.end()) {
    it = consumers_.emplace(consumer.name, Entry{consumer, std::nullopt}).first;
  } else {
    it->second.consumer = consumer;
  }
  if (changed && on_change_) on_change_(it->first, &it->second.consumer);
  return it->second.consumer;
}

Outcome<> Consumers::report(const std::string& name, const model::TrafficRows& report,
                            const Caller& caller) {
  auto it = consumers_.find(name);
  if (it == consumers_.end()) {
    ++counters_.reports_refused;
    return ApiError{404, "consumer_not_found",
                    "consumer " + name +
                        " is not registered (or its lease ended); register it "
                        "with PUT /v1/consumers/" +
                        name + " first"};
  }
  auto lease = state_.check_lease(it->second.consumer.lease, caller);
  if (auto* e = std::get_if<ApiError>(&lease)) {
    ++counters_.reports_refused;
    if (e->status == 404) {  // expired but not swept yet
      lease_ended(it->second.consumer.lease);
      return ApiError{404, "consumer_not_found",
                      "consumer " + name + " is not registered (its lease ended)"};
    }
    return *e;
  }
  const auto now = clock_.now();
  window_.add(name, report.rows, std::chrono::milliseconds(report.interval_ms), now);
  it->second.last_report = now;
  ++counters_.reports;
  for (const auto& row : report.rows) counters_.requests_reported += row.counts.total();
  if (on_report_) on_report_(name, report);
  return Done{};
}

void Consumers::lease_ended(const std::string& lease) {
  for (auto it = consumers_.begin(); it != consumers_.end();) {
    if (it->second.consumer.lease == lease) {
      window_.remove(it->first);
      const std::string name = it->first;
      it = consumers_.erase(it);
      if (on_change_) on_change_(name, nullptr);
    } else {
      ++it;
    }
  }
}

std::vector<model::Consumer> Consumers::list() const {
  std::vector<model::Consumer> out;
  out.reserve(consumers_.size());
  for (const auto& [name, entry] : consumers_) out.push_back(entry.consumer);
  return out;
}

std::optional<Clock::TimePoint> Consumers::last_report(const std::string& name) const {
  auto it = consumers_.find(name);
  return it == consumers_.end() ? std::nullopt : it->second.last_report;
}

model::TrafficView Consumers::traffic(const TrafficQuery& query) const {
  const auto now = clock_.now();
  return view_of(window_.query(query, now), query.window, window_.reporting(query.window, now),
                 query.breakdown || query.consumer);
}

}  // namespace dstack::directory
