// SPDX-License-Identifier: Apache-2.0
// Client side: what a directory (or an etcd backend, which validates nothing) sent back. Unknown
// keys are ignored so a newer directory can add fields; everything known is type-checked and
// validated exactly like the directory validates a request.

#include <climits>

#include "common/model/json.hpp"
#include "common/model/json_fields.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {
namespace {

using detail::Fields;
using detail::json;

// `where` names the value in the "not an object" message; `prefix` goes before every other one.
bool expect_object(const json& j, Problems& problems, const std::string& where) {
  if (j.is_object()) return true;
  problems.push_back(where + ": expected an object, got " + detail::type_name(j));
  return false;
}

void read_instance(const json& j, Problems& problems, const std::string& where,
                   const std::string& prefix, Instance& out) {
  if (!expect_object(j, problems, where)) return;
  Fields f(j, problems, prefix);
  if (auto service = f.string("service", true)) {
    f.add(check_service_name(*service));
    out.service = std::move(*service);
  }
  if (auto id = f.string("id", true)) {
    f.add(check_instance_id(*id));
    out.id = std::move(*id);
  }
  detail::read_instance_body(f, out, false);
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
}

void read_route(const json& j, Problems& problems, const std::string& where,
                const std::string& prefix, Route& out) {
  if (!expect_object(j, problems, where)) return;
  Fields f(j, problems, prefix);
  if (auto service = f.string("service", true)) {
    f.add(check_service_name(*service));
    out.service = std::move(*service);
  }
  if (auto consumer = f.string("consumer", false)) {
    if (!consumer->empty()) f.add(check_consumer_name(*consumer));
    out.consumer = std::move(*consumer);
  }
  detail::read_targets(f, out.targets, false);
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
}

// A policy in a snapshot or an event: its service and revision must be there, as for any entry;
// a policy that fails otherwise is kept as `unreadable` (model.hpp says why).
void read_policy(const json& j, Problems& problems, const std::string& where,
                 const std::string& prefix, TrafficPolicy& out) {
  if (!expect_object(j, problems, where)) return;
  Fields f(j, problems, prefix);
  auto service = f.string("service", true);
  if (service) f.add(check_service_name(*service));
  auto revision = f.revision("revision", true);
  if (!service || !revision) return;
  auto read = traffic_policy_from_json(j);
  if (auto* policy = std::get_if<TrafficPolicy>(&read)) {
    out = std::move(*policy);
    return;
  }
  out = TrafficPolicy{};
  out.service = std::move(*service);
  out.revision = *revision;
  out.unreadable = std::get<Problems>(std::move(read));
}

template <class T, class ReadOne>
void read_list(Fields& f, std::string_view key, std::vector<T>& out, ReadOne read_one,
               bool required = true) {
  const json* list = f.member(key, required);
  if (!list) return;
  if (!list->is_array()) return f.wrong_type(key, "an array", *list);
  out.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    read_one((*list)[i], f.problems(), where, where + ": ", out.emplace_back());
  }
}

std::optional<Event::Type> event_type_from_string(std::string_view s) {
  for (auto t : {Event::Type::instance_put, Event::Type::instance_delete, Event::Type::route_put,
                 Event::Type::route_delete, Event::Type::policy_put, Event::Type::policy_delete}) {
    if (s == to_string(t)) return t;
  }
  return std::nullopt;
}

// The body of an instance_put or route_put must describe what the event names, or a client
// would file it under the wrong key.
void check_same(Fields& f, std::string_view name, const std::string& inner,
                const std::string& outer, std::string_view outer_name) {
  if (inner == outer) return;
  f.add(std::string(name) + " \"" + printable(inner) + "\" differs from " +
        std::string(outer_name) + " \"" + printable(outer) + "\"");
}

void read_event_body(Fields& f, Event& out) {
  const bool instance_event =
      out.type == Event::Type::instance_put || out.type == Event::Type::instance_delete;
  const bool route_event =
      out.type == Event::Type::route_put || out.type == Event::Type::route_delete;
  if (instance_event) {
    if (auto id = f.string("id", true)) {
      f.add(check_instance_id(*id));
      out.id = std::move(*id);
    }
  } else if (!route_event) {
    // A policy event names its service only.
  } else if (auto consumer = f.string("consumer", false)) {
    if (!consumer->empty()) f.add(check_consumer_name(*consumer));
    out.consumer = std::move(*consumer);
  }
  const std::size_t before = f.problems().size();
  if (out.type == Event::Type::instance_put) {
    if (const json* j = f.member("instance", true)) {
      read_instance(*j, f.problems(), "instance", "instance: ", out.instance);
      if (f.problems().size() != before) return;
      check_same(f, "instance.service", out.instance.service, out.service, "service");
      check_same(f, "instance.id", out.instance.id, out.id, "id");
    }
  } else if (out.type == Event::Type::route_put) {
    if (const json* j = f.member("route", true)) {
      read_route(*j, f.problems(), "route", "route: ", out.route);
      if (f.problems().size() != before) return;
      check_same(f, "route.service", out.route.service, out.service, "service");
      check_same(f, "route.consumer", out.route.consumer, out.consumer, "consumer");
    }
  } else if (out.type == Event::Type::policy_put) {
    if (const json* j = f.member("policy", true)) {
      read_policy(*j, f.problems(), "policy", "policy: ", out.policy);
      if (f.problems().size() != before) return;
      check_same(f, "policy.service", out.policy.service, out.service, "service");
    }
  }
}

template <class T>
std::variant<T, Problems> result(T value, Problems problems) {
  if (!problems.empty()) return problems;
  return value;
}

// Instances read while the text was parsed, and what was wrong with them.
struct StreamedInstances {
  std::vector<Instance> instances;
  Problems problems;
};

// A snapshot from its JSON; `streamed` (when not null) replaces reading `instances` from `j`,
// where the parser left that list empty.
std::variant<Snapshot, Problems> read_snapshot(const json& j, StreamedInstances* streamed) {
  Problems problems;
  Snapshot out;
  if (!expect_object(j, problems, "snapshot")) return problems;
  Fields f(j, problems);
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
  if (auto epoch = f.string("epoch", true)) out.epoch = std::move(*epoch);
  if (auto synced = f.boolean("synced", true)) out.synced = *synced;
  if (streamed == nullptr) {
    read_list(f, "instances", out.instances, read_instance);
  } else {
    if (const json* list = f.member("instances", true); list && !list->is_array())
      f.wrong_type("instances", "an array", *list);
    problems.insert(problems.end(), streamed->problems.begin(), streamed->problems.end());
    out.instances = std::move(streamed->instances);
  }
  read_list(f, "routes", out.routes, read_route);
  // A directory from before traffic policies sends none.
  read_list(f, "policies", out.policies, read_policy, false);
  return result(std::move(out), std::move(problems));
}

}  // namespace

std::variant<Lease, Problems> lease_from_json(const nlohmann::json& j) {
  Problems problems;
  Lease out;
  if (!expect_object(j, problems, "lease")) return problems;
  Fields f(j, problems);
  if (auto id = f.string("id", true)) {
    f.add(check_lease_id(*id, "id"));
    out.id = std::move(*id);
  }
  if (auto ttl = f.integer("ttl", true, 1, INT_MAX)) {
    f.add(check_range(*ttl, 1, INT_MAX, "ttl"));
    out.ttl = std::chrono::seconds(*ttl);
  }
  if (auto owner = f.string("owner", false)) out.owner = std::move(*owner);
  return result(std::move(out), std::move(problems));
}

std::variant<Instance, Problems> instance_from_json(const nlohmann::json& j) {
  Problems problems;
  Instance out;
  read_instance(j, problems, "instance", "", out);
  return result(std::move(out), std::move(problems));
}

std::variant<Route, Problems> route_from_json(const nlohmann::json& j) {
  Problems problems;
  Route out;
  read_route(j, problems, "route", "", out);
  return result(std::move(out), std::move(problems));
}

std::variant<Snapshot, Problems> snapshot_from_json(const nlohmann::json& j) {
  return read_snapshot(j, nullptr);
}

std::variant<Snapshot, Problems> snapshot_from_text(std::string_view text) {
  using Event = json::parse_event_t;
  std::vector<Instance> instances;
  Problems instance_problems;
  std::string key;  // the last key of the top-level object
  bool in_instances = false;
  const json::parser_callback_t take_instances = [&](int depth, Event event, json& parsed) {
    if (depth == 1 && event == Event::key) {
      key = parsed.get<std::string>();
    } else if (depth == 1 && event == Event::array_start) {
      in_instances = key == "instances";
      // A key given twice: the last one counts, as in the tree reader (nlohmann's).
      if (in_instances) {
        instances.clear();
        instance_problems.clear();
      }
    } else if (depth == 1 && event == Event::array_end) {
      in_instances = false;
    } else if (in_instances && depth == 2 &&
               (event == Event::object_end || event == Event::array_end || event == Event::value)) {
      const std::string where = "instances[" + std::to_string(instances.size()) + "]";
      read_instance(parsed, instance_problems, where, where + ": ", instances.emplace_back());
      return false;  // read: not kept in the tree
    }
    return true;
  };
  const json j = json::parse(text.begin(), text.end(), take_instances, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Problems{"snapshot: not JSON"};

  StreamedInstances streamed{std::move(instances), std::move(instance_problems)};
  return read_snapshot(j, &streamed);
}

std::variant<Event, Problems> event_from_json(const nlohmann::json& j) {
  Problems problems;
  Event out;
  if (!expect_object(j, problems, "event")) return problems;
  Fields f(j, problems);
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
  if (auto service = f.string("service", true)) {
    f.add(check_service_name(*service));
    out.service = std::move(*service);
  }
  if (auto type = f.string("type", true)) {
    if (auto t = event_type_from_string(*type)) {
      out.type = *t;
      read_event_body(f, out);
    } else {
      f.add(invalid("type", *type,
                    "must be one of instance_put, instance_delete, route_put, route_delete, "
                    "policy_put, policy_delete"));
    }
  }
  return result(std::move(out), std::move(problems));
}

std::variant<DirectoryHealth, Problems> health_from_json(const nlohmann::json& j) {
  Problems problems;
  DirectoryHealth out;
  if (!expect_object(j, problems, "health")) return problems;
  Fields f(j, problems);
  if (auto status = f.string("status", true)) out.status = std::move(*status);
  if (auto revision = f.revision("revision", true)) out.revision = *revision;
  if (auto epoch = f.string("epoch", true)) out.epoch = std::move(*epoch);
  if (auto synced = f.boolean("synced", true)) out.synced = *synced;
  return result(std::move(out), std::move(problems));
}

}  // namespace dstack::model
