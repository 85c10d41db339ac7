// SPDX-License-Identifier: Apache-2.0
#pragma once
// The directory's state and its rules: leases with TTLs, instances bound to leases, durable
// routes and traffic policies, one revision counter, and the history that lets watchers resume.
// No I/O besides the route and policy stores, no Asio: the clock is injected so expiry is tested
// without sleeping.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/core/clock.hpp"
#include "common/core/duration.hpp"
#include "common/model/model.hpp"
#include "directory/api_error.hpp"
#include "directory/caller.hpp"
#include "directory/event_history.hpp"
#include "directory/policy_store.hpp"
#include "directory/route_store.hpp"

namespace dstack::directory {

struct StateOptions {
  std::chrono::seconds default_ttl{10};
  std::chrono::seconds min_ttl{1};
  std::chrono::seconds max_ttl{60};
  std::size_t max_instances_per_lease = 1000;
  std::size_t history = 10000;  // events kept for watchers that resume (~0.5 KiB each)
  Duration sync_grace{0};       // 0: twice max_ttl
};

struct StateCounters {
  std::uint64_t leases_granted = 0;
  std::uint64_t leases_expired = 0;
  std::uint64_t leases_revoked = 0;
  std::uint64_t keepalives = 0;
};

// 404 route_not_found for (service, consumer).
ApiError no_route(const std::string& service, const std::string& consumer);

class State {
 public:
  // Called after every change with its revision and its NDJSON line (ending in '\n').
  using Listener = std::function<void(std::uint64_t revision, const EventHistory::Line& line)>;

  State(StateOptions options, const Clock& clock, RouteStore& store, PolicyStore& policy_store,
        std::string epoch);

  void set_listener(Listener listener) { listener_ = std::move(listener); }
  // Called with a lease's id when it ends (expired, revoked, or swept on a late keepalive), after
  // its instances went: what else lives on it (consumers.hpp) goes too.
  void set_lease_end_listener(std::function<void(const std::string& lease)> listener) {
    lease_end_listener_ = std::move(listener);
  }

  // A lease belongs to the caller that granted it: only that caller (or an admin) may renew
  // or revoke it, bind instances to it, or delete them (403 otherwise).
  // `owner` is the label the request gives (a host name); `caller` is who may use the lease.
  Outcome<model::Lease> grant(std::optional<std::int64_t> ttl_seconds, std::string owner,
                              const Caller& caller);
  Outcome<> keepalive(const std::string& lease_id, const Caller& caller);
  Outcome<> revoke(const std::string& lease_id, const Caller& caller);
  // Done when the lease is alive and the caller may use it; else the 404 or 403 keepalive gives.
  Outcome<> check_lease(const std::string& lease_id, const Caller& caller) const;
  // Drops every lease whose deadline has passed, with its instances. Returns how many.
  std::size_t expire();

  // Validated by the caller. Also refused when an instance of that id is bound to a lease
  // another caller holds.
  Outcome<> put_instance(model::Instance instance, const Caller& caller);
  Outcome<> delete_instance(const std::string& service, const std::string& id,
                            const Caller& caller);

  // Validated by the caller; durable on success. `replaced`: what a rollback is to go back to,
  // when not the route this one replaces (a route put back as it was keeps its own).
  Outcome<> put_route(model::Route route,
                      std::optional<route_log::Previous> replaced = std::nullopt);
  Outcome<> delete_route(const std::string& service, const std::string& consumer);
  // Puts back what the route's last put replaced (docs/api.md#post-v1routessvcrollbackconsumerc):
  // its targets, or no route when there was none. What the rollback replaced becomes the
  // previous route in turn, so a second rollback undoes the first. 404 route_not_found without
  // a route; 409 no_previous_route when what it replaced is not known.
  Outcome<> rollback_route(const std::string& service, const std::string& consumer);
  // Why rollback_route() would refuse (404, 409), asked before it is tried.
  std::optional<ApiError> rollback_refusal(const std::string& service,
                                           const std::string& consumer) const;
  route_log::Previous previous_route(const std::string& service,
                                     const std::string& consumer) const {
    return store_.previous(service, consumer);
  }
  // Validated by the caller; durable on success. Putting the policy a service has changes
  // nothing and publishes no event.
  Outcome<> put_policy(model::TrafficPolicy policy);
  Outcome<> delete_policy(const std::string& service);

  std::uint64_t revision() const { return revision_; }
  const std::string& epoch() const { return epoch_; }
  bool synced() const { return clock_.now() >= synced_at_; }
  std::size_t lease_count() const { return leases_.size(); }
  std::size_t instance_count() const { return instance_count_; }
  std::size_t route_count() const { return routes_.size(); }
  std::size_t policy_count() const { return policies_.size(); }
  const StateCounters& counters() const { return counters_; }
  const EventHistory& history() const { return history_; }

  // Reads. Services are those with instances or routes, in name order.
  model::Snapshot snapshot() const;
  std::vector<std::string> service_names() const;
  std::vector<const model::Instance*> instances_of(const std::string& service) const;
  std::vector<model::Route> routes_of(const std::optional<std::string>& service) const;
  std::optional<model::Route> route(const std::string& service, const std::string& consumer) const;
  // Policies are read apart from services: one may be set before the service has an instance.
  std::vector<model::TrafficPolicy> policies() const;
  std::optional<model::TrafficPolicy> policy(const std::string& service) const;

 private:
  struct LeaseEntry {
    model::Lease lease;
    std::string holder;  // the key of the caller that granted it (Caller::key), not `owner`
    Clock::TimePoint deadline;
    std::set<std::pair<std::string, std::string>> instances;  // (service, id)
  };

  void publish(model::Event event);
  // The 403 for a caller that may not use another caller's lease or instance (`what`).
  static ApiError not_yours(const Caller& caller, const std::string& what);
  void drop_lease(std::unordered_map<std::string, LeaseEntry>::iterator it);
  void erase_instance(const std::string& service, const std::string& id);
  std::string new_lease_id();

  StateOptions options_;
  const Clock& clock_;
  RouteStore& store_;          // durability only; routes_ is what is served
  PolicyStore& policy_store_;  // the same for policies_
  std::string epoch_;
  Clock::TimePoint synced_at_;
  std::uint64_t revision_;
  EventHistory history_;
  Listener listener_;
  std::function<void(const std::string&)> lease_end_listener_;
  StateCounters counters_;
  std::mt19937_64 rng_;

  std::unordered_map<std::string, LeaseEntry> leases_;
  std::set<std::pair<Clock::TimePoint, std::string>> deadlines_;
  std::map<std::string, std::map<std::string, model::Instance>> instances_;  // service -> id ->
  std::size_t instance_count_ = 0;
  std::map<std::pair<std::string, std::string>, model::Route> routes_;  // (service, consumer) ->
  std::map<std::string, model::TrafficPolicy> policies_;                // service ->
};

}  // namespace dstack::directory
