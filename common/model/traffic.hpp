// SPDX-License-Identifier: Apache-2.0
#pragma once
// Traffic insight's figures (docs/insight.md): requests counted by code class and a histogram of
// their durations with fixed bucket bounds, so what every sherlock counts merges in the
// directory by adding. And a consumer's report of them, in both directions of JSON.
//
// Report wire form (PUT /v1/consumers/{name}/traffic, docs/api.md#traffic-reports):
//   {"interval_ms":5000, "buckets_ms":[1,2,3,...,60000],
//    "services":{"emitter":{"2":{"requests":{"2xx":950,"5xx":50},
//                                "duration_ms":{"counts":[0,700,250,50],"sum":2100}}}}}
// Absent code classes count 0; `counts` is per bucket (not cumulative), trailing zeros may be
// left out, and adds up to the requests.

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dstack::model {

// Upper bounds of the duration buckets in ms (docs/insight.md#buckets), about five per decade:
// close enough that a percentile read from them is within one bucket (at most 1.5x, and 2x for
// the first) of the true one. Changing them makes old and new reports unmergeable, which the
// directory refuses by name (`buckets_ms`).
inline constexpr std::array<std::int64_t, 26> kDurationBoundsMs = {
    1,   2,   3,   5,   7,    10,   15,   20,   30,   50,   70,    100,   150,
    200, 300, 500, 700, 1000, 1500, 2000, 3000, 5000, 7000, 10000, 20000, 60000};
// One bucket per bound and one for everything longer (+Inf).
inline constexpr std::size_t kDurationBuckets = kDurationBoundsMs.size() + 1;

// How a request ended, as insight counts it. conn_error: no instance answered (none available,
// refused, reset, timed out, or the client left before an answer) - HAProxy's own 5xx included.
enum class CodeClass : std::uint8_t { c2xx, c3xx, c4xx, c5xx, conn_error };
inline constexpr std::size_t kCodeClasses = 5;
inline constexpr std::array<std::string_view, kCodeClasses> kCodeClassNames = {"2xx", "3xx", "4xx",
                                                                               "5xx", "conn_error"};

// The bucket a duration falls in: the first whose bound is >= ms (the last for longer ones).
std::size_t duration_bucket(std::int64_t ms);

struct TrafficCounts {
  std::array<std::uint64_t, kCodeClasses> requests{};
  std::array<std::uint64_t, kDurationBuckets> duration{};  // per bucket, not cumulative
  std::uint64_t duration_sum_ms = 0;

  void observe(CodeClass code, std::int64_t duration_ms);
  void add(const TrafficCounts& other);
  // Takes out what add(other) put in; never below zero.
  void subtract(const TrafficCounts& other);
  std::uint64_t total() const;
  std::uint64_t errors() const;  // 5xx and conn_error
  bool empty() const { return total() == 0; }
  bool operator==(const TrafficCounts&) const = default;
};

// The q-quantile (0 < q <= 1) of the durations in ms, interpolated linearly inside its bucket as
// Prometheus's histogram_quantile does; the +Inf bucket answers the last bound. nullopt without
// observations.
std::optional<double> duration_quantile_ms(const TrafficCounts& counts, double q);

// service -> version -> counts
using TrafficByVersion = std::map<std::string, std::map<std::string, TrafficCounts>>;

// What one consumer's proxy forwarded since its last report.
struct TrafficReport {
  std::int64_t interval_ms = 0;  // how long it covers
  TrafficByVersion services;
  bool operator==(const TrafficReport&) const = default;
};

// Limits a report is held to, so that one request cannot make the directory keep much.
inline constexpr std::size_t kMaxReportServices = 10000;
inline constexpr std::size_t kMaxReportVersions = 32;  // per service, as a route's targets
inline constexpr std::int64_t kMaxReportIntervalMs = 3600 * 1000;

nlohmann::json to_json(const TrafficReport& report);
// The body of PUT /v1/consumers/{name}/traffic, every problem named with its field.
std::variant<TrafficReport, std::vector<std::string>> traffic_report_from_request(
    const nlohmann::json& body);

// A report as the directory takes it: one row per service and version, in name order. A flat
// list is read and added without a map per service (docs/benchmarks.md#in-the-directory).
struct TrafficRow {
  std::string service;
  std::string version;
  TrafficCounts counts;
  bool operator==(const TrafficRow&) const = default;
};
struct TrafficRows {
  std::int64_t interval_ms = 0;
  std::vector<TrafficRow> rows;
  bool operator==(const TrafficRows&) const = default;
};
TrafficRows rows_of(const TrafficReport& report);
std::vector<TrafficRow> rows_of(const TrafficByVersion& services);

// The same body read from its text without building a JSON document (traffic_report_fast.cpp):
// rows_of the report traffic_report_from_request would accept, or nullopt for anything else
// (then ask that one, which names the problems). A duplicate key or a float it leaves to that
// one too.
std::optional<TrafficRows> traffic_rows_from_text(std::string_view body);

}  // namespace dstack::model
