// SPDX-License-Identifier: Apache-2.0
#include "watson/local_api.hpp"

#include <nlohmann/json.hpp>

#include "common/model/validate.hpp"
#include "common/net/json_response.hpp"
#include "watson/check_result.hpp"

namespace dstack::watson {

using net::HttpRequest;
using net::HttpResponse;
using net::json_response;
using nlohmann::json;

namespace {

HttpResponse error(int status, const std::string& code, const std::string& message) {
  return json_response(status, json{{"error", code}, {"message", message}});
}

HttpResponse method_not_allowed(const HttpRequest& r, const std::string& allow) {
  auto res = error(405, "method_not_allowed",
                   r.method + " is not allowed on " + r.path + " (allowed: " + allow + ")");
  res.headers.emplace_back("Allow", allow);
  return res;
}

// A reason is shown on the status page and in logs: one line of printable UTF-8.
bool acceptable_reason(const std::string& reason) {
  if (reason.size() > kMaxReasonLength) return false;
  for (unsigned char c : reason)
    if (c < 0x20 || c == 0x7f) return false;
  return bound_output(reason) == reason;  // bound_output rewrites invalid UTF-8 and C1 controls
}

}  // namespace

HttpResponse LocalApi::handle(const HttpRequest& request) {
  auto parts = net::path_segments(request.path);
  if (!parts) return error(400, "bad_request", "malformed percent-encoding in the path");
  const auto& p = *parts;
  bool read = request.method == "GET" || request.method == "HEAD";
  if (p.size() == 2 && p[0] == "v1" && p[1] == "status") {
    if (!read) return method_not_allowed(request, "GET, HEAD");
    return json_response(200, agent_.status());
  }
  if (p.size() == 1 && p[0] == "metrics") {
    if (!read) return method_not_allowed(request, "GET, HEAD");
    return HttpResponse{200, "text/plain; version=0.0.4", agent_.metrics(), {}, {}};
  }
  if (p.size() == 3 && p[0] == "v1" && p[1] == "maintenance") {
    if (request.method != "PUT" && request.method != "POST")
      return method_not_allowed(request, "PUT, POST");
    return maintenance(request, p[2]);
  }
  return error(404, "not_found", "no such endpoint: " + request.method + " " + request.path);
}

HttpResponse LocalApi::maintenance(const HttpRequest& request, const std::string& service) {
  if (auto why = model::check_service_name(service, "service"))
    return error(400, "invalid_name", *why);
  auto enable = request.query_param("enable");
  if (!enable || (*enable != "true" && *enable != "false"))
    return error(400, "invalid_enable",
                 "enable must be true or false, got " +
                     (enable ? "\"" + model::printable(*enable) + "\"" : std::string("nothing")));
  std::string reason = request.query_param("reason").value_or("");
  if (!acceptable_reason(reason))
    return error(400, "invalid_reason",
                 "reason must be at most " + std::to_string(kMaxReasonLength) +
                     " bytes of printable UTF-8 on one line");
  bool on = *enable == "true";
  std::size_t n = agent_.set_maintenance(service, on, reason);
  if (n == 0)
    return error(404, "unknown_service",
                 "watson has no instance of service \"" + model::printable(service) + "\"");
  return json_response(200, json{{"service", service}, {"maintenance", on}, {"instances", n}});
}

}  // namespace dstack::watson
