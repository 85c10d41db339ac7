// SPDX-License-Identifier: Apache-2.0
#pragma once
// The fleet's traffic as the directory serves it (GET /v1/traffic, docs/api.md#traffic): per
// service and version, rates, error ratio and percentiles, merged over consumers and per
// consumer. The directory builds it from its window (directory/traffic_window.hpp); dw and the
// watch stream's traffic events read and write the same shape.
//
// Wire form:
//   {"window":"1m","window_seconds":60,"reporting":3,
//    "services":[{"service":"emitter","versions":[
//       {"version":"2","requests":1200,"rps":20,"error_ratio":0.01,
//        "p50_ms":4.2,"p90_ms":9,"p99_ms":28,
//        "codes":{"2xx":1188,"3xx":0,"4xx":0,"5xx":12,"conn_error":0},"reporting":2,
//        "consumers":[{"consumer":"web-1", ...the same figures...}]}]}]}
// Percentiles are null without requests. `reporting`: consumers that reported requests in the
// window (of the fleet; of the version). `consumers`, the breakdown, only when asked for one
// service or consumer.

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/model/traffic.hpp"

namespace dstack::model {

// Figures of one service and version (or one consumer's share) over a window.
struct TrafficSummary {
  std::uint64_t requests = 0;
  double rps = 0;
  double error_ratio = 0;  // 5xx and conn_error over all
  std::optional<double> p50_ms, p90_ms, p99_ms;
  std::array<std::uint64_t, kCodeClasses> codes{};
  bool operator==(const TrafficSummary&) const = default;
};

// The summary of counts taken over `seconds`, rounded as served (rps to 0.001, error ratio to
// 0.0001, percentiles to 0.01 ms).
TrafficSummary summarize(const TrafficCounts& counts, double seconds);

struct ConsumerTraffic {
  std::string consumer;
  TrafficSummary figures;
  bool operator==(const ConsumerTraffic&) const = default;
};

struct VersionTrafficSummary {
  std::string version;  // "": requests no instance was chosen for
  TrafficSummary figures;
  std::vector<ConsumerTraffic> consumers;  // with a breakdown
  std::uint64_t reporting = 0;
  bool operator==(const VersionTrafficSummary&) const = default;
};

struct ServiceTrafficSummary {
  std::string service;
  std::vector<VersionTrafficSummary> versions;
  bool operator==(const ServiceTrafficSummary&) const = default;
};

struct TrafficView {
  std::string window;  // as asked ("10m")
  double window_seconds = 0;
  std::uint64_t reporting = 0;
  bool breakdown = false;  // versions carry `consumers`
  std::vector<ServiceTrafficSummary> services;
  bool operator==(const TrafficView&) const = default;
};

nlohmann::json to_json(const TrafficSummary& summary);
nlohmann::json to_json(const TrafficView& view);
// A directory's answer. Members this version does not know are ignored (a newer directory may
// add some); missing or mistyped ones are problems, named with their path.
std::variant<TrafficView, std::vector<std::string>> traffic_view_from_json(const nlohmann::json& j);

}  // namespace dstack::model
