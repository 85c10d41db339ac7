// SPDX-License-Identifier: Apache-2.0
// Server side: the bodies of PUT /v1/services/{svc}/instances/{id} and PUT /v1/routes/{svc}.
// Unknown keys are refused so a typo ("wieght") is an error, not a silently ignored setting.

#include "common/model/json.hpp"
#include "common/model/json_fields.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

std::variant<Instance, Problems> instance_from_request(const nlohmann::json& body,
                                                       std::string service, std::string id) {
  Problems problems;
  Instance out;
  if (auto p = check_service_name(service)) problems.push_back(std::move(*p));
  if (auto p = check_instance_id(id)) problems.push_back(std::move(*p));
  out.service = std::move(service);
  out.id = std::move(id);
  if (!body.is_object()) {
    problems.push_back("body: expected a JSON object");
    return problems;
  }
  detail::Fields f(body, problems);
  f.refuse_unknown({"lease", "url", "version", "weight", "health", "tags", "meta", "protocol"});
  detail::read_instance_body(f, out, true);
  if (!problems.empty()) return problems;
  return out;
}

std::variant<Route, Problems> route_from_request(const nlohmann::json& body, std::string service,
                                                 std::string consumer) {
  Problems problems;
  Route out;
  if (auto p = check_service_name(service)) problems.push_back(std::move(*p));
  if (!consumer.empty()) {
    if (auto p = check_consumer_name(consumer)) problems.push_back(std::move(*p));
  }
  out.service = std::move(service);
  out.consumer = std::move(consumer);
  if (!body.is_object()) {
    problems.push_back("body: expected a JSON object");
    return problems;
  }
  detail::Fields f(body, problems);
  f.refuse_unknown({"targets"});
  detail::read_targets(f, out.targets, true);
  if (!problems.empty()) return problems;
  return out;
}

}  // namespace dstack::model
