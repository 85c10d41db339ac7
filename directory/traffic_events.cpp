// SPDX-License-Identifier: Apache-2.0
#include "directory/traffic_events.hpp"

#include <nlohmann/json.hpp>

namespace dstack::directory {

bool TrafficEventPacer::due(Clock::TimePoint now, std::uint64_t reports_taken) {
  if (last_) {
    const auto since = now - *last_;
    if (since < kMinGap) return false;
    if (reports_taken == reports_at_last_ && since < kMaxGap) return false;
  }
  last_ = now;
  reports_at_last_ = reports_taken;
  return true;
}

std::string traffic_event_line(const model::TrafficView& view, std::uint64_t revision) {
  nlohmann::json j = model::to_json(view);
  j["type"] = "traffic";
  j["revision"] = revision;
  return j.dump() + "\n";
}

}  // namespace dstack::directory
