// SPDX-License-Identifier: Apache-2.0
#include "sherlock/plan.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <utility>
#include <variant>

#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/url.hpp"
#include "common/model/validate.hpp"
#include "sherlock/weights.hpp"

namespace dstack::sherlock {
namespace {

using model::printable;

// An instance that passed validation, with its parsed URL.
struct Candidate {
  const model::Instance* instance;
  model::InstanceUrl url;
};

std::string service_label(const std::string& service) {
  return "service \"" + printable(service) + "\"";
}

std::string instance_label(const std::string& service, const std::string& id) {
  return service_label(service) + ", instance \"" + printable(id) + "\"";
}

std::string route_label(const std::string& service, const std::string& consumer) {
  return service_label(service) + ", route for " +
         (consumer.empty() ? std::string("everyone") : "consumer \"" + printable(consumer) + "\"");
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

std::string shown_path(const std::string& base_path) {
  return "\"" + printable(base_path.empty() ? "/" : base_path) + "\"";
}

// The canonical text of a numeric IPv4 or IPv6 address, or nullopt. Written from the parsed
// bytes, so what reaches the config is inet_ntop's output, never the input.
std::optional<std::string> numeric_ip(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> out{};
  for (int family : {AF_INET, AF_INET6}) {
    if (::inet_pton(family, text.c_str(), bytes.data()) == 1 &&
        ::inet_ntop(family, bytes.data(), out.data(), out.size()) != nullptr) {
      return std::string(out.data());
    }
  }
  return std::nullopt;
}

// Every rule of docs/api.md#names-and-values, plus what only a lying directory gets wrong: the
// instance filed under another service, a health outside the enum. All problems at once.
std::vector<std::string> instance_problems(const std::string& service, const model::Instance& i) {
  std::vector<std::string> problems = model::validate_instance(i);
  if (i.service != service && !model::check_service_name(i.service)) {
    problems.push_back("it names service \"" + printable(i.service) + "\"");
  }
  const auto health = static_cast<int>(i.health);
  if (health < static_cast<int>(model::Health::passing) ||
      health > static_cast<int>(model::Health::maintenance)) {
    problems.push_back("health " + std::to_string(health) +
                       " is not one of passing, warning, critical, maintenance");
  }
  return problems;
}

// The valid instances of one service, by id; the first of a repeated id is kept.
std::vector<Candidate> candidates(const std::string& service, const ServiceView& view,
                                  std::vector<std::string>& problems) {
  std::vector<const model::Instance*> sorted;
  for (const auto& i : view.instances) sorted.push_back(&i);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto* a, const auto* b) { return a->id < b->id; });
  std::vector<Candidate> out;
  for (const auto* i : sorted) {
    auto why = instance_problems(service, *i);
    if (why.empty() && !out.empty() && out.back().instance->id == i->id) {
      why.push_back("its id is listed twice; the first is kept");
    }
    if (!why.empty()) {
      problems.push_back(instance_label(service, i->id) + ": left out: " + joined(why));
      continue;
    }
    out.push_back({i, std::get<model::InstanceUrl>(model::parse_instance_url(i->url))});
  }
  return out;
}

std::vector<model::Route> valid_routes(const std::string& service, const ServiceView& view,
                                       std::vector<std::string>& problems) {
  std::vector<model::Route> out;
  for (const auto& r : view.routes) {
    auto why = model::validate_route(r);
    if (r.service != service && !model::check_service_name(r.service)) {
      why.push_back("it names service \"" + printable(r.service) + "\"");
    }
    if (!why.empty()) {
      problems.push_back(route_label(service, r.consumer) + ": left out: " + joined(why));
      continue;
    }
    out.push_back(r);
  }
  return out;
}

// The path most candidates have; ties go to the shorter, then the smaller.
std::string majority_path(const std::vector<Candidate>& cs) {
  std::map<std::string, int> counts;
  for (const auto& c : cs) ++counts[c.url.path];
  std::string best;
  int best_count = 0;
  for (const auto& [path, n] : counts) {
    const auto key = std::make_tuple(-n, path.size(), path);
    if (best_count == 0 || key < std::make_tuple(-best_count, best.size(), best)) {
      best = path;
      best_count = n;
    }
  }
  return best;
}

bool is_tcp(const Candidate& c) {
  return c.url.scheme == "tcp";
}

// The protocol most candidates speak; ties go to the first in http, http2, grpc order.
model::Protocol majority_protocol(const std::vector<Candidate>& cs) {
  std::map<model::Protocol, int> counts;
  for (const auto& c : cs) ++counts[model::protocol_of(*c.instance)];
  auto best = model::Protocol::http;
  int best_count = 0;
  for (const auto& [protocol, n] : counts) {
    if (n > best_count) {
      best = protocol;
      best_count = n;
    }
  }
  return best;
}

// Drops the candidates of the other kind than the backend's, reporting each.
void keep_kind(const std::string& service, PlannedBackend& be, std::vector<Candidate>& cs,
               std::vector<std::string>& problems) {
  const bool tcp = be.mode == PlannedBackend::Mode::tcp;
  std::erase_if(cs, [&](const Candidate& c) {
    if (is_tcp(c) == tcp) return false;
    const std::string url = "url \"" + printable(c.instance->url) + "\"";
    problems.push_back(
        instance_label(service, c.instance->id) + ": left out: " +
        (tcp ? url + " is not tcp:// but the service has a TCP listener (port " +
                   std::to_string(be.tcp_port) + " under tcp: in sherlock.yaml)"
             : url + " is tcp:// but sherlock.yaml gives the service no port under tcp:"));
    return true;
  });
}

// The policy as the backend applies it, or none (reported) when it fails validation or the
// service is served over TCP.
model::TrafficPolicy planned_policy(const std::string& service, const model::TrafficPolicy& policy,
                                    const PlannedBackend& be, std::vector<std::string>& problems) {
  if (be.mode == PlannedBackend::Mode::tcp) {
    problems.push_back(service_label(service) +
                       ": traffic policy ignored: it applies to HTTP services, and this one is "
                       "served over TCP");
    return {};
  }
  auto why = model::validate_traffic_policy(policy);
  if (policy.service != service)
    why.push_back("service \"" + printable(policy.service) + "\" differs");
  if (!why.empty()) {
    problems.push_back(service_label(service) + ": traffic policy ignored: " + joined(why));
    return {};
  }
  model::TrafficPolicy planned = policy;
  planned.service.clear();
  planned.revision = 0;
  return planned;
}

// Fills `be.servers` from the candidates whose host resolves, with their weights.
void add_servers(const std::string& service, PlannedBackend& be, const std::vector<Candidate>& cs,
                 const std::vector<model::Route>& routes, const SherlockConfig& config,
                 const std::map<std::string, std::string>& addresses,
                 std::vector<std::string>& problems) {
  std::vector<model::Instance> usable;
  std::map<std::string, PlannedServer> servers;
  for (const auto& c : cs) {
    std::optional<std::string> address = numeric_ip(c.url.host);
    if (!address) {
      const auto found = addresses.find(c.url.host);
      const std::string host = "host \"" + printable(c.url.host) + "\"";
      if (found == addresses.end()) {
        problems.push_back(instance_label(service, c.instance->id) + ": left out: " + host +
                           " does not resolve (yet)");
        continue;
      }
      address = numeric_ip(found->second);
      if (!address) {
        problems.push_back(instance_label(service, c.instance->id) + ": left out: " + host +
                           " resolved to \"" + printable(found->second) +
                           "\", not a numeric IP address");
        continue;
      }
    }
    usable.push_back(*c.instance);
    const bool h2 = be.protocol == model::Protocol::http2 || be.protocol == model::Protocol::grpc;
    // Pinned requests reach only an instance that may take traffic: healthy, weight above 0.
    const bool pinnable = model::routable(c.instance->health) && c.instance->weight > 0;
    servers[c.instance->id] =
        PlannedServer{c.instance->id, *address, c.url.port, c.url.scheme == "https",
                      c.url.host,     0,        h2,         pinnable ? c.instance->version : ""};
  }
  std::vector<PlannedServer> planned;
  for (const auto& w : server_weights(usable, routes, config.consumer)) {
    auto& s = servers.at(w.id);
    s.weight = w.weight;
    planned.push_back(std::move(s));
  }
  be.servers = std::move(planned);
}

std::optional<PlannedBackend> plan_service(const std::string& service, const ServiceView& view,
                                           const SherlockConfig& config,
                                           const std::map<std::string, std::string>& addresses,
                                           std::vector<std::string>& problems) {
  if (auto why = model::check_service_name(service)) {
    problems.push_back(service_label(service) + ": left out: " + *why);
    return std::nullopt;
  }
  if (view.instances.empty() && view.routes.empty()) return std::nullopt;  // a policy alone
  auto routes = valid_routes(service, view, problems);
  auto cs = candidates(service, view, problems);

  PlannedBackend be;
  be.service = service;
  if (auto port = config.tcp.find(service); port != config.tcp.end()) {
    be.mode = PlannedBackend::Mode::tcp;
    be.protocol = model::Protocol::tcp;
    be.tcp_port = port->second;
  } else if (!cs.empty() && std::all_of(cs.begin(), cs.end(), is_tcp)) {
    problems.push_back(service_label(service) +
                       ": not served: its instances are tcp:// and sherlock.yaml gives it no "
                       "port under tcp:");
    return std::nullopt;
  }
  keep_kind(service, be, cs, problems);

  if (be.mode == PlannedBackend::Mode::http) {
    be.protocol = majority_protocol(cs);
    std::erase_if(cs, [&](const Candidate& c) {
      const auto protocol = model::protocol_of(*c.instance);
      if (protocol == be.protocol) return false;
      problems.push_back(instance_label(service, c.instance->id) + ": left out: its protocol " +
                         model::to_string(protocol) + " differs from the service's " +
                         model::to_string(be.protocol) + " (the one most instances speak)");
      return true;
    });
    // Counted before hosts are resolved, so a name that stops resolving for a while does not
    // move the base path (and force a reload).
    be.base_path = majority_path(cs);
    std::erase_if(cs, [&](const Candidate& c) {
      if (c.url.path == be.base_path) return false;
      problems.push_back(instance_label(service, c.instance->id) + ": left out: its base path " +
                         shown_path(c.url.path) + " differs from the service's " +
                         shown_path(be.base_path) + " (the one most instances have)");
      return true;
    });
  }
  if (view.policy) be.policy = planned_policy(service, *view.policy, be, problems);
  add_servers(service, be, cs, routes, config, addresses, problems);
  return be;
}

}  // namespace

Plan make_plan(const std::map<std::string, ServiceView>& services, const SherlockConfig& config,
               const std::map<std::string, std::string>& addresses) {
  Plan plan;
  for (const auto& [service, view] : services) {
    if (auto be = plan_service(service, view, config, addresses, plan.problems)) {
      plan.backends.push_back(std::move(*be));
    }
  }
  return plan;
}

bool same_shape(const PlannedBackend& a, const PlannedBackend& b) {
  if (std::tie(a.service, a.mode, a.protocol, a.base_path, a.tcp_port) !=
      std::tie(b.service, b.mode, b.protocol, b.base_path, b.tcp_port))
    return false;
  // Every field but max_conn, which is set on each server through the runtime API
  // (runtime_diff.hpp). Compared in place: this runs for every backend at every change. A field
  // added to model::TrafficPolicy that reaches haproxy.cfg belongs here too.
  const auto reloaded = [](const model::TrafficPolicy& p) {
    return std::tie(p.retries, p.retry_on, p.timeout, p.queue_timeout, p.eject_5xx, p.balance);
  };
  return reloaded(a.policy) == reloaded(b.policy);
}

bool needs_reload(const Plan& a, const Plan& b) {
  return !std::equal(a.backends.begin(), a.backends.end(), b.backends.begin(), b.backends.end(),
                     same_shape);
}

}  // namespace dstack::sherlock
