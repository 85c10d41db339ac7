// SPDX-License-Identifier: Apache-2.0
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"

namespace dstack::model {

std::string join(const Problems& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

using nlohmann::json;

const char* to_string(Health h) {
  switch (h) {
    case Health::passing:
      return "passing";
    case Health::warning:
      return "warning";
    case Health::critical:
      return "critical";
    case Health::maintenance:
      return "maintenance";
  }
  // Only reachable through a bad cast; a reader refuses the word, so it cannot travel far.
  return "unknown";
}

std::optional<Health> health_from_string(std::string_view s) {
  for (Health h : {Health::passing, Health::warning, Health::critical, Health::maintenance}) {
    if (s == to_string(h)) return h;
  }
  return std::nullopt;
}

const char* to_string(Protocol p) {
  switch (p) {
    case Protocol::http:
      return "http";
    case Protocol::http2:
      return "http2";
    case Protocol::grpc:
      return "grpc";
    case Protocol::tcp:
      return "tcp";
  }
  return "unknown";
}

std::optional<Protocol> protocol_from_string(std::string_view s) {
  for (Protocol p : {Protocol::http, Protocol::http2, Protocol::grpc, Protocol::tcp}) {
    if (s == to_string(p)) return p;
  }
  return std::nullopt;
}

const char* to_string(Event::Type t) {
  switch (t) {
    case Event::Type::instance_put:
      return "instance_put";
    case Event::Type::instance_delete:
      return "instance_delete";
    case Event::Type::route_put:
      return "route_put";
    case Event::Type::route_delete:
      return "route_delete";
    case Event::Type::policy_put:
      return "policy_put";
    case Event::Type::policy_delete:
      return "policy_delete";
  }
  return "unknown";
}

json to_json(const Lease& lease) {
  return json{{"id", lease.id}, {"ttl", lease.ttl.count()}, {"owner", lease.owner}};
}

json to_json(const Instance& instance) {
  json tags = json::array();
  for (const auto& tag : instance.tags) tags.push_back(tag);
  json meta = json::object();
  for (const auto& [key, value] : instance.meta) meta[key] = value;
  json j{{"service", instance.service},
         {"id", instance.id},
         {"lease", instance.lease},
         {"url", instance.url},
         {"version", instance.version},
         {"weight", instance.weight},
         {"health", to_string(instance.health)},
         {"tags", std::move(tags)},
         {"meta", std::move(meta)},
         {"revision", instance.revision}};
  // Absent means "what the URL says", and a directory or peer from before protocols refuses or
  // ignores the key: written only when registered.
  if (instance.protocol) j["protocol"] = to_string(*instance.protocol);
  return j;
}

json to_json(const Route& route) {
  json targets = json::array();
  for (const auto& t : route.targets)
    targets.push_back({{"version", t.version}, {"weight", t.weight}});
  json j{{"service", route.service}, {"targets", std::move(targets)}, {"revision", route.revision}};
  // Absent means "everyone"; an empty string would be a name that fails validation.
  if (!route.consumer.empty()) j["consumer"] = route.consumer;
  return j;
}

json to_json(const Snapshot& snapshot) {
  json instances = json::array();
  for (const auto& i : snapshot.instances) instances.push_back(to_json(i));
  json routes = json::array();
  for (const auto& r : snapshot.routes) routes.push_back(to_json(r));
  json policies = json::array();
  for (const auto& p : snapshot.policies) policies.push_back(to_json(p));
  return json{{"revision", snapshot.revision},   {"epoch", snapshot.epoch},
              {"synced", snapshot.synced},       {"instances", std::move(instances)},
              {"policies", std::move(policies)}, {"routes", std::move(routes)}};
}

std::string snapshot_text(const Snapshot& snapshot) {
  // Keys in nlohmann's (sorted) order, so the text is byte for byte what dump() writes.
  std::string out = "{\"epoch\":" + json(snapshot.epoch).dump() + ",\"instances\":[";
  for (std::size_t i = 0; i < snapshot.instances.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json(snapshot.instances[i]).dump();
  }
  out += "],\"policies\":[";
  for (std::size_t i = 0; i < snapshot.policies.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json(snapshot.policies[i]).dump();
  }
  out += "],\"revision\":" + json(snapshot.revision).dump() + ",\"routes\":[";
  for (std::size_t i = 0; i < snapshot.routes.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json(snapshot.routes[i]).dump();
  }
  out += "],\"synced\":" + json(snapshot.synced).dump() + "}";
  return out;
}

json to_json(const Event& event) {
  json j{{"revision", event.revision}, {"type", to_string(event.type)}, {"service", event.service}};
  switch (event.type) {
    case Event::Type::instance_put:
      j["id"] = event.id;
      j["instance"] = to_json(event.instance);
      break;
    case Event::Type::instance_delete:
      j["id"] = event.id;
      break;
    case Event::Type::route_put:
      if (!event.consumer.empty()) j["consumer"] = event.consumer;
      j["route"] = to_json(event.route);
      break;
    case Event::Type::route_delete:
      if (!event.consumer.empty()) j["consumer"] = event.consumer;
      break;
    case Event::Type::policy_put:
      j["policy"] = to_json(event.policy);
      break;
    case Event::Type::policy_delete:
      break;
  }
  return j;
}

json to_json(const DirectoryHealth& health) {
  return json{{"status", health.status},
              {"revision", health.revision},
              {"epoch", health.epoch},
              {"synced", health.synced}};
}

}  // namespace dstack::model
