// SPDX-License-Identifier: Apache-2.0
#pragma once
// The fleet's view of traffic (docs/insight.md#the-fleets-view): what consumers reported, kept
// for a sliding window (default 10 minutes) per service and version, merged over consumers, and
// per consumer. Pure: reports and queries come with the time, so the window is tested with a
// fake clock.
//
// Memory is bounded by what the window holds, in two tiers:
//   merged        per service x version, in 10-second slots: rates and percentiles of the whole
//                 fleet, to the 10 s;
//   per consumer  per consumer x service x version, in 1-minute slots packed to a few bytes
//                 (the counts a minute actually has, packed_slots.hpp), so 1,000 consumers x
//                 100 services stay in tens of MB. Per-consumer figures are to the minute.
// Beside them, per consumer, the last slot it reported each version in: how many consumers
// reported a version (`reporting`) is read from it without unpacking any slot.
// A consumer whose lease ends leaves the per-consumer tier at once; the requests it already
// reported stay in the merged figures (they happened) until they age out.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/clock.hpp"
#include "common/core/duration.hpp"
#include "common/model/traffic.hpp"
#include "common/model/traffic_view.hpp"
#include "directory/packed_slots.hpp"

namespace dstack::directory {

struct TrafficWindowOptions {
  Duration window = std::chrono::minutes(10);  // the longest a query may ask for
  Duration slot = std::chrono::seconds(10);    // merged tier
  Duration consumer_slot = std::chrono::minutes(1);
};

// Figures of one service and version (or one consumer's share of them) over a window.
struct TrafficFigures {
  model::TrafficCounts counts;
  double seconds = 0;  // what the rate is over
  double rps() const { return seconds > 0 ? static_cast<double>(counts.total()) / seconds : 0; }
  // 5xx and conn_error over all; 0 without requests.
  double error_ratio() const;
};

struct TrafficQuery {
  Duration window = std::chrono::minutes(10);  // at most the options' window
  std::optional<std::string> service;
  std::optional<std::string> consumer;  // only this consumer's share
  // Each consumer's share of each version; without, only how many consumers reported it (the
  // whole fleet's breakdown is consumers x versions entries: 200,000 at 1,000 x 100 x 2).
  bool breakdown = true;
};

struct VersionTraffic {
  std::string version;  // "": requests no instance was chosen for
  TrafficFigures merged;
  std::map<std::string, TrafficFigures> consumers;  // with a breakdown
  std::size_t reporting = 0;                        // consumers whose reports hold it
};
struct ServiceTraffic {
  std::string service;
  std::vector<VersionTraffic> versions;  // by version
};

// The merged figures of each service and version step by step over a window: the console's
// sparklines and charts (GET /v1/traffic/series, docs/api.md#consumers-and-traffic).
struct TrafficSeriesQuery {
  Duration window = std::chrono::minutes(10);  // at most the options' window
  Duration step = std::chrono::seconds(10);    // rounded down to whole slots, at least one
  std::optional<std::string> service;
};
struct VersionSeries {
  std::string version;
  std::vector<TrafficFigures> steps;  // oldest first; `seconds`: what each step covers so far
};
struct ServiceSeries {
  std::string service;
  std::vector<VersionSeries> versions;  // by version; those with requests in the window
};
struct TrafficSeries {
  double first_ago_seconds = 0;  // how long before now the first step began
  double step_seconds = 0;
  std::size_t steps = 0;  // the last one holds now
  std::vector<ServiceSeries> services;
};

// A query's answer as served (GET /v1/traffic, the watch stream's traffic events), `reporting`
// consumers having reported in the window.
model::TrafficView view_of(const std::vector<ServiceTraffic>& services, Duration window,
                           std::size_t reporting, bool breakdown);

class TrafficWindow {
 public:
  explicit TrafficWindow(TrafficWindowOptions options = {});

  // `interval`: how long the report covers (its interval_ms); rows as a report's (one per
  // service and version). Versions without requests are not kept.
  void add(const std::string& consumer, const std::vector<model::TrafficRow>& rows,
           Duration interval, Clock::TimePoint now);
  // The consumer's lease ended: its per-consumer figures go.
  void remove(const std::string& consumer);
  // Services in name order. With a consumer, only what that consumer reported (merged = its
  // share); without, every service and version of the merged tier with each consumer's share.
  std::vector<ServiceTraffic> query(const TrafficQuery& query, Clock::TimePoint now) const;
  // Steps of whole slots ending with the current one, covering at least the window.
  TrafficSeries series(const TrafficSeriesQuery& query, Clock::TimePoint now) const;
  // How many consumers reported any request in the window.
  std::size_t reporting(Duration window, Clock::TimePoint now) const;
  // Drops slots older than the window (add() does it as it goes; for a quiet directory).
  void expire(Clock::TimePoint now);

  const TrafficWindowOptions& options() const { return options_; }
  std::size_t consumer_series() const;  // for metrics and the memory benchmark
  // What the figures take, approximately (the allocator's overhead is not counted).
  std::size_t bytes() const;

 private:
  using Key = std::pair<std::string, std::string>;  // service, version
  // A service and version: its merged slots, and how many consumers refer to it by id (have it
  // in `seen`). It goes (and its id is reused) when both are gone.
  struct Series {
    std::map<Key, std::uint32_t>::iterator key;
    std::deque<std::pair<std::int64_t, model::TrafficCounts>> merged;
    std::uint32_t holders = 0;
  };
  // When a consumer last reported requests of a service and version (its consumer slot). A
  // consumer's slots hold a version's id only while `seen` does: slots and `seen` entries
  // older than the window go together, so an id is never reused while a slot holds it.
  struct Seen {
    std::uint32_t id;
    std::int64_t slot;
  };
  struct ConsumerTraffic {
    PackedSlots slots;
    std::vector<Seen> seen;  // by id
    std::int64_t last_slot = 0;
  };

  std::int64_t slot_of(Clock::TimePoint t) const;
  std::int64_t consumer_slot_of(Clock::TimePoint t) const;
  double covered_seconds(Clock::TimePoint now, Duration window) const;
  // The id of a service and version, given one a new one if need be. `next`: where the name
  // after the previous one asked for is (rows come in name order, so it is most often the one).
  std::uint32_t id_of(const std::string& service, const std::string& version,
                      std::map<Key, std::uint32_t>::iterator& next);
  std::vector<ServiceTraffic> in_name_order(std::map<std::uint32_t, VersionTraffic> by_id) const;
  void release(std::uint32_t id);           // one holder fewer, then forget_if_unused
  void forget_if_unused(std::uint32_t id);  // no holder, no merged slot: the id is free again

  TrafficWindowOptions options_;
  std::optional<Clock::TimePoint> first_report_;
  std::int64_t swept_slot_ = -1;
  std::map<Key, std::uint32_t> ids_;  // in name order, for answers
  std::vector<Series> series_;        // by id
  std::vector<std::uint32_t> free_ids_;
  std::map<std::string, ConsumerTraffic> consumers_;
  std::vector<PackedSlots::Entry> entries_;  // add()'s, kept for its capacity
};

}  // namespace dstack::directory
