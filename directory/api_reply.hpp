// SPDX-License-Identifier: Apache-2.0
#pragma once
// The answers the API's handlers share (docs/api.md#errors): a refusal as
// {"error", "message"} with its status, 404 and 405 for what is not served, the body as JSON.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>

#include "common/net/http.hpp"
#include "common/net/json_response.hpp"
#include "directory/api_error.hpp"

namespace dstack::directory {

inline net::HttpResponse error(const ApiError& e) {
  auto r = net::json_response(e.status, nlohmann::json{{"error", e.code}, {"message", e.message}});
  if (e.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

// Lets a refusal from model::check_* through as a 400 naming the field.
inline std::optional<ApiError> bad_name(const std::optional<std::string>& problem) {
  if (!problem) return std::nullopt;
  return ApiError{400, "invalid_name", *problem};
}

inline net::HttpResponse not_found(const net::HttpRequest& r) {
  return error({404, "not_found", "no such endpoint: " + r.method + " " + r.path});
}

inline net::HttpResponse method_not_allowed(const net::HttpRequest& r, const std::string& allow) {
  auto res = error({405, "method_not_allowed",
                    r.method + " is not allowed on " + r.path + " (allowed: " + allow + ")"});
  res.headers.emplace_back("Allow", allow);
  return res;
}

// The request body as JSON; an empty body reads as an empty object.
inline std::variant<nlohmann::json, ApiError> parse_body(const net::HttpRequest& r) {
  if (r.body.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  try {
    return nlohmann::json::parse(r.body);
  } catch (const nlohmann::json::parse_error& e) {
    return ApiError{400, "invalid_json",
                    std::string("request body is not valid JSON: ") + e.what()};
  }
}

}  // namespace dstack::directory
