// SPDX-License-Identifier: Apache-2.0
#include "directory/state.hpp"

#include <algorithm>
#include <cstdio>

#include "common/model/json.hpp"

namespace dstack::directory {

namespace {
std::string seconds_range(std::chrono::seconds lo, std::chrono::seconds hi) {
  return std::to_string(lo.count()) + ".." + std::to_string(hi.count());
}
}  // namespace

State::State(StateOptions options, const Clock& clock, RouteStore& store, PolicyStore& policy_store,
             std::string epoch)
    : options_(options),
      clock_(clock),
      store_(store),
      policy_store_(policy_store),
      epoch_(std::move(epoch)),
      revision_(1),
      history_(options.history, 1),
      rng_(std::random_device{}()) {
  auto grace = options_.sync_grace.count() > 0
                   ? options_.sync_grace
                   : std::chrono::duration_cast<Duration>(2 * options_.max_ttl);
  synced_at_ = clock_.now() + grace;
  // Routes from the store predate this epoch: they all carry its first revision.
  for (auto& [key, route] : store_.routes()) {
    routes_[key] = route;
    routes_[key].revision = revision_;
  }
  for (auto& [service, policy] : policy_store_.policies()) {
    policies_[service] = policy;
    policies_[service].revision = revision_;
  }
}

std::string State::new_lease_id() {
  for (;;) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng_()));
    if (!leases_.contains(buf)) return buf;
  }
}

ApiError State::not_yours(const Caller& caller, const std::string& what) {
  return ApiError{
      403, "forbidden",
      (caller.name.empty() ? std::string("a request without a token") : "token " + caller.name) +
          " may not use " + what + ": another token holds it"};
}

Outcome<model::Lease> State::grant(std::optional<std::int64_t> ttl_seconds, std::string owner,
                                   const Caller& caller) {
  std::int64_t ttl = ttl_seconds.value_or(options_.default_ttl.count());
  if (ttl < options_.min_ttl.count() || ttl > options_.max_ttl.count())
    return ApiError{400, "invalid_ttl",
                    "ttl " + std::to_string(ttl) + " is out of range " +
                        seconds_range(options_.min_ttl, options_.max_ttl) + " seconds"};
  model::Lease lease{new_lease_id(), std::chrono::seconds(ttl), std::move(owner)};
  auto deadline = clock_.now() + lease.ttl;
  deadlines_.emplace(deadline, lease.id);
  leases_.emplace(lease.id, LeaseEntry{lease, std::string(caller.key), deadline, {}});
  ++counters_.leases_granted;
  return lease;
}

Outcome<> State::keepalive(const std::string& lease_id, const Caller& caller) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end())
    return ApiError{404, "lease_not_found", "lease " + lease_id + " is unknown or expired"};
  auto& entry = it->second;
  if (!caller.may_use(entry.holder)) return not_yours(caller, "lease " + lease_id);
  if (entry.deadline <= clock_.now()) {
    // Expired but not swept yet: renewing it now would revive instances consumers may have
    // already dropped. Sweep it here, as the timer would.
    drop_lease(it);
    ++counters_.leases_expired;
    return ApiError{404, "lease_not_found", "lease " + lease_id + " is unknown or expired"};
  }
  deadlines_.erase({entry.deadline, lease_id});
  entry.deadline = clock_.now() + entry.lease.ttl;
  deadlines_.emplace(entry.deadline, lease_id);
  ++counters_.keepalives;
  return Done{};
}

Outcome<> State::revoke(const std::string& lease_id, const Caller& caller) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end())
    return ApiError{404, "lease_not_found", "lease " + lease_id + " is unknown or expired"};
  if (!caller.may_use(it->second.holder)) return not_yours(caller, "lease " + lease_id);
  drop_lease(it);
  ++counters_.leases_revoked;
  return Done{};
}

Outcome<> State::check_lease(const std::string& lease_id, const Caller& caller) const {
  auto it = leases_.find(lease_id);
  if (it == leases_.end() || it->second.deadline <= clock_.now())
    return ApiError{404, "lease_not_found", "lease " + lease_id + " is unknown or expired"};
  if (!caller.may_use(it->second.holder)) return not_yours(caller, "lease " + lease_id);
  return Done{};
}

std::size_t State::expire() {
  auto now = clock_.now();
  std::size_t dropped = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto it = leases_.find(deadlines_.begin()->second);
    drop_lease(it);  // also erases the deadline
    ++dropped;
  }
  counters_.leases_expired += dropped;
  return dropped;
}

void State::drop_lease(std::unordered_map<std::string, LeaseEntry>::iterator it) {
  auto entry = std::move(it->second);
  deadlines_.erase({entry.deadline, it->first});
  const std::string lease_id = it->first;
  leases_.erase(it);
  for (auto& [service, id] : entry.instances) erase_instance(service, id);
  if (lease_end_listener_) lease_end_listener_(lease_id);
}

void State::erase_instance(const std::string& service, const std::string& id) {
  auto svc = instances_.find(service);
  if (svc == instances_.end() || svc->second.erase(id) == 0) return;
  --instance_count_;
  if (svc->second.empty()) instances_.erase(svc);
  model::Event e;
  e.type = model::Event::Type::instance_delete;
  e.service = service;
  e.id = id;
  publish(std::move(e));
}

Outcome<> State::put_instance(model::Instance in, const Caller& caller) {
  auto lease = leases_.find(in.lease);
  if (lease == leases_.end())
    return ApiError{404, "lease_not_found", "lease " + in.lease + " is unknown or expired"};
  if (!caller.may_use(lease->second.holder)) return not_yours(caller, "lease " + in.lease);
  auto key = std::make_pair(in.service, in.id);
  if (!lease->second.instances.contains(key) &&
      lease->second.instances.size() >= options_.max_instances_per_lease) {
    return ApiError{409, "too_many_instances",
                    "lease " + in.lease + " already holds " +
                        std::to_string(options_.max_instances_per_lease) +
                        " instances (limits.max_instances_per_lease)"};
  }
  // Taking over an instance another caller's lease holds would hijack its traffic.
  if (auto svc = instances_.find(in.service); svc != instances_.end())
    if (auto it = svc->second.find(in.id); it != svc->second.end())
      if (auto old = leases_.find(it->second.lease); old != leases_.end())
        if (!caller.may_use(old->second.holder))
          return not_yours(caller, "instance " + in.service + "/" + in.id);
  auto& svc = instances_[in.service];
  auto existing = svc.find(in.id);
  if (existing != svc.end()) {
    in.revision = existing->second.revision;
    if (existing->second == in) return Done{};  // re-asserted unchanged: no event
    if (existing->second.lease != in.lease) {
      // Moved to a new lease (its watson restarted): the old lease no longer holds it.
      if (auto old = leases_.find(existing->second.lease); old != leases_.end())
        old->second.instances.erase(key);
    }
  }
  lease->second.instances.insert(key);
  if (existing == svc.end()) ++instance_count_;
  in.revision = revision_ + 1;
  auto& stored = svc[in.id] = std::move(in);
  model::Event e;
  e.type = model::Event::Type::instance_put;
  e.service = stored.service;
  e.id = stored.id;
  e.instance = stored;
  publish(std::move(e));
  return Done{};
}

Outcome<> State::delete_instance(const std::string& service, const std::string& id,
                                 const Caller& caller) {
  auto svc = instances_.find(service);
  if (svc == instances_.end() || !svc->second.contains(id))
    return ApiError{404, "instance_not_found", "service " + service + " has no instance " + id};
  if (auto lease = leases_.find(svc->second.at(id).lease); lease != leases_.end()) {
    if (!caller.may_use(lease->second.holder))
      return not_yours(caller, "instance " + service + "/" + id);
    lease->second.instances.erase({service, id});
  }
  erase_instance(service, id);
  return Done{};
}

Outcome<> State::put_route(model::Route route, std::optional<route_log::Previous> replaced) {
  route.revision = 0;
  route_log::Previous previous{true, std::nullopt};
  if (replaced)
    previous = std::move(*replaced);
  else if (auto it = routes_.find({route.service, route.consumer}); it != routes_.end())
    previous.targets = it->second.targets;
  if (auto ec = store_.put(route, previous))
    return ApiError{503, "store_failed", "route not saved: " + ec.message()};
  route.revision = revision_ + 1;
  routes_[{route.service, route.consumer}] = route;
  model::Event e;
  e.type = model::Event::Type::route_put;
  e.service = route.service;
  e.consumer = route.consumer;
  e.route = std::move(route);
  publish(std::move(e));
  return Done{};
}

ApiError no_route(const std::string& service, const std::string& consumer) {
  return ApiError{
      404, "route_not_found",
      "service " + service + " has no route" +
          (consumer.empty() ? std::string(" for everyone") : " for consumer " + consumer)};
}

std::optional<ApiError> State::rollback_refusal(const std::string& service,
                                                const std::string& consumer) const {
  if (!routes_.contains({service, consumer})) return no_route(service, consumer);
  if (!store_.previous(service, consumer).known)
    return ApiError{
        409, "no_previous_route",
        "the route of " + service +
            (consumer.empty() ? std::string(" for everyone") : " for consumer " + consumer) +
            " was set before this directory kept what a route replaced: nothing to "
            "roll back to"};
  return std::nullopt;
}

Outcome<> State::rollback_route(const std::string& service, const std::string& consumer) {
  if (auto refused = rollback_refusal(service, consumer)) return *refused;
  const auto previous = store_.previous(service, consumer);
  if (!previous.targets) return delete_route(service, consumer);
  model::Route route;
  route.service = service;
  route.consumer = consumer;
  route.targets = *previous.targets;
  return put_route(std::move(route));
}

Outcome<> State::delete_route(const std::string& service, const std::string& consumer) {
  auto it = routes_.find({service, consumer});
  if (it == routes_.end()) return no_route(service, consumer);
  if (auto ec = store_.remove(service, consumer))
    return ApiError{503, "store_failed", "route not removed: " + ec.message()};
  routes_.erase(it);
  model::Event e;
  e.type = model::Event::Type::route_delete;
  e.service = service;
  e.consumer = consumer;
  publish(std::move(e));
  return Done{};
}

Outcome<> State::put_policy(model::TrafficPolicy policy) {
  if (auto it = policies_.find(policy.service); it != policies_.end()) {
    policy.revision = it->second.revision;
    if (it->second == policy) return Done{};  // set again unchanged: no write, no event
  }
  policy.revision = 0;
  if (auto ec = policy_store_.put(policy))
    return ApiError{503, "store_failed", "policy not saved: " + ec.message()};
  policy.revision = revision_ + 1;
  policies_[policy.service] = policy;
  model::Event e;
  e.type = model::Event::Type::policy_put;
  e.service = policy.service;
  e.policy = std::move(policy);
  publish(std::move(e));
  return Done{};
}

Outcome<> State::delete_policy(const std::string& service) {
  auto it = policies_.find(service);
  if (it == policies_.end())
    return ApiError{404, "policy_not_found", "service " + service + " has no traffic policy"};
  if (auto ec = policy_store_.remove(service))
    return ApiError{503, "store_failed", "policy not removed: " + ec.message()};
  policies_.erase(it);
  model::Event e;
  e.type = model::Event::Type::policy_delete;
  e.service = service;
  publish(std::move(e));
  return Done{};
}

void State::publish(model::Event event) {
  event.revision = ++revision_;
  auto line = std::make_shared<const std::string>(model::to_json(event).dump() + "\n");
  history_.append(revision_, line);
  if (listener_) listener_(revision_, line);
}

model::Snapshot State::snapshot() const {
  model::Snapshot s;
  s.revision = revision_;
  s.epoch = epoch_;
  s.synced = synced();
  s.instances.reserve(instance_count_);
  for (auto& [service, byid] : instances_)
    for (auto& [id, in] : byid) s.instances.push_back(in);
  for (auto& [key, route] : routes_) s.routes.push_back(route);
  for (auto& [service, policy] : policies_) s.policies.push_back(policy);
  return s;
}

std::vector<std::string> State::service_names() const {
  std::vector<std::string> names;
  for (auto& [service, byid] : instances_) names.push_back(service);
  for (auto& [key, route] : routes_) names.push_back(key.first);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::vector<const model::Instance*> State::instances_of(const std::string& service) const {
  std::vector<const model::Instance*> out;
  if (auto svc = instances_.find(service); svc != instances_.end())
    for (auto& [id, in] : svc->second) out.push_back(&in);
  return out;
}

std::vector<model::Route> State::routes_of(const std::optional<std::string>& service) const {
  std::vector<model::Route> out;
  for (auto& [key, route] : routes_)
    if (!service || key.first == *service) out.push_back(route);
  return out;
}

std::optional<model::Route> State::route(const std::string& service,
                                         const std::string& consumer) const {
  auto it = routes_.find({service, consumer});
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

std::vector<model::TrafficPolicy> State::policies() const {
  std::vector<model::TrafficPolicy> out;
  for (auto& [service, policy] : policies_) out.push_back(policy);
  return out;
}

std::optional<model::TrafficPolicy> State::policy(const std::string& service) const {
  auto it = policies_.find(service);
  if (it == policies_.end()) return std::nullopt;
  return it->second;
}

}  // namespace dstack::directory
