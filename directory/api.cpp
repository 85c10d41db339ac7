// SPDX-License-Identifier: Apache-2.0
#include "directory/api.hpp"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"
#include "common/net/json_response.hpp"
#include "directory/access.hpp"
#include "directory/api_reply.hpp"
#include "directory/console_files.hpp"
#include "directory/consumer_events.hpp"
#include "directory/rollout_events.hpp"
#include "directory/traffic_events.hpp"

namespace dstack::directory {

using net::HttpRequest;
using net::HttpResponse;
using net::json_response;
using nlohmann::json;

namespace {

json revision_body(const State& state) {
  return json{{"revision", state.revision()}};
}

}  // namespace

Api::Api(ApiOptions options, State& state, Consumers& consumers, Rollouts& rollouts,
         Watchers& watchers, Authority& authority,
         std::function<void(metrics::Writer&)> server_metrics)
    : options_(std::move(options)),
      state_(state),
      consumers_(consumers),
      rollouts_(rollouts),
      watchers_(watchers),
      authority_(authority),
      server_metrics_(std::move(server_metrics)) {}

HttpResponse Api::handle(const HttpRequest& r) {
  Caller caller;
  audit_note_.clear();
  HttpResponse response = checked(r, caller);
  // A granted keep-alive changes nothing but a deadline, and every watson sends one every few
  // seconds: it would drown the trail (docs/security.md#the-audit-trail).
  const bool keepalive =
      r.method == "PUT" && response.status == 200 && r.path.starts_with("/v1/leases/");
  if (!is_read(r.method) && !keepalive && options_.audit)
    options_.audit(caller, r, response.status, audit_note_);
  return response;
}

HttpResponse Api::checked(const HttpRequest& r, Caller& caller) {
  // Answers that hold nothing and change nothing come before the permission check, which needs
  // the path's segments; the audit line of a write still names who asked.
  const auto early = [&](HttpResponse response) {
    if (authority_.enabled() && !is_read(r.method)) authority_.identify(r.authorization, caller);
    return response;
  };
  if (r.path.empty() || r.path.front() != '/') return early(not_found(r));
  // The console's files hold no data: anyone may load them (its requests are checked below).
  if (auto file = console_file(r)) return early(std::move(*file));
  auto segments = net::path_segments(r.path);
  if (!segments)
    return early(error({400, "bad_request", "malformed percent-encoding in the path " + r.path}));
  const auto& parts = *segments;
  for (auto& p : parts)
    if (p.empty()) return early(not_found(r));
  // Before routing: a caller without the policy changes nothing and learns nothing. Without
  // access control anyone may do anything, so no request pays for working out its permission.
  if (authority_.enabled()) {
    const auto needed = required_permission(r.method, parts);
    if (auto refused = authority_.authorize(r.authorization, needed, caller))
      return error(*refused);
    if (!needed && !is_read(r.method)) authority_.identify(r.authorization, caller);  // anyone may
  }
  return route(r, parts, caller);
}

HttpResponse Api::route(const HttpRequest& r, const std::vector<std::string>& parts,
                        const Caller& caller) {
  if (parts.size() == 1 && parts[0] == "metrics") {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    return metrics();
  }
  if (parts.size() < 2 || parts[0] != "v1") return not_found(r);
  const auto& what = parts[1];
  if (what == "health" && parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    return health();
  }
  if (what == "snapshot" && parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    return json_response(200, model::to_json(state_.snapshot()));
  }
  if (what == "watch" && parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    return watch(r, caller);
  }
  if (what == "leases") return leases(r, parts, caller);
  if (what == "services") return services(r, parts, caller);
  if (what == "routes") return routes(r, parts, caller);
  if (what == "rollouts") return rollouts(r, parts, caller);
  if (what == "policies") return policies(r, parts);
  if (what == "tokens") return tokens(r, parts);
  if (what == "consumers") return consumers(r, parts, caller);
  if (what == "traffic") return traffic(r, parts);
  return not_found(r);
}

HttpResponse Api::route_history(const HttpRequest& r, const std::string& service,
                                const std::string& consumer, const std::string& what,
                                const Caller& caller) {
  if (what == "previous") {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    if (!state_.route(service, consumer)) return error(no_route(service, consumer));
    const auto previous = state_.previous_route(service, consumer);
    if (!previous.known)
      return error({404, "no_previous_route",
                    "what the route of " + service +
                        " replaced is not known: it was set before "
                        "this directory kept it"});
    json body = {{"service", service}, {"targets", nullptr}};
    if (!consumer.empty()) body["consumer"] = consumer;
    if (previous.targets) {
      body["targets"] = json::array();
      for (const auto& t : *previous.targets)
        body["targets"].push_back({{"version", t.version}, {"weight", t.weight}});
    }
    return json_response(200, body);
  }
  if (r.method != "POST") return method_not_allowed(r, "POST");
  if (auto refused = state_.rollback_refusal(service, consumer)) return error(*refused);
  if (auto e = rollouts_.pause_for_route_change(service, who(caller))) return error(*e);
  auto done = state_.rollback_route(service, consumer);
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  if (auto route = state_.route(service, consumer))
    return json_response(200, model::to_json(*route));
  return json_response(200, revision_body(state_));  // it went back to no route
}

HttpResponse Api::health() const {
  json body = model::to_json(
      model::DirectoryHealth{"ok", state_.revision(), state_.epoch(), state_.synced()});
  if (!options_.name.empty()) body["name"] = options_.name;
  if (!options_.advertise.empty()) body["address"] = options_.advertise;
  return json_response(200, body);
}

HttpResponse Api::leases(const HttpRequest& r, const std::vector<std::string>& parts,
                         const Caller& caller) {
  if (parts.size() == 2) {
    if (r.method != "POST") return method_not_allowed(r, "POST");
    auto body = parse_body(r);
    if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
    auto& j = std::get<json>(body);
    if (!j.is_object()) return error({400, "invalid_lease", "body: expected a JSON object"});
    std::vector<std::string> problems;
    std::optional<std::int64_t> ttl;
    std::string owner;
    for (auto& [key, value] : j.items()) {
      if (key == "ttl") {
        if (value.is_number_integer())
          ttl = value.get<std::int64_t>();
        else
          problems.push_back("ttl: expected an integer number of seconds");
      } else if (key == "owner") {
        if (!value.is_string()) {
          problems.push_back("owner: expected a string");
        } else if (auto p = model::check_meta_value(value.get<std::string>(), "owner")) {
          problems.push_back(*p);
        } else {
          owner = value.get<std::string>();
        }
      } else {
        problems.push_back("unknown field \"" + key + "\"");
      }
    }
    if (!problems.empty()) return error({400, "invalid_lease", model::join(problems)});
    auto lease = state_.grant(ttl, owner, caller);
    if (auto* e = std::get_if<ApiError>(&lease)) return error(*e);
    return json_response(201, model::to_json(std::get<model::Lease>(lease)));
  }
  if (parts.size() != 3) return not_found(r);
  const auto& id = parts[2];
  if (auto e = bad_name(model::check_lease_id(id))) return error(*e);
  if (r.method == "PUT") {
    auto done = state_.keepalive(id, caller);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, json{{"id", id}});
  }
  if (r.method == "DELETE") {
    auto done = state_.revoke(id, caller);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, revision_body(state_));
  }
  return method_not_allowed(r, "PUT, DELETE");
}

HttpResponse Api::services(const HttpRequest& r, const std::vector<std::string>& parts,
                           const Caller& caller) {
  if (parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    json list = json::array();
    for (auto& name : state_.service_names()) {
      auto instances = state_.instances_of(name);
      std::size_t routable = 0;
      for (auto* in : instances) routable += model::routable(in->health) && in->weight > 0;
      list.push_back({{"name", name},
                      {"instances", instances.size()},
                      {"routable", routable},
                      {"routes", state_.routes_of(name).size()}});
    }
    return json_response(200, json{{"services", list}, {"revision", state_.revision()}});
  }
  const auto& service = parts[2];
  if (auto e = bad_name(model::check_service_name(service))) return error(*e);
  if (parts.size() == 3) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    auto instances = state_.instances_of(service);
    auto routes = state_.routes_of(service);
    if (instances.empty() && routes.empty())
      return error({404, "service_not_found", "no service named " + service});
    json body{{"service", service},
              {"instances", json::array()},
              {"routes", json::array()},
              {"revision", state_.revision()}};
    for (auto* in : instances) body["instances"].push_back(model::to_json(*in));
    for (auto& route : routes) body["routes"].push_back(model::to_json(route));
    return json_response(200, body);
  }
  if (parts.size() == 5 && parts[3] == "instances") return instances(r, service, parts[4], caller);
  return not_found(r);
}

HttpResponse Api::instances(const HttpRequest& r, const std::string& service, const std::string& id,
                            const Caller& caller) {
  if (auto e = bad_name(model::check_instance_id(id))) return error(*e);
  if (r.method == "GET") {
    for (auto* in : state_.instances_of(service))
      if (in->id == id) return json_response(200, model::to_json(*in));
    return error({404, "instance_not_found", "service " + service + " has no instance " + id});
  }
  if (r.method == "DELETE") {
    auto done = state_.delete_instance(service, id, caller);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, revision_body(state_));
  }
  if (r.method != "PUT") return method_not_allowed(r, "GET, PUT, DELETE");
  auto body = parse_body(r);
  if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
  auto parsed = model::instance_from_request(std::get<json>(body), service, id);
  if (auto* problems = std::get_if<model::Problems>(&parsed))
    return error({400, "invalid_instance", model::join(*problems)});
  auto done = state_.put_instance(std::get<model::Instance>(std::move(parsed)), caller);
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  return json_response(200, revision_body(state_));
}

HttpResponse Api::routes(const HttpRequest& r, const std::vector<std::string>& parts,
                         const Caller& caller) {
  if (parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    auto service = r.query_param("service");
    if (service)
      if (auto e = bad_name(model::check_service_name(*service))) return error(*e);
    json list = json::array();
    for (auto& route : state_.routes_of(service)) list.push_back(model::to_json(route));
    return json_response(200, json{{"routes", list}, {"revision", state_.revision()}});
  }
  if (parts.size() != 3 &&
      !(parts.size() == 4 && (parts[3] == "previous" || parts[3] == "rollback")))
    return not_found(r);
  const auto& service = parts[2];
  if (auto e = bad_name(model::check_service_name(service))) return error(*e);
  std::string consumer = r.query_param("consumer").value_or("");
  if (r.query_param("consumer"))
    if (auto e = bad_name(model::check_consumer_name(consumer))) return error(*e);
  if (parts.size() == 4) return route_history(r, service, consumer, parts[3], caller);
  if (r.method == "GET") {
    auto route = state_.route(service, consumer);
    if (!route) return error(no_route(service, consumer));
    return json_response(200, model::to_json(*route));
  }
  if (r.method == "DELETE") {
    if (!state_.route(service, consumer)) return error(no_route(service, consumer));
    if (auto e = rollouts_.pause_for_route_change(service, who(caller))) return error(*e);
    auto done = state_.delete_route(service, consumer);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, revision_body(state_));
  }
  if (r.method != "PUT") return method_not_allowed(r, "GET, PUT, DELETE");
  bool known_versions = false;
  if (auto text = r.query_param("known_versions")) {
    if (*text != "1" && *text != "0")
      return error({400, "invalid_known_versions",
                    model::invalid("known_versions", *text,
                                   "must be 1 (refuse versions no instance has) or 0")});
    known_versions = *text == "1";
  }
  auto body = parse_body(r);
  if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
  auto parsed = model::route_from_request(std::get<json>(body), service, consumer);
  if (auto* problems = std::get_if<model::Problems>(&parsed))
    return error({400, "invalid_route", model::join(*problems)});
  if (known_versions) {
    // A typo ("v2" for "2") would otherwise give its share to the other versions unnoticed.
    model::Problems unknown;
    const auto instances = state_.instances_of(service);
    const auto& targets = std::get<model::Route>(parsed).targets;
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const bool found = std::ranges::any_of(
          instances, [&](const model::Instance* in) { return in->version == targets[i].version; });
      if (!found)
        unknown.push_back("targets[" + std::to_string(i) + "].version \"" + targets[i].version +
                          "\": no instance of " + service + " has this version");
    }
    if (!unknown.empty()) return error({400, "invalid_route", model::join(unknown)});
  }
  // The person wins: a rollout of this service pauses first rather than overwrite their route.
  if (auto e = rollouts_.pause_for_route_change(service, who(caller))) return error(*e);
  auto done = state_.put_route(std::get<model::Route>(std::move(parsed)));
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  return json_response(200, model::to_json(*state_.route(service, consumer)));
}

HttpResponse Api::policies(const HttpRequest& r, const std::vector<std::string>& parts) {
  if (parts.size() == 2) {
    if (r.method != "GET") return method_not_allowed(r, "GET");
    json list = json::array();
    for (auto& policy : state_.policies()) list.push_back(model::to_json(policy));
    return json_response(200, json{{"policies", list}, {"revision", state_.revision()}});
  }
  if (parts.size() != 3) return not_found(r);
  const auto& service = parts[2];
  if (auto e = bad_name(model::check_service_name(service))) return error(*e);
  if (r.method == "GET") {
    auto policy = state_.policy(service);
    if (!policy)
      return error({404, "policy_not_found", "service " + service + " has no traffic policy"});
    return json_response(200, model::to_json(*policy));
  }
  if (r.method == "DELETE") {
    auto done = state_.delete_policy(service);
    if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
    return json_response(200, revision_body(state_));
  }
  if (r.method != "PUT") return method_not_allowed(r, "GET, PUT, DELETE");
  auto body = parse_body(r);
  if (auto* e = std::get_if<ApiError>(&body)) return error(*e);
  auto parsed = model::traffic_policy_from_request(std::get<json>(body), service);
  if (auto* problems = std::get_if<model::Problems>(&parsed))
    return error({400, "invalid_policy", model::join(*problems)});
  auto done = state_.put_policy(std::get<model::TrafficPolicy>(std::move(parsed)));
  if (auto* e = std::get_if<ApiError>(&done)) return error(*e);
  return json_response(200, model::to_json(*state_.policy(service)));
}

HttpResponse Api::watch(const HttpRequest& r, const Caller& caller) {
  std::uint64_t since = state_.revision();
  if (auto text = r.query_param("since")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), since);
    if (text->empty() || ec != std::errc{} || end != text->data() + text->size())
      return error({400, "invalid_since", "since \"" + *text + "\" is not a revision number"});
    auto epoch = r.query_param("epoch");
    if (!epoch)
      return error({400, "epoch_required",
                    "since needs the epoch it came from: /v1/watch?since=REV&epoch=EPOCH"});
    if (*epoch != state_.epoch())
      return error({410, "stale_epoch",
                    "epoch " + *epoch + " is not the directory's current epoch " + state_.epoch() +
                        "; re-read /v1/snapshot"});
  }
  if (since > state_.revision())
    return error({410, "stale_revision",
                  "revision " + std::to_string(since) + " is ahead of this directory (at " +
                      std::to_string(state_.revision()) + "); re-read /v1/snapshot"});
  if (!state_.history().since(since))
    return error({410, "stale_revision",
                  "revision " + std::to_string(since) +
                      " is no longer served (history holds revisions after " +
                      std::to_string(state_.revision() - state_.history().size()) + " up to " +
                      std::to_string(state_.revision()) + "); re-read /v1/snapshot"});
  bool traffic = false;
  if (auto text = r.query_param("traffic")) {
    if (*text != "1" && *text != "0")
      return error(
          {400, "invalid_traffic",
           model::invalid("traffic", *text, "must be 1 (add traffic events to the stream) or 0")});
    traffic = *text == "1";
  }
  bool consumers = false;
  if (auto text = r.query_param("consumers")) {
    if (*text != "1" && *text != "0")
      return error({400, "invalid_consumers",
                    model::invalid("consumers", *text,
                                   "must be 1 (add consumer events to the stream) or 0")});
    consumers = *text == "1";
  }
  bool rollouts = false;
  if (auto text = r.query_param("rollouts")) {
    if (*text != "1" && *text != "0")
      return error(
          {400, "invalid_rollouts",
           model::invalid("rollouts", *text, "must be 1 (add rollout events to the stream) or 0")});
    rollouts = *text == "1";
  }
  HttpResponse res{200, "application/x-ndjson", {}, {}, {}};
  res.start_stream = [this, since, traffic, consumers, rollouts,
                      key = std::string(caller.key)](std::shared_ptr<net::StreamSink> sink) {
    // Runs right after this handler, before any other change can slip in between the backlog
    // and the live events; but after the answers pipelined before it were written, which may
    // take a slow reader a while: a token revoked in that time gets no stream.
    if (!authority_.still_valid(key)) {
      sink->close();
      return;
    }
    auto backlog = state_.history().since(since);
    if (!backlog) {
      sink->close();
      return;
    }
    for (auto& line : *backlog)
      if (!sink->write(net::frame_chunk(*line))) return;
    if (traffic) {  // the figures as they stand, so a live view has something to show at once
      const auto view = consumers_.traffic({TrafficEventPacer::kWindow, {}, {}, false});
      if (!sink->write(net::frame_chunk(traffic_event_line(view, state_.revision())))) return;
    }
    if (consumers)  // the list as it stands; consumer_put and consumer_delete follow it
      if (!sink->write(net::frame_chunk(consumers_event_line(consumers_, state_.revision()))))
        return;
    if (rollouts)  // the list as it stands; rollout_put and rollout_delete follow it
      if (!sink->write(net::frame_chunk(rollouts_event_line(rollouts_, state_.revision())))) return;
    watchers_.add(sink, key, {traffic, consumers, rollouts});
  };
  return res;
}

}  // namespace dstack::directory
