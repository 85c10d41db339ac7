// SPDX-License-Identifier: Apache-2.0
#pragma once
// Traffic events in the watch stream (docs/api.md#traffic-events): for live views, streams opened
// with ?traffic=1 get the fleet's last minute of traffic, at most once a second and only when
// reports came in since the last event, and at least every 10 seconds while anyone listens, so
// figures that age out are seen to. Pure: the server's tick asks due() with the time.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/core/clock.hpp"
#include "common/model/traffic_view.hpp"

namespace dstack::directory {

class TrafficEventPacer {
 public:
  static constexpr std::chrono::seconds kMinGap{1};
  static constexpr std::chrono::seconds kMaxGap{10};
  static constexpr std::chrono::minutes kWindow{1};  // what each event covers

  // Whether to send one now, given the directory's count of reports taken so far; true marks it
  // sent.
  bool due(Clock::TimePoint now, std::uint64_t reports_taken);

 private:
  std::optional<Clock::TimePoint> last_;
  std::uint64_t reports_at_last_ = 0;
};

// {"type":"traffic","revision":R, ...the GET /v1/traffic answer...}, with its newline.
std::string traffic_event_line(const model::TrafficView& view, std::uint64_t revision);

}  // namespace dstack::directory
