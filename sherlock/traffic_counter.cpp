// SPDX-License-Identifier: Apache-2.0
#include "sherlock/traffic_counter.hpp"

#include <algorithm>
#include <vector>

namespace dstack::sherlock {

namespace {

using model::CodeClass;

const std::vector<double>& bounds_seconds() {
  static const std::vector<double> bounds = [] {
    std::vector<double> out;
    for (auto ms : model::kDurationBoundsMs) out.push_back(static_cast<double>(ms) / 1000);
    return out;
  }();
  return bounds;
}

}  // namespace

model::CodeClass code_class(const RequestRecord& r) {
  return code_class(r, has_instance(r));
}

model::CodeClass code_class(const RequestRecord& r, bool instance_chosen) {
  if (!instance_chosen || r.status < 100) return CodeClass::conn_error;
  if (!r.termination.empty() && (r.termination[0] == 'S' || r.termination[0] == 's'))
    return CodeClass::conn_error;
  switch (r.status / 100) {
    case 1:
    case 2:
      return CodeClass::c2xx;
    case 3:
      return CodeClass::c3xx;
    case 4:
      return CodeClass::c4xx;
    case 5:
      return CodeClass::c5xx;
    default:
      return CodeClass::conn_error;
  }
}

std::int64_t time_to_first_byte_ms(const RequestRecord& r) {
  if (r.request_ms < 0 || r.queue_ms < 0 || r.connect_ms < 0 || r.response_ms < 0) return -1;
  return r.request_ms + r.queue_ms + r.connect_ms + r.response_ms;
}

TrafficCounter::TrafficCounter(VersionOf version_of, bool figures_taken)
    : version_of_(std::move(version_of)), figures_taken_(figures_taken) {}

// key_ holds the record's "backend\tserver", not yet in by_server_.
TrafficCounter::InstanceSeries& TrafficCounter::series_for(const RequestRecord& r) {
  std::string service(service_of(r));
  std::string instance = has_instance(r) ? std::string(r.server) : std::string();
  // An instance the view no longer has (a request that was under way when it left) counts
  // under the version "", as requests no instance was chosen for do.
  std::string version =
      instance.empty() ? std::string() : version_of_(service, instance).value_or("");
  auto& versions = versions_[{service, version}];
  auto [at, added] =
      instances_.try_emplace({std::move(service), std::move(version), std::move(instance)});
  InstanceSeries& series = at->second;
  if (added) ++versions.instances;
  series.version = &versions;
  series.chosen = has_instance(r);
  by_server_.emplace(key_, &series);
  return series;
}

void TrafficCounter::count(const RequestRecord& r) {
  // Looked up first: a known (backend, server) pair needs no name check.
  InstanceSeries* series = nullptr;
  key_.assign(r.backend);
  key_ += '\t';
  key_ += r.server;
  if (auto it = by_server_.find(key_); it != by_server_.end()) {
    series = it->second;
  } else if (service_of(r).empty()) {  // the frontend's own 404 for an unknown service
    ++unknown_service_;
    return;
  } else {
    series = &series_for(r);
  }
  ++counted_;
  const CodeClass code = code_class(r, series->chosen);
  ++series->requests[static_cast<std::size_t>(code)];
  VersionSeries& v = *series->version;
  v.total.observe(code, std::max<std::int64_t>(r.total_ms, 0));
  if (const auto ttfb = time_to_first_byte_ms(r); ttfb >= 0) {
    ++v.ttfb[model::duration_bucket(ttfb)];
    v.ttfb_sum_ms += static_cast<std::uint64_t>(ttfb);
  }
}

void TrafficCounter::write_metrics(metrics::Writer& w) const {
  for (const auto& [key, series] : instances_) {
    const auto& [service, version, instance] = key;
    for (std::size_t c = 0; c < model::kCodeClasses; ++c)
      w.counter("dstack_sherlock_requests_total",
                "Requests the proxy forwarded, by service, version, instance and code class.",
                static_cast<double>(series.requests[c]),
                {{"service", service},
                 {"version", version},
                 {"instance", instance},
                 {"code", model::kCodeClassNames[c]}});
  }
  for (const auto& [key, v] : versions_)
    w.histogram("dstack_sherlock_request_duration_seconds",
                "Total time of each request, from its first byte to the answer's last.",
                bounds_seconds(), v.total.duration,
                static_cast<double>(v.total.duration_sum_ms) / 1000,
                {{"service", key.first}, {"version", key.second}});
  for (const auto& [key, v] : versions_)
    w.histogram("dstack_sherlock_time_to_first_byte_seconds",
                "From the request's first byte to the answer's first byte.", bounds_seconds(),
                v.ttfb, static_cast<double>(v.ttfb_sum_ms) / 1000,
                {{"service", key.first}, {"version", key.second}});
  w.counter("dstack_sherlock_unknown_service_requests_total",
            "Requests for a service the proxy does not know (answered 404).",
            static_cast<double>(unknown_service_));
}

void TrafficCounter::view_changed(Clock::TimePoint now) {
  by_server_.clear();
  drop_departed(now);
}

void TrafficCounter::drop_departed(Clock::TimePoint now) {
  if (looked_for_departures_ && now - *looked_for_departures_ < kLookForDeparturesEvery) return;
  looked_for_departures_ = now;
  bool dropped = false;
  for (auto it = instances_.begin(); it != instances_.end();) {
    const auto& [service, version, instance] = it->first;
    InstanceSeries& series = it->second;
    const auto in_view = version_of_(service, instance);
    if (in_view && *in_view == version) {
      series.departed.reset();  // back, or never gone
    } else if (!series.departed) {
      series.departed = now;
    } else if (now - *series.departed >= kKeptAfterLeaving) {
      --series.version->instances;
      it = instances_.erase(it);
      dropped = true;
      continue;
    }
    ++it;
  }
  for (auto it = versions_.begin(); it != versions_.end();) {
    const VersionSeries& v = it->second;
    if (v.instances == 0 && (!figures_taken_ || v.reported == v.total)) {
      it = versions_.erase(it);
      dropped = true;
    } else {
      ++it;
    }
  }
  if (dropped) by_server_.clear();  // it points into what went
}

model::TrafficByVersion TrafficCounter::take_new() {
  model::TrafficByVersion out;
  for (auto& [key, v] : versions_) {
    model::TrafficCounts fresh = v.total;
    fresh.subtract(v.reported);
    if (fresh.empty()) continue;
    v.reported = v.total;
    out[key.first][key.second] = fresh;
  }
  return out;
}

}  // namespace dstack::sherlock
