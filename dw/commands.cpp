// SPDX-License-Identifier: Apache-2.0
#include "dw/commands.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "common/core/backoff.hpp"
#include "common/core/exit_codes.hpp"
#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "dw/route_args.hpp"
#include "dw/table.hpp"

namespace dstack::dw {

using nlohmann::json;

int fail(const Output& o, const Error& e) {
  o.err << "dw: " << (e.message.empty() ? e.code : e.message) << '\n';
  switch (e.kind) {
    case ErrorKind::unauthorized:
      return exit_code::unauthorized;
    case ErrorKind::refused:
    case ErrorKind::not_found:
    case ErrorKind::stale:
      return exit_code::refused;
    case ErrorKind::unreachable:
    case ErrorKind::server:
    case ErrorKind::protocol:
      return exit_code::unavailable;
  }
  return exit_code::failure;
}

int refuse(const Output& o, const std::vector<std::string>& problems) {
  for (auto& p : problems) o.err << "dw: " << p << '\n';
  return exit_code::refused;
}

namespace {

std::string who(const std::string& consumer) {
  return consumer.empty() ? "everyone" : consumer;
}

// "2=10% 1=90%", and what unlisted versions share.
std::string describe_targets(const std::vector<model::RouteTarget>& targets) {
  std::string text;
  int sum = 0;
  for (auto& t : targets) {
    text += (text.empty() ? "" : " ") + t.version + "=" + std::to_string(t.weight) + "%";
    sum += t.weight;
  }
  if (sum < 100) text += " (others " + std::to_string(100 - sum) + "%)";
  return text;
}

std::string describe_instance(const model::Instance& in) {
  return in.url + " version=" + in.version + " weight=" + std::to_string(in.weight) + " " +
         model::to_string(in.health);
}

void print_event(const Output& o, const model::Event& e) {
  if (o.json) {
    o.out << model::to_json(e).dump() << std::endl;  // flushed: watchers pipe this
    return;
  }
  std::string subject = e.service;
  std::string detail;
  switch (e.type) {
    case model::Event::Type::instance_put:
      subject += "/" + e.id;
      detail = describe_instance(e.instance);
      break;
    case model::Event::Type::instance_delete:
      subject += "/" + e.id;
      break;
    case model::Event::Type::route_put:
      subject += " for " + who(e.consumer);
      detail = describe_targets(e.route.targets);
      break;
    case model::Event::Type::route_delete:
      subject += " for " + who(e.consumer);
      break;
    case model::Event::Type::policy_put:
      detail = describe_policy(e.policy);
      break;
    case model::Event::Type::policy_delete:
      break;
  }
  o.out << e.revision << "  " << model::to_string(e.type) << "  " << subject
        << (detail.empty() ? "" : "  " + detail) << std::endl;
}

awaitable<int> put_route(registry::Registry& reg, Output o, model::Route route) {
  if (auto problems = model::validate_route(route); !problems.empty())
    co_return refuse(o, problems);
  auto put = reg.put_route(route);
  auto done = co_await std::move(put);
  if (!done) co_return fail(o, done.error());
  // Show what the directory stored (with its revision), not what was sent.
  auto read_back = reg.route(route.service, route.consumer);
  if (auto stored = co_await std::move(read_back)) route = *stored;
  if (o.json) {
    o.out << model::to_json(route).dump() << '\n';
  } else {
    o.out << "route for " << route.service << " (" << who(route.consumer)
          << "): " << describe_targets(route.targets) << '\n';
  }
  co_return exit_code::ok;
}

}  // namespace

awaitable<int> services(registry::Registry& reg, Output o) {
  auto get_list = reg.services();
  auto list = co_await std::move(get_list);
  if (!list) co_return fail(o, list.error());
  if (o.json) {
    json out = json::array();
    for (auto& s : *list)
      out.push_back({{"name", s.name},
                     {"instances", s.instances},
                     {"routable", s.routable},
                     {"routes", s.routes}});
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  Table t({"SERVICE", "INSTANCES", "ROUTABLE", "ROUTES"});
  for (auto& s : *list)
    t.add({s.name, std::to_string(s.instances), std::to_string(s.routable),
           std::to_string(s.routes)});
  t.print(o.out);
  co_return exit_code::ok;
}

awaitable<int> instances(registry::Registry& reg, Output o, std::string service) {
  service = service_argument(service);
  if (auto p = model::check_service_name(service)) co_return refuse(o, {*p});
  auto get_view = reg.service(service);
  auto view = co_await std::move(get_view);
  if (!view) co_return fail(o, view.error());
  if (o.json) {
    json out = json::array();
    for (auto& in : view->instances) out.push_back(model::to_json(in));
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  Table t({"ID", "VERSION", "WEIGHT", "HEALTH", "URL", "TAGS"});
  for (auto& in : view->instances) {
    std::string tags;
    for (auto& tag : in.tags) tags += (tags.empty() ? "" : ",") + tag;
    t.add(
        {in.id, in.version, std::to_string(in.weight), model::to_string(in.health), in.url, tags});
  }
  t.print(o.out);
  co_return exit_code::ok;
}

awaitable<int> route_list(registry::Registry& reg, Output o, std::string service) {
  std::optional<std::string> filter;
  if (!service.empty()) {
    filter = service_argument(service);
    if (auto p = model::check_service_name(*filter)) co_return refuse(o, {*p});
  }
  auto get_routes = reg.routes(filter);
  auto routes = co_await std::move(get_routes);
  if (!routes) co_return fail(o, routes.error());
  if (o.json) {
    json out = json::array();
    for (auto& r : *routes) out.push_back(model::to_json(r));
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  Table t({"SERVICE", "CONSUMER", "TARGETS"});
  for (auto& r : *routes) t.add({r.service, who(r.consumer), describe_targets(r.targets)});
  t.print(o.out);
  co_return exit_code::ok;
}

awaitable<int> route_set(registry::Registry& reg, Output o, std::string service,
                         std::string consumer, std::vector<std::string> targets) {
  auto parsed = parse_targets(targets);
  if (auto* why = std::get_if<std::string>(&parsed)) co_return refuse(o, {*why});
  model::Route route{service_argument(service), service_argument(consumer),
                     std::get<std::vector<model::RouteTarget>>(std::move(parsed)), 0};
  auto put = put_route(reg, o, std::move(route));
  co_return co_await std::move(put);
}

awaitable<int> route_add(registry::Registry& reg, Output o, std::string consumer,
                         std::string service_version, std::string percent) {
  auto parsed = parse_route_add(consumer, service_version, percent);
  if (auto* why = std::get_if<std::string>(&parsed)) co_return refuse(o, {*why});
  auto add = std::get<RouteAdd>(std::move(parsed));
  model::Route route{add.service, add.consumer, {}, 0};
  for (auto p : {model::check_service_name(add.service), model::check_consumer_name(add.consumer),
                 model::check_version(add.target.version)})
    if (p) co_return refuse(o, {*p});
  // Adds to (or changes one version of) the consumer's current route.
  auto get_current = reg.route(add.service, add.consumer);
  auto current = co_await std::move(get_current);
  if (current) {
    route.targets = current->targets;
  } else if (current.error().kind != ErrorKind::not_found) {
    co_return fail(o, current.error());
  }
  route.targets = merge_target(std::move(route.targets), add.target);
  auto put = put_route(reg, o, std::move(route));
  co_return co_await std::move(put);
}

namespace {

// A route's SERVICE and --consumer as typed (a //host/ part dropped), and what is wrong with them.
model::Problems route_address(std::string& service, std::string& consumer) {
  service = service_argument(service);
  consumer = service_argument(consumer);
  model::Problems problems;
  if (auto p = model::check_service_name(service)) problems.push_back(*p);
  if (!consumer.empty())
    if (auto p = model::check_consumer_name(consumer)) problems.push_back(*p);
  return problems;
}

}  // namespace

awaitable<int> route_rollback(registry::Registry& reg, Output o, std::string service,
                              std::string consumer) {
  if (auto problems = route_address(service, consumer); !problems.empty())
    co_return refuse(o, problems);
  auto rollback = reg.rollback_route(service, consumer);
  auto done = co_await std::move(rollback);
  if (!done) co_return fail(o, done.error());
  const auto& route = *done;
  if (o.json) {
    json out = route ? model::to_json(*route) : json{{"service", service}, {"removed", true}};
    if (!route && !consumer.empty()) out["consumer"] = consumer;
    o.out << out.dump() << '\n';
  } else if (route) {
    o.out << "route for " << service << " (" << who(consumer)
          << ") rolled back: " << describe_targets(route->targets) << '\n';
  } else {
    o.out << "route for " << service << " (" << who(consumer)
          << ") rolled back to none: it was the first\n";
  }
  co_return exit_code::ok;
}

awaitable<int> route_rm(registry::Registry& reg, Output o, std::string service,
                        std::string consumer) {
  if (auto problems = route_address(service, consumer); !problems.empty())
    co_return refuse(o, problems);
  auto removal = reg.delete_route(service, consumer);
  auto done = co_await std::move(removal);
  if (!done) co_return fail(o, done.error());
  if (o.json) {
    json out{{"service", service}, {"removed", true}};
    if (!consumer.empty()) out["consumer"] = consumer;
    o.out << out.dump() << '\n';
  } else {
    o.out << "route for " << service << " (" << who(consumer) << ") removed\n";
  }
  co_return exit_code::ok;
}

awaitable<int> status(registry::Registry& reg, Output o) {
  auto get_health = reg.health();
  auto health = co_await std::move(get_health);
  if (!health) co_return fail(o, health.error());
  auto get_list = reg.services();
  auto list = co_await std::move(get_list);
  if (!list) co_return fail(o, list.error());
  std::size_t instances = 0, routable = 0;
  for (auto& s : *list) {
    instances += s.instances;
    routable += s.routable;
  }
  if (o.json) {
    json out = model::to_json(*health);
    out["directory"] = reg.describe();
    out["services"] = list->size();
    out["instances"] = instances;
    out["routable"] = routable;
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  o.out << "directory  " << reg.describe() << '\n'
        << "status     " << health->status << '\n'
        << "synced     " << (health->synced ? "yes" : "no (start-up grace period)") << '\n'
        << "revision   " << health->revision << '\n'
        << "epoch      " << health->epoch << '\n'
        << "services   " << list->size() << '\n'
        << "instances  " << instances << " (" << routable << " routable)\n";
  co_return exit_code::ok;
}

awaitable<int> watch(registry::Registry& reg, Output o) {
  auto get_health = reg.health();
  auto health = co_await std::move(get_health);
  if (!health) co_return fail(o, health.error());
  std::uint64_t since = health->revision;
  std::string epoch = health->epoch;
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(5));
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (;;) {
    auto open_watch = reg.watch(since, epoch);
    auto stream = co_await std::move(open_watch);
    // Stale comes when the watch opens (the directory) or as its first answer (etcd).
    std::optional<Error> failed;
    if (stream) {
      backoff.reset();
      for (;;) {
        auto next = (*stream)->next();
        auto event = co_await std::move(next);
        if (!event) {
          failed = event.error();
          if (failed->kind != ErrorKind::stale)
            o.err << "dw: watch interrupted (" << failed->message << "); resuming\n";
          break;
        }
        print_event(o, *event);
        since = event->revision;
      }
      since = std::max(since, (*stream)->revision());
    } else {
      failed = stream.error();
    }
    if (failed->kind == ErrorKind::unauthorized || failed->kind == ErrorKind::refused) {
      co_return fail(o, *failed);
    } else if (failed->kind == ErrorKind::stale) {
      // The directory restarted or forgot our revision: carry on from its present.
      auto recheck = reg.health();
      auto now = co_await std::move(recheck);
      if (now) {
        o.err << "dw: directory restarted or history lost; watching from revision " << now->revision
              << " (earlier changes may be missed)\n";
        since = now->revision;
        epoch = now->epoch;
        continue;
      }
    }
    pause.expires_after(backoff.next());
    auto wait = pause.async_wait(use_awaitable);
    co_await std::move(wait);
  }
}

}  // namespace dstack::dw
