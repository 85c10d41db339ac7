// SPDX-License-Identifier: Apache-2.0
#pragma once
// Traffic insight in sherlock (docs/insight.md): every request its HAProxy logged, counted by
// service, version, instance and code class, with its total time and time to first byte in
// histograms of the fixed buckets (model/traffic.hpp). Counts only grow (Prometheus counters);
// take_new() hands out what was counted since it was last called, for the directory's reports.
//
// No I/O: the caller feeds it records and asks for metrics and reports. Each record costs one
// hash lookup once its instance has been seen (the version is asked of the view only then).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "common/metrics/writer.hpp"
#include "common/model/traffic.hpp"
#include "sherlock/request_log.hpp"

namespace dstack::sherlock {

// How a logged request counts (docs/insight.md#code-classes): no instance chosen, no answer, or
// an instance that failed it (HAProxy's termination state S or s: refused, reset, empty answer,
// timed out) is conn_error; otherwise the status's class, 1xx (a WebSocket's 101) as 2xx.
model::CodeClass code_class(const RequestRecord& record);
// The same when whether an instance was chosen is known already (has_instance()).
model::CodeClass code_class(const RequestRecord& record, bool instance_chosen);
// From the first byte of the request to the first byte of the answer, as HAProxy saw it
// (%TR + %Tw + %Tc + %Tr); -1 when there was no answer.
std::int64_t time_to_first_byte_ms(const RequestRecord& record);

class TrafficCounter {
 public:
  // The version the view has for an instance of a service now, or "" when it has none.
  using VersionOf = std::function<std::string(const std::string& service, const std::string& id)>;

  explicit TrafficCounter(VersionOf version_of);

  void count(const RequestRecord& record);
  // The view changed: versions are asked for again (an instance can come back as another
  // version under the same id).
  void forget_versions() { by_server_.clear(); }

  // dstack_sherlock_requests_total, _request_duration_seconds, _time_to_first_byte_seconds and
  // _unknown_service_requests_total (docs/metrics.md#sherlock).
  void write_metrics(metrics::Writer& w) const;
  // What was counted since the last call, per service and version ("" for requests no instance
  // was chosen for).
  model::TrafficByVersion take_new();

  std::uint64_t counted() const { return counted_; }

 private:
  struct VersionSeries {
    model::TrafficCounts total;     // since start
    model::TrafficCounts reported;  // the part take_new() handed out
    std::array<std::uint64_t, model::kDurationBuckets> ttfb{};
    std::uint64_t ttfb_sum_ms = 0;
  };
  struct InstanceSeries {
    std::array<std::uint64_t, model::kCodeClasses> requests{};
    VersionSeries* version = nullptr;
    bool chosen = false;  // an instance was chosen (has_instance())
  };
  // (service, version, instance)
  using InstanceKey = std::tuple<std::string, std::string, std::string>;

  InstanceSeries& series_for(const RequestRecord& record);

  VersionOf version_of_;
  std::map<std::pair<std::string, std::string>, VersionSeries> versions_;  // stable addresses
  std::map<InstanceKey, InstanceSeries> instances_;
  // "backend\tserver" -> its series, filled as records come; cleared when the view changes.
  std::unordered_map<std::string, InstanceSeries*> by_server_;
  std::string key_;  // reused for lookups: no allocation per record
  std::uint64_t counted_ = 0;
  std::uint64_t unknown_service_ = 0;
};

}  // namespace dstack::sherlock
