// SPDX-License-Identifier: Apache-2.0
#include "common/model/traffic.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/model/json.hpp"
#include "common/model/json_fields.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

using nlohmann::json;

// Far above any real count (a million requests a second for 30 years) and far below where a sum
// of many could overflow 64 bits.
constexpr std::uint64_t kMaxCount = 1'000'000'000'000'000ull;

std::optional<std::uint64_t> count(const json& j, const std::string& field, Problems& problems) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<std::int64_t>() >= 0)) {
    problems.push_back(field + ": expected an integer >= 0, got " +
                       (j.is_number() ? j.dump() : std::string(detail::type_name(j))));
    return std::nullopt;
  }
  const auto n = j.get<std::uint64_t>();
  if (n > kMaxCount) {
    problems.push_back(invalid(field, std::to_string(n), "must be at most 10^18"));
    return std::nullopt;
  }
  return n;
}

void read_requests(const json& j, const std::string& at, TrafficCounts& out, Problems& problems) {
  if (!j.is_object()) {
    problems.push_back(at + ": expected an object, got " + detail::type_name(j));
    return;
  }
  for (const auto& [key, value] : j.items()) {
    const auto it = std::find(kCodeClassNames.begin(), kCodeClassNames.end(), key);
    if (it == kCodeClassNames.end()) {
      problems.push_back(invalid(at, key, "a code class must be 2xx, 3xx, 4xx, 5xx or conn_error"));
      continue;
    }
    if (auto n = count(value, at + "." + key, problems))
      out.requests[static_cast<std::size_t>(it - kCodeClassNames.begin())] = *n;
  }
}

void read_duration(const json& j, const std::string& at, TrafficCounts& out, Problems& problems) {
  if (!j.is_object()) {
    problems.push_back(at + ": expected an object, got " + detail::type_name(j));
    return;
  }
  detail::Fields f(j, problems, {}, at + ".");
  f.refuse_unknown({"counts", "sum"});
  if (const json* counts = f.member("counts", true)) {
    if (!counts->is_array()) {
      f.wrong_type(at + ".counts", "an array", *counts);
    } else if (counts->size() > kDurationBuckets) {
      problems.push_back(at + ".counts: " + std::to_string(counts->size()) +
                         " buckets, but there are " + std::to_string(kDurationBuckets) +
                         " (docs/insight.md#buckets)");
    } else {
      for (std::size_t i = 0; i < counts->size(); ++i)
        if (auto n = count((*counts)[i], at + ".counts[" + std::to_string(i) + "]", problems))
          out.duration[i] = *n;
    }
  }
  if (const json* sum = f.member("sum", true))
    if (auto n = count(*sum, at + ".sum", problems)) out.duration_sum_ms = *n;
}

void read_versions(const json& j, const std::string& service, TrafficByVersion& out,
                   Problems& problems) {
  const std::string at = "services." + service;
  if (!j.is_object()) {
    problems.push_back(at + ": expected an object, got " + detail::type_name(j));
    return;
  }
  if (auto p = check_count(j.size(), kMaxReportVersions, at)) {
    problems.push_back(*p);
    return;
  }
  auto& versions = out[service];
  for (const auto& [version, body] : j.items()) {
    // "": requests for which no instance was chosen (docs/insight.md#code-classes).
    if (auto p = version.empty() ? Problem() : check_version(version, at + " version")) {
      problems.push_back(*p);
      continue;
    }
    const std::string vat = at + "." + version;
    if (!body.is_object()) {
      problems.push_back(vat + ": expected an object, got " + detail::type_name(body));
      continue;
    }
    detail::Fields f(body, problems, {}, vat + ".");
    f.refuse_unknown({"requests", "duration_ms"});
    TrafficCounts counts;
    const std::size_t before = problems.size();
    if (const json* r = f.member("requests", true))
      read_requests(*r, vat + ".requests", counts, problems);
    if (const json* d = f.member("duration_ms", true))
      read_duration(*d, vat + ".duration_ms", counts, problems);
    if (problems.size() != before) continue;
    const auto observed =
        std::accumulate(counts.duration.begin(), counts.duration.end(), std::uint64_t{0});
    if (observed != counts.total()) {
      problems.push_back(vat + ": duration_ms.counts add up to " + std::to_string(observed) +
                         " but requests to " + std::to_string(counts.total()) +
                         "; every request has one duration");
      continue;
    }
    versions[version] = counts;
  }
}

}  // namespace

std::size_t duration_bucket(std::int64_t ms) {
  return static_cast<std::size_t>(
      std::lower_bound(kDurationBoundsMs.begin(), kDurationBoundsMs.end(), ms) -
      kDurationBoundsMs.begin());
}

void TrafficCounts::observe(CodeClass code, std::int64_t duration_ms) {
  ++requests[static_cast<std::size_t>(code)];
  ++duration[duration_bucket(duration_ms)];
  if (duration_ms > 0) duration_sum_ms += static_cast<std::uint64_t>(duration_ms);
}

void TrafficCounts::add(const TrafficCounts& other) {
  for (std::size_t i = 0; i < requests.size(); ++i) requests[i] += other.requests[i];
  for (std::size_t i = 0; i < duration.size(); ++i) duration[i] += other.duration[i];
  duration_sum_ms += other.duration_sum_ms;
}

void TrafficCounts::subtract(const TrafficCounts& other) {
  auto minus = [](std::uint64_t& a, std::uint64_t b) { a = a > b ? a - b : 0; };
  for (std::size_t i = 0; i < requests.size(); ++i) minus(requests[i], other.requests[i]);
  for (std::size_t i = 0; i < duration.size(); ++i) minus(duration[i], other.duration[i]);
  minus(duration_sum_ms, other.duration_sum_ms);
}

std::uint64_t TrafficCounts::total() const {
  return std::accumulate(requests.begin(), requests.end(), std::uint64_t{0});
}

std::uint64_t TrafficCounts::errors() const {
  return requests[static_cast<std::size_t>(CodeClass::c5xx)] +
         requests[static_cast<std::size_t>(CodeClass::conn_error)];
}

std::optional<double> duration_quantile_ms(const TrafficCounts& counts, double q) {
  const auto total =
      std::accumulate(counts.duration.begin(), counts.duration.end(), std::uint64_t{0});
  if (total == 0) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(total);
  double below = 0;
  for (std::size_t i = 0; i < kDurationBuckets; ++i) {
    const auto in = static_cast<double>(counts.duration[i]);
    if (in > 0 && below + in >= rank) {
      if (i == kDurationBoundsMs.size()) return static_cast<double>(kDurationBoundsMs.back());
      const double lo = i == 0 ? 0.0 : static_cast<double>(kDurationBoundsMs[i - 1]);
      const double hi = static_cast<double>(kDurationBoundsMs[i]);
      return lo + (hi - lo) * std::max(0.0, rank - below) / in;
    }
    below += in;
  }
  return static_cast<double>(kDurationBoundsMs.back());
}

nlohmann::json to_json(const TrafficReport& report) {
  json services = json::object();
  for (const auto& [service, versions] : report.services) {
    json vs = json::object();
    for (const auto& [version, c] : versions) {
      json requests = json::object();
      for (std::size_t i = 0; i < kCodeClasses; ++i)
        if (c.requests[i]) requests[std::string(kCodeClassNames[i])] = c.requests[i];
      std::size_t used = kDurationBuckets;
      while (used > 0 && c.duration[used - 1] == 0) --used;
      json counts = json::array();
      for (std::size_t i = 0; i < used; ++i) counts.push_back(c.duration[i]);
      vs[version] = {{"requests", std::move(requests)},
                     {"duration_ms", {{"counts", std::move(counts)}, {"sum", c.duration_sum_ms}}}};
    }
    services[service] = std::move(vs);
  }
  return {{"interval_ms", report.interval_ms},
          {"buckets_ms", kDurationBoundsMs},
          {"services", std::move(services)}};
}

std::variant<TrafficReport, Problems> traffic_report_from_request(const nlohmann::json& body) {
  Problems problems;
  TrafficReport out;
  if (!body.is_object()) return Problems{"report: expected a JSON object"};
  detail::Fields f(body, problems);
  f.refuse_unknown({"interval_ms", "buckets_ms", "services"});
  if (const json* interval = f.member("interval_ms", true)) {
    if (!interval->is_number_integer()) {
      f.wrong_type("interval_ms", "an integer", *interval);
    } else {
      out.interval_ms = interval->get<std::int64_t>();
      if (auto p = check_range(out.interval_ms, 1, kMaxReportIntervalMs, "interval_ms"))
        problems.push_back(*p);
    }
  }
  if (const json* bounds = f.member("buckets_ms", true)) {
    if (*bounds != json(kDurationBoundsMs))
      problems.push_back(invalid("buckets_ms", bounds->dump().substr(0, 200),
                                 "must be this directory's bounds " +
                                     json(kDurationBoundsMs).dump() +
                                     " (docs/insight.md#buckets)"));
  }
  if (const json* services = f.member("services", true)) {
    if (!services->is_object()) {
      f.wrong_type("services", "an object", *services);
    } else if (auto p = check_count(services->size(), kMaxReportServices, "services")) {
      problems.push_back(*p);
    } else {
      for (const auto& [service, versions] : services->items()) {
        if (auto p = check_service_name(service, "services")) {
          problems.push_back(*p);
          continue;
        }
        read_versions(versions, service, out.services, problems);
        if (problems.size() > 20) break;  // enough to say what is wrong
      }
    }
  }
  if (!problems.empty()) return problems;
  return out;
}

}  // namespace dstack::model
