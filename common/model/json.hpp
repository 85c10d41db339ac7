// SPDX-License-Identifier: Apache-2.0
#pragma once
// JSON both ways for the wire API of docs/api.md. Parsing checks types and then validates values,
// returning every problem found with the field it concerns.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::model {

using Problems = std::vector<std::string>;
// Problems as one message: "a; b; c".
std::string join(const Problems& problems);

const char* to_string(Health h);
std::optional<Health> health_from_string(std::string_view s);
const char* to_string(Event::Type t);
const char* to_string(Protocol p);
std::optional<Protocol> protocol_from_string(std::string_view s);

nlohmann::json to_json(const Lease& lease);
nlohmann::json to_json(const Instance& instance);
nlohmann::json to_json(const Route& route);
nlohmann::json to_json(const Snapshot& snapshot);
// The same JSON text as to_json(snapshot).dump(), built one instance at a time: no tree of the
// whole snapshot (at 10,000 instances that tree is ten times the text).
std::string snapshot_text(const Snapshot& snapshot);
nlohmann::json to_json(const Event& event);
nlohmann::json to_json(const DirectoryHealth& health);

// The body of PUT /v1/services/{svc}/instances/{id}: {"lease","url","version","weight","health",
// "tags","meta","protocol"}; service and id come from the path. Unknown keys are refused.
std::variant<Instance, Problems> instance_from_request(const nlohmann::json& body,
                                                       std::string service, std::string id);
// The body of PUT /v1/routes/{svc}: {"targets":[{"version":"2","weight":10}]}.
std::variant<Route, Problems> route_from_request(const nlohmann::json& body, std::string service,
                                                 std::string consumer);

// Reading what a directory sent back (client side). Validates like the server does: a directory
// (or an etcd backend) is not trusted to have done it.
std::variant<Lease, Problems> lease_from_json(const nlohmann::json& j);  // owner optional
std::variant<Instance, Problems> instance_from_json(const nlohmann::json& j);
std::variant<Route, Problems> route_from_json(const nlohmann::json& j);
std::variant<Snapshot, Problems> snapshot_from_json(const nlohmann::json& j);
// The same from JSON text, reading each instance as soon as it is parsed and dropping its JSON:
// a snapshot's tree is about ten times its instances, and building it whole leaves a large,
// fragmented heap behind in a long-running reader.
std::variant<Snapshot, Problems> snapshot_from_text(std::string_view text);
std::variant<Event, Problems> event_from_json(const nlohmann::json& j);
std::variant<DirectoryHealth, Problems> health_from_json(const nlohmann::json& j);

}  // namespace dstack::model
