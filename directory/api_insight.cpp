// SPDX-License-Identifier: Apache-2.0
// /v1/consumers and /v1/traffic (docs/api.md#consumers, docs/api.md#traffic): sherlocks
// register and report under the `report` policy, which Api::checked has made sure of; anyone who
// may read sees the consumers and the fleet's traffic.
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/core/duration.hpp"
#include "common/model/json.hpp"
#include "common/model/traffic_view.hpp"
#include "common/model/validate.hpp"
#include "directory/api.hpp"
#include "directory/api_reply.hpp"
#include "directory/consumer_events.hpp"

namespace dstack::directory {

using net::HttpRequest;
using net::HttpResponse;
using nlohmann::json;

HttpResponse Api::consumers(const HttpRequest& r, const std::vector<std::string>& parts,
                            const Caller& caller) {
  auto described = [&](const model::Consumer& c) { return consumer_json(consumers_, c); };
  if (parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    json list = json::array();
    for (auto& c : consumers_.list()) list.push_back(described(std::move(c)));
    return net::json_response(200, json{{"consumers", std::move(list)}});
  }
  if (parts.size() > 4 || (parts.size() == 4 && parts[3] != "traffic")) return not_found(r);
  const auto& name = parts[2];
  if (auto e = bad_name(model::check_consumer_name(name))) return error(*e);
  if (parts.size() == 4) {
    if (r.method != "PUT") return method_not_allowed(r, "PUT");
    // A well-formed report is read straight from its text; the document reader says what is
    // wrong with any other (docs/benchmarks.md#in-the-directory).
    auto report = model::traffic_rows_from_text(r.body);
    if (!report) {
      auto body = parse_body(r);
      if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
      auto parsed = model::traffic_report_from_request(std::get<json>(body));
      if (auto* problems = std::get_if<model::Problems>(&parsed))
        return error({400, "invalid_report", model::join(*problems)});
      report = model::rows_of(std::get<model::TrafficReport>(parsed));
    }
    auto done = consumers_.report(name, *report, caller);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return net::json_response(200, json::object());
  }
  if (r.method == "GET") {
    for (auto& c : consumers_.list())
      if (c.name == name) return net::json_response(200, described(std::move(c)));
    return error({404, "consumer_not_found", "consumer " + name + " is not registered"});
  }
  if (r.method != "PUT") return method_not_allowed(r, "GET, PUT");
  auto body = parse_body(r);
  if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
  auto parsed = model::consumer_from_request(std::get<json>(body), name);
  if (auto* problems = std::get_if<model::Problems>(&parsed))
    return error({400, "invalid_consumer", model::join(*problems)});
  auto done = consumers_.put(std::get<model::Consumer>(std::move(parsed)), caller);
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  return net::json_response(200, described(std::get<model::Consumer>(std::move(done))));
}

namespace {

// A query's duration parameter: absent -> `most`; else from `least` to `most`, `most` being
// what `whose` says.
std::variant<Duration, ApiError> duration_param(const HttpRequest& r, const char* name,
                                                Duration least, Duration most, const char* code,
                                                const char* whose) {
  auto text = r.query_param(name);
  if (!text) return most;
  auto d = parse_duration(*text);
  if (!d || *d < least || *d > most)
    return ApiError{400, code,
                    model::invalid(name, *text,
                                   "must be a duration from " + format_duration(least) + " to " +
                                       format_duration(most) + " (" + whose + ")")};
  return *d;
}

// Columns, as charts take them: null where a step had no request (no ratio, no percentile), and
// rps null for steps before the directory heard of any traffic.
json series_json(const TrafficSeries& series) {
  json services = json::array();
  for (const auto& s : series.services) {
    json versions = json::array();
    for (const auto& v : s.versions) {
      json rps = json::array(), errors = json::array(), p50 = json::array(), p99 = json::array();
      for (const auto& step : v.steps) {
        const auto figures = model::summarize(step.counts, step.seconds);
        const bool any = figures.requests > 0;
        rps.push_back(step.seconds > 0 ? json(figures.rps) : json(nullptr));
        errors.push_back(any ? json(figures.error_ratio) : json(nullptr));
        p50.push_back(figures.p50_ms ? json(*figures.p50_ms) : json(nullptr));
        p99.push_back(figures.p99_ms ? json(*figures.p99_ms) : json(nullptr));
      }
      versions.push_back({{"version", v.version},
                          {"rps", std::move(rps)},
                          {"error_ratio", std::move(errors)},
                          {"p50_ms", std::move(p50)},
                          {"p99_ms", std::move(p99)}});
    }
    services.push_back({{"service", s.service}, {"versions", std::move(versions)}});
  }
  return {{"first_ago_seconds", series.first_ago_seconds},
          {"step_seconds", series.step_seconds},
          {"steps", series.steps},
          {"services", std::move(services)}};
}

}  // namespace

HttpResponse Api::traffic_series(const HttpRequest& r) {
  if (r.method != "GET") return method_not_allowed(r, "GET");
  const auto& options = consumers_.window().options();
  TrafficSeriesQuery q;
  auto window = duration_param(r, "window", options.slot, options.window, "invalid_window",
                               "the directory's traffic window");
  if (auto* e = std::get_if<ApiError>(&window)) return error(*e);
  q.window = std::get<Duration>(window);
  auto step = duration_param(r, "step", options.slot, q.window, "invalid_step", "the window");
  if (auto* e = std::get_if<ApiError>(&step)) return error(*e);
  q.step = r.query_param("step") ? std::get<Duration>(step) : options.slot;
  if (auto service = r.query_param("service")) {
    if (auto e = bad_name(model::check_service_name(*service))) return error(*e);
    q.service = *service;
  }
  return net::json_response(200, series_json(consumers_.series(q)));
}

HttpResponse Api::traffic(const HttpRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() == 3 && parts[2] == "series") return traffic_series(r);
  if (parts.size() != 2) return not_found(r);
  if (r.method != "GET") return method_not_allowed(r, "GET");
  TrafficQuery q;
  auto window =
      duration_param(r, "window", std::chrono::seconds(1), consumers_.window().options().window,
                     "invalid_window", "the directory's traffic window");
  if (auto* e = std::get_if<ApiError>(&window)) return error(*e);
  q.window = std::get<Duration>(window);
  if (auto service = r.query_param("service")) {
    if (auto e = bad_name(model::check_service_name(*service))) return error(*e);
    q.service = *service;
  }
  if (auto consumer = r.query_param("consumer")) {
    if (auto e = bad_name(model::check_consumer_name(*consumer))) return error(*e);
    q.consumer = *consumer;
  }
  // The breakdown per consumer for one service or one consumer: the fleet's is too big to serve.
  q.breakdown = q.service || q.consumer;
  return net::json_response(200, model::to_json(consumers_.traffic(q)));
}

}  // namespace dstack::directory
