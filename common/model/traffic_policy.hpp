// SPDX-License-Identifier: Apache-2.0
#pragma once
// Traffic policies (model::TrafficPolicy, docs/api.md#traffic-policies): their validation and
// JSON. Each value that can reach an HAProxy config is checked against a fixed list or a narrow
// pattern here, so none can add a word to the config.
//
// Wire form (PUT /v1/policies/{svc}; the forms of `dw policy set`):
//   {"retries":3, "retry_on":["conn-failure","503"], "timeout":"5s", "max_conn":100,
//    "queue_timeout":"1s", "eject":"5xx:5", "balance":"hash:header:X-User"}

#include <chrono>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::model {

// What `retry_on` may name: HAProxy's retry-on conditions (configuration.txt, retry-on). Only
// requests safe to repeat (GET, OPTIONS) are retried on any of them but conn-failure,
// where nothing was sent (docs/api.md#traffic-policies).
inline constexpr std::string_view kRetryOn[] = {"conn-failure",  "empty-response",
                                                "junk-response", "response-timeout",
                                                "404",           "408",
                                                "425",           "500",
                                                "501",           "502",
                                                "503",           "504"};

// "roundrobin", "leastconn", "hash:header:X-User", "hash:cookie:session"
std::string to_string(const Balance& balance);
// That form back, or a message naming the value and the rule.
std::variant<Balance, std::string> parse_balance(std::string_view text);
// "5xx:5" <-> 5, as `eject` is written.
std::variant<int, std::string> parse_eject(std::string_view text);

// Every problem of the policy (service name, ranges, words, names, and that queue_timeout comes
// with max_conn), each naming the field, the value and the rule.
std::vector<std::string> validate_traffic_policy(const TrafficPolicy& policy);

// The body of PUT /v1/policies/{svc}; unknown keys are refused. Every problem of reading (unknown
// keys, wrong types, values that do not parse), or else every problem of the values read.
std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_request(
    const nlohmann::json& body, std::string service);
// The body of PUT /v1/policies/{svc} that sets this policy (no service, no revision); also what
// an etcd backend stores under the service's key.
nlohmann::json to_request_json(const TrafficPolicy& policy);
// The policy as a directory answers it (with "service" and "revision"), and as a reader takes
// it back, validated again.
nlohmann::json to_json(const TrafficPolicy& policy);
std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_json(
    const nlohmann::json& j);

}  // namespace dstack::model
