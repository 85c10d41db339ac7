// SPDX-License-Identifier: Apache-2.0
#pragma once
// Traffic insight in sherlock (docs/insight.md): every request its HAProxy logged, counted by
// service, version, instance and code class, with its total time and time to first byte in
// histograms of the fixed buckets (model/traffic.hpp). Counts only grow (Prometheus counters);
// take_new() hands out what was counted since it was last called, for the directory's reports.
//
// No I/O: the caller feeds it records and asks for metrics and reports. Each record costs one
// hash lookup once its instance has been seen (the version is asked of the view only then).
//
// Series do not outlive what they count (docs/insight.md#metrics): an instance's series stays
// kKeptAfterLeaving after the instance left the view, so scrapes see its last counts, then goes;
// a version's histograms go with its last instance's series once its figures were taken for a
// report (at once when nothing takes them).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "common/core/clock.hpp"
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
  // The version the view has for an instance of a service now; nullopt when the view has no
  // such instance. For the id "", whether the view has the service at all ("" when it has).
  using VersionOf =
      std::function<std::optional<std::string>(const std::string& service, const std::string& id)>;

  // How long an instance's series stays after the instance left the view.
  static constexpr std::chrono::minutes kKeptAfterLeaving{10};
  // Departures are looked for at most this often: each look asks the view for every series.
  static constexpr std::chrono::seconds kLookForDeparturesEvery{10};

  // figures_taken: take_new() will be called (a reporter exists), so a version's figures are
  // kept until taken.
  TrafficCounter(VersionOf version_of, bool figures_taken);

  void count(const RequestRecord& record);
  // The view changed: versions are asked for again (an instance can come back as another
  // version under the same id), and series of instances that left are looked for.
  void view_changed(Clock::TimePoint now);
  // Drops the series of instances that left the view kKeptAfterLeaving ago or more, and
  // versions with no series left whose figures were taken. Notes departures first.
  void drop_departed(Clock::TimePoint now);

  // dstack_sherlock_requests_total, _request_duration_seconds, _time_to_first_byte_seconds and
  // _unknown_service_requests_total (docs/metrics.md#sherlock).
  void write_metrics(metrics::Writer& w) const;
  // What was counted since the last call, per service and version ("" for requests no instance
  // was chosen for).
  model::TrafficByVersion take_new();

  std::uint64_t counted() const { return counted_; }
  // Series held now, per instance and per version.
  std::size_t instance_series() const { return instances_.size(); }
  std::size_t version_series() const { return versions_.size(); }

 private:
  struct VersionSeries {
    model::TrafficCounts total;     // since start
    model::TrafficCounts reported;  // the part take_new() handed out
    std::array<std::uint64_t, model::kDurationBuckets> ttfb{};
    std::uint64_t ttfb_sum_ms = 0;
    std::size_t instances = 0;  // InstanceSeries pointing here
  };
  struct InstanceSeries {
    std::array<std::uint64_t, model::kCodeClasses> requests{};
    VersionSeries* version = nullptr;
    bool chosen = false;                       // an instance was chosen (has_instance())
    std::optional<Clock::TimePoint> departed;  // first seen out of the view
  };
  // (service, version, instance)
  using InstanceKey = std::tuple<std::string, std::string, std::string>;

  InstanceSeries& series_for(const RequestRecord& record);

  VersionOf version_of_;
  bool figures_taken_;
  std::optional<Clock::TimePoint> looked_for_departures_;
  std::map<std::pair<std::string, std::string>, VersionSeries> versions_;  // stable addresses
  std::map<InstanceKey, InstanceSeries> instances_;
  // "backend\tserver" -> its series, filled as records come; cleared when the view changes.
  std::unordered_map<std::string, InstanceSeries*> by_server_;
  std::string key_;  // reused for lookups: no allocation per record
  std::uint64_t counted_ = 0;
  std::uint64_t unknown_service_ = 0;
};

}  // namespace dstack::sherlock
