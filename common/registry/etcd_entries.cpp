// SPDX-License-Identifier: Apache-2.0
#include "common/registry/etcd_entries.hpp"

#include <charconv>

#include "common/log/log.hpp"
#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"

namespace dstack::registry::etcd {

using nlohmann::json;

std::uint64_t number_field(const json& object, const char* key) {
  if (!object.is_object()) return 0;
  auto it = object.find(key);
  if (it == object.end()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer()) return it->get<std::int64_t>() > 0 ? it->get<std::uint64_t>() : 0;
  if (!it->is_string()) return 0;
  const auto& s = it->get_ref<const std::string&>();
  std::uint64_t out = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() ? out : 0;
}

std::string string_field(const json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

bool bool_field(const json& object, const char* key) {
  const json& v = field(object, key);
  return v.is_boolean() && v.get<bool>();
}

const json& field(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

namespace {

std::optional<std::string> names_problem(const ParsedKey& key) {
  if (auto p = model::check_service_name(key.service)) return p;
  if (key.kind == ParsedKey::Kind::instance) return model::check_instance_id(key.name);
  if (key.kind == ParsedKey::Kind::policy) return std::nullopt;
  if (!key.name.empty()) return model::check_consumer_name(key.name);
  return std::nullopt;
}

}  // namespace

std::optional<Entry> read_entry(const KeyLayout& keys, const json& kv, bool deleted) {
  auto key = base64_decode(string_field(kv, "key"));
  if (!key) return std::nullopt;
  auto parsed = keys.parse(*key);
  if (!parsed) return std::nullopt;
  Entry out;
  out.key = std::move(*parsed);
  out.key_text = model::printable(*key);
  out.revision = number_field(kv, "mod_revision");
  if (auto p = names_problem(out.key)) {
    out.names_valid = false;
    out.problem = *p;
    return out;
  }
  if (deleted) return out;
  auto value = base64_decode(string_field(kv, "value"));
  if (!value) {
    out.problem = "the value is not base64";
    return out;
  }
  auto body = json::parse(*value, nullptr, false);
  if (body.is_discarded()) {
    out.problem = "the value is not JSON";
    return out;
  }
  if (out.key.kind == ParsedKey::Kind::instance) {
    auto in = model::instance_from_request(body, out.key.service, out.key.name);
    if (auto* problems = std::get_if<model::Problems>(&in)) {
      out.problem = model::join(*problems);
      return out;
    }
    out.instance = std::get<model::Instance>(std::move(in));
    out.instance->revision = out.revision;
  } else if (out.key.kind == ParsedKey::Kind::policy) {
    auto policy = model::traffic_policy_from_request(body, out.key.service);
    if (auto* problems = std::get_if<model::Problems>(&policy)) {
      out.problem = model::join(*problems);
      return out;
    }
    out.policy = std::get<model::TrafficPolicy>(std::move(policy));
    out.policy->revision = out.revision;
  } else {
    auto route = model::route_from_request(body, out.key.service, out.key.name);
    if (auto* problems = std::get_if<model::Problems>(&route)) {
      out.problem = model::join(*problems);
      return out;
    }
    out.route = std::get<model::Route>(std::move(route));
    out.route->revision = out.revision;
  }
  return out;
}

void report_ignored(const Entry& entry) {
  log::get("etcd")->warn("{}: ignored: {}", entry.key_text, entry.problem);
}

model::Event to_event(Entry entry) {
  model::Event e;
  e.revision = entry.revision;
  e.service = entry.key.service;
  if (entry.key.kind == ParsedKey::Kind::instance) {
    e.id = entry.key.name;
    if (entry.instance) {
      e.type = model::Event::Type::instance_put;
      e.instance = std::move(*entry.instance);
    } else {
      e.type = model::Event::Type::instance_delete;
    }
  } else if (entry.key.kind == ParsedKey::Kind::policy) {
    if (entry.policy) {
      e.type = model::Event::Type::policy_put;
      e.policy = std::move(*entry.policy);
    } else {
      e.type = model::Event::Type::policy_delete;
    }
  } else {
    e.consumer = entry.key.name;
    if (entry.route) {
      e.type = model::Event::Type::route_put;
      e.route = std::move(*entry.route);
    } else {
      e.type = model::Event::Type::route_delete;
    }
  }
  return e;
}

std::string instance_value(const model::Instance& instance) {
  json body = model::to_json(instance);
  for (auto key : {"service", "id", "revision"}) body.erase(key);
  return body.dump();
}

std::string route_value(const model::Route& route) {
  json targets = json::array();
  for (const auto& t : route.targets)
    targets.push_back({{"version", t.version}, {"weight", t.weight}});
  return json{{"targets", std::move(targets)}}.dump();
}

std::string policy_value(const model::TrafficPolicy& policy) {
  return model::to_request_json(policy).dump();
}

}  // namespace dstack::registry::etcd
