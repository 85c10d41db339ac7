// SPDX-License-Identifier: Apache-2.0
#include "sherlock/local_api.hpp"

#include <nlohmann/json.hpp>

#include "common/net/json_response.hpp"

namespace dstack::sherlock {

using net::HttpRequest;
using net::HttpResponse;
using net::json_response;
using nlohmann::json;

HttpResponse handle_local_api(const Agent& agent, const HttpRequest& request) {
  const bool read = request.method == "GET" || request.method == "HEAD";
  const bool status = request.path == "/v1/status";
  const bool metrics = request.path == "/metrics";
  if (!status && !metrics)
    return json_response(
        404,
        json{{"error", "not_found"}, {"message", "no such endpoint (try /v1/status or /metrics)"}},
        2);
  if (!read) {
    auto res = json_response(405,
                             json{{"error", "method_not_allowed"},
                                  {"message", "the local API is read-only (GET, HEAD)"}},
                             2);
    res.headers.emplace_back("Allow", "GET, HEAD");
    return res;
  }
  if (status) return json_response(200, agent.status(), 2);  // read by people
  return HttpResponse{200, "text/plain; version=0.0.4", agent.metrics(), {}, {}};
}

}  // namespace dstack::sherlock
