// SPDX-License-Identifier: Apache-2.0
// /v1/tokens (docs/api.md#tokens): create, list, show and revoke tokens. Admin only, which
// Api::checked has made sure of before this runs.
#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "directory/api.hpp"
#include "directory/api_reply.hpp"

namespace dstack::directory {

using net::HttpRequest;
using net::HttpResponse;
using nlohmann::json;

namespace {

json time_or_null(std::uint64_t unix_seconds) {
  return unix_seconds == 0 ? json(nullptr) : json(unix_seconds);
}

// What anyone may see of a token: never its secret or digest.
json describe(const Token& token, std::optional<std::uint64_t> last_used) {
  json policies = json::array();
  for (const auto& p : token.policies) policies.push_back(model::to_string(p));
  return json{{"name", token.name},
              {"policies", std::move(policies)},
              {"created", token.created},
              {"expires", time_or_null(token.expires)},
              {"last_used", last_used ? json(*last_used) : json(nullptr)}};
}

struct NewToken {
  std::string name;
  std::vector<model::Policy> policies;
  std::optional<std::int64_t> ttl;
};

// {"name": N, "policies": [P...], "ttl": SECONDS}: every problem, named, in one answer.
std::variant<NewToken, ApiError> read_new_token(const json& j) {
  if (!j.is_object()) return ApiError{400, "invalid_token", "body: expected a JSON object"};
  NewToken t;
  model::Problems problems;
  bool name_ok = false, policies_ok = false;
  for (const auto& [key, value] : j.items()) {
    if (key == "name") {
      name_ok = value.is_string();
      if (name_ok)
        t.name = value.get<std::string>();
      else
        problems.push_back("name: expected a string");
    } else if (key == "policies") {
      const bool strings =
          value.is_array() &&
          std::all_of(value.begin(), value.end(), [](const json& p) { return p.is_string(); });
      if (!strings) {
        problems.push_back("policies: expected an array of strings");
        continue;
      }
      auto parsed = model::parse_policies(value.get<std::vector<std::string>>());
      if (auto* bad = std::get_if<std::vector<std::string>>(&parsed)) {
        problems.insert(problems.end(), bad->begin(), bad->end());
      } else {
        t.policies = std::get<std::vector<model::Policy>>(std::move(parsed));
        policies_ok = true;
      }
    } else if (key == "ttl") {
      if (value.is_null()) continue;  // the same as no ttl
      if (value.is_number_integer() &&
          !(value.is_number_unsigned() && value.get<std::uint64_t>() > INT64_MAX))
        t.ttl = value.get<std::int64_t>();
      else if (value.is_number_integer())
        problems.push_back("ttl " + value.dump() + " is out of range 1..315360000 seconds");
      else
        problems.push_back("ttl: expected an integer number of seconds");
    } else {
      problems.push_back("unknown field \"" + key + "\"");
    }
  }
  if (!j.contains("name")) problems.push_back("name: missing");
  if (!j.contains("policies")) problems.push_back("policies: missing");
  auto more = Authority::check_new_token(name_ok ? &t.name : nullptr,
                                         policies_ok ? &t.policies : nullptr, t.ttl);
  problems.insert(problems.end(), more.begin(), more.end());
  if (!problems.empty()) return ApiError{400, "invalid_token", model::join(problems)};
  return t;
}

}  // namespace

HttpResponse Api::tokens(const HttpRequest& r, const std::vector<std::string>& parts) {
  if (!authority_.enabled())
    return error({409, "access_control_off",
                  "this directory has no token_file, so it checks no tokens: set token_file in "
                  "directory.yaml to use scoped tokens"});
  const TokenStore& store = authority_.store();
  if (parts.size() == 2) {
    if (r.method == "GET") {
      json list = json::array();
      for (const auto& [name, token] : store.tokens())
        list.push_back(describe(token, authority_.last_used(name)));
      return net::json_response(200, json{{"tokens", std::move(list)}});
    }
    if (r.method != "POST") return method_not_allowed(r, "GET, POST");
    auto body = parse_body(r);
    if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
    auto wanted = read_new_token(std::get<json>(body));
    if (auto* e = std::get_if<ApiError>(&wanted)) return error(*e);
    auto& t = std::get<NewToken>(wanted);
    auto created = authority_.create(t.name, std::move(t.policies), t.ttl);
    if (auto* e = std::get_if<ApiError>(&created)) return error(*e);
    auto& c = std::get<Authority::Created>(created);
    json answer = describe(c.token, std::nullopt);
    audit_note_ = "created " + c.token.name + " with " + answer["policies"].dump();
    answer["secret"] = c.secret;
    return net::json_response(201, answer);
  }
  if (parts.size() != 3) return not_found(r);
  const std::string& name = parts[2];
  if (auto problem = model::check_token_name(name)) return error({400, "invalid_name", *problem});
  if (r.method == "GET") {
    const Token* token = store.find(name);
    if (!token) return error({404, "token_not_found", "no token named " + name});
    return net::json_response(200, describe(*token, authority_.last_used(name)));
  }
  if (r.method != "DELETE") return method_not_allowed(r, "GET, DELETE");
  auto done = authority_.revoke(name);
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  // Its open watch streams end now rather than at the next keep-alive.
  watchers_.close_if([&](const std::string& key) { return !authority_.still_valid(key); });
  return net::json_response(200, json{{"name", name}, {"revoked", true}});
}

}  // namespace dstack::directory
