// SPDX-License-Identifier: Apache-2.0
#pragma once
// Parsing of route arguments as users type them:
//   route set SVC 2=10 1=90            VERSION=PCT pairs ("10" or "10%")
//   route add //monolith //barker(2) 10%   the seed form: consumer, service(version), percent
// Pure functions, so every form and refusal is unit-tested.

#include <string>
#include <variant>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::dw {

std::variant<std::vector<model::RouteTarget>, std::string> parse_targets(
    const std::vector<std::string>& args);

struct RouteAdd {
  std::string consumer;
  std::string service;
  model::RouteTarget target;
};
std::variant<RouteAdd, std::string> parse_route_add(const std::string& consumer,
                                                    const std::string& service_version,
                                                    const std::string& percent);

// "//services/emitter" -> "emitter", "emitter" -> "emitter": the last path element.
std::string service_argument(const std::string& text);

// `targets` with `target.version` set to `target.weight` (added when missing), in order.
std::vector<model::RouteTarget> merge_target(std::vector<model::RouteTarget> targets,
                                             const model::RouteTarget& target);

}  // namespace dstack::dw
