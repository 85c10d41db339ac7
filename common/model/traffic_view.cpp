// SPDX-License-Identifier: Apache-2.0
#include "common/model/traffic_view.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace dstack::model {

namespace {

using nlohmann::json;

// To `decimals` places, dividing last so that 6.77 stays 6.77 (not 6.7700000000000005).
double rounded(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

json optional_ms(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

// Reads the members of one JSON object, naming every problem with its path.
class Reader {
 public:
  Reader(const json& j, std::string path, std::vector<std::string>& problems)
      : j_(j), path_(std::move(path)), problems_(problems) {}

  const json* get(const char* key) {
    auto it = j_.find(key);
    if (it == j_.end()) {
      problems_.push_back(path_ + key + ": missing");
      return nullptr;
    }
    return &*it;
  }
  std::string string(const char* key) {
    const json* v = get(key);
    if (!v) return {};
    if (!v->is_string()) {
      wrong(key, "a string");
      return {};
    }
    return v->get<std::string>();
  }
  double number(const char* key) {
    const json* v = get(key);
    if (!v) return 0;
    if (!v->is_number() || v->get<double>() < 0) {
      wrong(key, "a number >= 0");
      return 0;
    }
    return v->get<double>();
  }
  std::uint64_t count(const json& v, const std::string& key) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      wrong(key, "an integer >= 0");
      return 0;
    }
    return v.get<std::uint64_t>();
  }
  std::optional<double> optional_number(const char* key) {
    const json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    return number(key);
  }
  const json* array(const char* key) {
    const json* v = get(key);
    if (v && !v->is_array()) {
      wrong(key, "an array");
      return nullptr;
    }
    return v;
  }
  void wrong(const std::string& key, const char* kind) {
    problems_.push_back(path_ + key + ": expected " + kind);
  }
  const std::string& path() const { return path_; }

 private:
  const json& j_;
  std::string path_;
  std::vector<std::string>& problems_;
};

bool is_object(const json& j, const std::string& path, std::vector<std::string>& problems) {
  if (j.is_object()) return true;
  problems.push_back((path.empty() ? "traffic" : path.substr(0, path.size() - 1)) +
                     ": expected a JSON object");
  return false;
}

TrafficSummary read_summary(Reader& r) {
  TrafficSummary s;
  if (const json* n = r.get("requests")) s.requests = r.count(*n, "requests");
  s.rps = r.number("rps");
  s.error_ratio = r.number("error_ratio");
  s.p50_ms = r.optional_number("p50_ms");
  s.p90_ms = r.optional_number("p90_ms");
  s.p99_ms = r.optional_number("p99_ms");
  if (const json* codes = r.get("codes")) {
    if (!codes->is_object()) {
      r.wrong("codes", "a JSON object");
    } else {
      for (std::size_t c = 0; c < kCodeClasses; ++c) {
        auto it = codes->find(std::string(kCodeClassNames[c]));
        if (it != codes->end())
          s.codes[c] = r.count(*it, "codes." + std::string(kCodeClassNames[c]));
      }
    }
  }
  return s;
}

}  // namespace

TrafficSummary summarize(const TrafficCounts& counts, double seconds) {
  TrafficSummary s;
  s.requests = counts.total();
  s.rps = seconds > 0 ? rounded(static_cast<double>(s.requests) / seconds, 3) : 0;
  s.error_ratio = s.requests ? rounded(static_cast<double>(counts.errors()) / s.requests, 4) : 0;
  auto quantile = [&](double q) -> std::optional<double> {
    auto v = duration_quantile_ms(counts, q);
    if (!v) return std::nullopt;
    return rounded(*v, 2);
  };
  s.p50_ms = quantile(0.5);
  s.p90_ms = quantile(0.9);
  s.p99_ms = quantile(0.99);
  s.codes = counts.requests;
  return s;
}

json to_json(const TrafficSummary& s) {
  json codes = json::object();
  for (std::size_t c = 0; c < kCodeClasses; ++c)
    codes[std::string(kCodeClassNames[c])] = s.codes[c];
  return {{"requests", s.requests},          {"rps", s.rps},
          {"error_ratio", s.error_ratio},    {"p50_ms", optional_ms(s.p50_ms)},
          {"p90_ms", optional_ms(s.p90_ms)}, {"p99_ms", optional_ms(s.p99_ms)},
          {"codes", std::move(codes)}};
}

json to_json(const TrafficView& view) {
  json services = json::array();
  for (const auto& s : view.services) {
    json versions = json::array();
    for (const auto& v : s.versions) {
      json entry = to_json(v.figures);
      entry["version"] = v.version;
      entry["reporting"] = v.reporting;
      if (view.breakdown) {
        json per = json::array();
        for (const auto& c : v.consumers) {
          json one = to_json(c.figures);
          one["consumer"] = c.consumer;
          per.push_back(std::move(one));
        }
        entry["consumers"] = std::move(per);
      }
      versions.push_back(std::move(entry));
    }
    services.push_back({{"service", s.service}, {"versions", std::move(versions)}});
  }
  return {{"window", view.window},
          {"window_seconds", view.window_seconds},
          {"reporting", view.reporting},
          {"services", std::move(services)}};
}

std::variant<TrafficView, std::vector<std::string>> traffic_view_from_json(const json& j) {
  std::vector<std::string> problems;
  TrafficView view;
  if (!is_object(j, "", problems)) return problems;
  Reader top(j, "", problems);
  view.window = top.string("window");
  view.window_seconds = top.number("window_seconds");
  if (const json* n = top.get("reporting")) view.reporting = top.count(*n, "reporting");
  const json* services = top.array("services");
  for (std::size_t i = 0; services && i < services->size(); ++i) {
    const std::string at = "services[" + std::to_string(i) + "].";
    if (!is_object((*services)[i], at, problems)) continue;
    Reader rs((*services)[i], at, problems);
    ServiceTrafficSummary service{rs.string("service"), {}};
    const json* versions = rs.array("versions");
    for (std::size_t k = 0; versions && k < versions->size(); ++k) {
      const std::string vat = at + "versions[" + std::to_string(k) + "].";
      if (!is_object((*versions)[k], vat, problems)) continue;
      Reader rv((*versions)[k], vat, problems);
      VersionTrafficSummary version{rv.string("version"), read_summary(rv), {}, 0};
      if (const json* n = rv.get("reporting")) version.reporting = rv.count(*n, "reporting");
      const auto has_breakdown = (*versions)[k].contains("consumers");
      view.breakdown = view.breakdown || has_breakdown;
      const json* consumers = has_breakdown ? rv.array("consumers") : nullptr;
      for (std::size_t c = 0; consumers && c < consumers->size(); ++c) {
        const std::string cat = vat + "consumers[" + std::to_string(c) + "].";
        if (!is_object((*consumers)[c], cat, problems)) continue;
        Reader rc((*consumers)[c], cat, problems);
        version.consumers.push_back({rc.string("consumer"), read_summary(rc)});
      }
      service.versions.push_back(std::move(version));
    }
    view.services.push_back(std::move(service));
  }
  if (!problems.empty()) return problems;
  return view;
}

}  // namespace dstack::model
