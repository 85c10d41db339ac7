// SPDX-License-Identifier: Apache-2.0
#pragma once
// Consumers (docs/api.md#consumers): every sherlock registers itself in the directory under its
// consumer name, as soft state on a lease like an instance, and reports the traffic its proxy
// forwarded (traffic.hpp).
//
// Wire form of PUT /v1/consumers/{name}:
//   {"lease":"a1b2", "host":"web-1", "api":"127.0.0.1:7402", "services":["emitter","payments"]}
// The directory answers it with "name" and "last_report" (ms since the epoch, 0: none yet) added.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <variant>
#include <vector>

namespace dstack::model {

struct Consumer {
  std::string name;
  std::string lease;
  std::string host;                   // where it runs, as it says
  std::string api;                    // its local API, host:port, as it says
  std::vector<std::string> services;  // those it routes, sorted, each once
  std::int64_t last_report_ms = 0;    // set by the directory; 0: no report yet
  bool operator==(const Consumer&) const = default;
};

inline constexpr std::size_t kMaxConsumerServices = 10000;

nlohmann::json to_json(const Consumer& consumer);
// The request body, the name from the path. Unknown keys are refused; services are sorted and
// must each be listed once.
std::variant<Consumer, std::vector<std::string>> consumer_from_request(const nlohmann::json& body,
                                                                       std::string name);
// A directory's answer (name and last_report included), checked the same way.
std::variant<Consumer, std::vector<std::string>> consumer_from_json(const nlohmann::json& j);

}  // namespace dstack::model
