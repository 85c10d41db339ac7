// SPDX-License-Identifier: Apache-2.0
#pragma once
// An operator's policy for one service's traffic (docs/api.md#traffic-policies): how every
// sherlock's HAProxy retries, times out, limits, ejects and balances the service's requests.
// Every field is optional: absent means sherlock.yaml's setting (retries, timeouts.server) or
// HAProxy's own (no limit, no ejection, round robin). Plain data with its validation and JSON;
// each value that can reach an HAProxy config is checked against a fixed list or a narrow
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

namespace dstack::model {

struct Balance {
  enum class Kind { roundrobin, leastconn, header, cookie };
  Kind kind = Kind::roundrobin;
  std::string name;  // the header or cookie hashed (header, cookie); empty otherwise
  bool operator==(const Balance&) const = default;
};

struct TrafficPolicy {
  std::string service;
  std::optional<int> retries;                              // 0..10 after the first try
  std::vector<std::string> retry_on;                       // kRetryOn words, each once
  std::optional<std::chrono::milliseconds> timeout;        // 1ms..1h: the instance's silence
  std::optional<int> max_conn;                             // 1..100000 per instance
  std::optional<std::chrono::milliseconds> queue_timeout;  // 0ms..1h, with max_conn
  std::optional<int> eject_5xx;                            // 1..1000 consecutive 5xx
  std::optional<Balance> balance;
  std::uint64_t revision = 0;
  bool operator==(const TrafficPolicy&) const = default;
};

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

// The body of PUT /v1/policies/{svc}; unknown keys are refused. All problems at once.
std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_request(
    const nlohmann::json& body, std::string service);
// The policy as a directory answers it (with "service" and "revision"), and as a reader takes
// it back, validated again.
nlohmann::json to_json(const TrafficPolicy& policy);
std::variant<TrafficPolicy, std::vector<std::string>> traffic_policy_from_json(
    const nlohmann::json& j);

}  // namespace dstack::model
