#include "sherlock/local_api.hpp"

#include <nlohmann/json.hpp>

namespace dstack::sherlock {

using net::HttpRequest;
using net::HttpResponse;
using nlohmann::json;

namespace {

HttpResponse json_response(int status, const json& body) {
  return HttpResponse{status,
                      "application/json",
                      body.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                      {},
                      {}};
}

}  // namespace

HttpResponse handle_local_api(const Agent& agent, const HttpRequest& request) {
  const bool read = request.method == "GET" || request.method == "HEAD";
  const bool status = request.path == "/v1/status";
  const bool metrics = request.path == "/metrics";
  if (!status && !metrics)
    return json_response(404, json{{"error", "not_found"},
                                   {"message", "no such endpoint (try /v1/status or /metrics)"}});
  if (!read) {
    auto res = json_response(405, json{{"error", "method_not_allowed"},
                                       {"message", "the local API is read-only (GET, HEAD)"}});
    res.headers.emplace_back("Allow", "GET, HEAD");
    return res;
  }
  if (status) return json_response(200, agent.status());
  return HttpResponse{200, "text/plain; version=0.0.4", agent.metrics(), {}, {}};
}

}  // namespace dstack::sherlock
