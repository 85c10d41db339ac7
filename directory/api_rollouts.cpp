// SPDX-License-Identifier: Apache-2.0
// /v1/rollouts (docs/api.md#rollouts): start, read, command and forget rollouts. The access
// check (routes:SVC to write, read to read) is Api::checked's, before this runs.
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/rollout.hpp"
#include "common/model/validate.hpp"
#include "directory/api.hpp"
#include "directory/api_reply.hpp"
#include "directory/rollout_events.hpp"

namespace dstack::directory {

using net::HttpRequest;
using net::HttpResponse;
using net::json_response;
using nlohmann::json;

std::string who(const Caller& caller) {
  return caller.name.empty() ? std::string("a request without a token") : "token " + caller.name;
}

HttpResponse Api::rollouts(const HttpRequest& r, const std::vector<std::string>& parts,
                           const Caller& caller) {
  if (parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    json list = json::array();
    for (const auto& [service, rollout] : rollouts_.all())
      list.push_back(rollout_json(rollouts_, rollout));
    return json_response(200, json{{"rollouts", std::move(list)}, {"revision", state_.revision()}});
  }
  if (parts.size() > 4) return not_found(r);
  const auto& service = parts[2];
  if (auto e = bad_name(model::check_service_name(service))) return error(*e);
  const auto answer = [&](const Outcome<model::RolloutState>& done, int status) {
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(status, rollout_json(rollouts_, std::get<model::RolloutState>(done)));
  };
  if (parts.size() == 4) {
    const auto& op = parts[3];
    Rollouts::Command command;
    if (op == "pause")
      command = Rollouts::Command::pause;
    else if (op == "resume")
      command = Rollouts::Command::resume;
    else if (op == "promote")
      command = Rollouts::Command::promote;
    else if (op == "abort")
      command = Rollouts::Command::abort;
    else
      return not_found(r);
    if (r.method != "POST") return method_not_allowed(r, "POST");
    auto body = parse_body(r);
    if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
    if (const auto& j = std::get<json>(body); !(j.is_object() && j.empty()))
      return error({400, "invalid_rollout",
                    "body: " + op + " takes no body (or {}), got " + model::printable(j.dump())});
    return answer(rollouts_.command(service, command, who(caller)), 200);
  }
  if (r.method == "GET") {
    const auto* rollout = rollouts_.find(service);
    if (!rollout)
      return error({404, "rollout_not_found", "service " + service + " has no rollout"});
    return json_response(200, rollout_json(rollouts_, *rollout));
  }
  if (r.method == "DELETE") {
    auto done = rollouts_.remove(service);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, json{{"revision", state_.revision()}});
  }
  if (r.method != "PUT") return method_not_allowed(r, "GET, PUT, DELETE");
  auto body = parse_body(r);
  if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
  auto spec = model::rollout_spec_from_request(std::get<json>(body), service);
  if (auto* problems = std::get_if<std::vector<std::string>>(&spec))
    return error({400, "invalid_rollout", model::join(*problems)});
  return answer(rollouts_.start(std::get<model::RolloutSpec>(std::move(spec))), 201);
}

}  // namespace dstack::directory
