// SPDX-License-Identifier: Apache-2.0
#include "support/fake_registry.hpp"

#include <boost/asio/post.hpp>
#include <deque>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

#include "common/core/clock.hpp"

namespace dstack::test {

namespace {

using Key = std::pair<std::string, std::string>;  // service, id (or consumer)

const std::set<std::string>& operations() {
  static const std::set<std::string> ops{"health",     "grant",         "keepalive",    "revoke",
                                         "put",        "delete",        "services",     "service",
                                         "snapshot",   "watch",         "routes",       "route",
                                         "put_route",  "delete_route",  "policies",     "policy",
                                         "put_policy", "delete_policy", "put_consumer", "report"};
  return ops;
}

Error lease_not_found(const std::string& lease) {
  return Error{ErrorKind::not_found, "lease_not_found", "lease " + lease + " is unknown or expired",
               404};
}

std::string no_route(const std::string& service, const std::string& consumer) {
  return "service " + service + " has no route" +
         (consumer.empty() ? std::string(" for everyone") : " for consumer " + consumer);
}

// One open watch as the registry sees it: the timer its next() waits on, cancelled by a change,
// and how it ended, if it did.
struct WatchSlot {
  explicit WatchSlot(asio::any_io_executor ex) : wake(std::move(ex)) {}
  asio::steady_timer wake;
  std::optional<Error> ended;
};

}  // namespace

class FakeState {
 public:
  FakeState(asio::any_io_executor executor, std::string registry_name)
      : ex(std::move(executor)),
        name(std::move(registry_name)),
        epoch("epoch-" + name),
        released(ex, asio::steady_timer::time_point::max()) {}

  asio::any_io_executor ex;
  std::string name;
  std::string epoch;
  bool synced = true;
  bool is_down = false;
  std::uint64_t revision = 0;
  int leases_granted = 0;
  std::map<std::string, model::Lease> leases;
  std::map<Key, model::Instance> instances;
  std::map<Key, model::Route> routes;
  std::map<std::string, model::TrafficPolicy> policies;  // by service
  std::vector<model::Event> events;                      // every change, in revision order
  std::map<std::string, std::deque<Error>> refusals;
  std::vector<std::string> calls;
  int in_flight = 0;       // calls awaited and not yet answered
  int most_in_flight = 0;  // the most there ever were at once
  bool holding = false;    // answers wait until released
  asio::steady_timer released;
  std::vector<std::weak_ptr<WatchSlot>> watches;

  // Records the call; the error it fails with, if it does.
  std::optional<Error> begin(std::string call, const std::string& op) {
    calls.push_back(std::move(call));
    if (is_down) return Error{ErrorKind::unreachable, "unreachable", name + ": connection refused"};
    auto it = refusals.find(op);
    if (it == refusals.end() || it->second.empty()) return std::nullopt;
    Error e = std::move(it->second.front());
    it->second.pop_front();
    return e;
  }

  void publish(model::Event e) {
    e.revision = ++revision;
    events.push_back(std::move(e));
    for (auto& w : watches)
      if (auto slot = w.lock()) slot->wake.cancel();
  }

  void end_watches(const Error& why) {
    for (auto& w : watches) {
      if (auto slot = w.lock()) {
        slot->ended = why;
        slot->wake.cancel();
      }
    }
    watches.clear();  // ended watches need no more wake-ups
  }

  const model::Event* event_after(std::uint64_t rev) const {
    for (const auto& e : events)
      if (e.revision > rev) return &e;
    return nullptr;
  }

  model::Lease grant(std::chrono::seconds ttl, std::string owner) {
    model::Lease lease{"L" + std::to_string(++leases_granted), ttl, std::move(owner)};
    leases[lease.id] = lease;
    return lease;
  }

  Status keepalive(const std::string& lease) {
    if (leases.count(lease) == 0) return lease_not_found(lease);
    return Ok{};
  }

  Status drop_lease(const std::string& lease) {
    if (leases.erase(lease) == 0) return lease_not_found(lease);
    std::vector<Key> gone;
    for (const auto& [key, i] : instances)
      if (i.lease == lease) gone.push_back(key);
    for (const auto& key : gone) erase_instance(key);
    return Ok{};
  }

  Status put_instance(model::Instance in) {
    if (leases.count(in.lease) == 0) return lease_not_found(in.lease);
    Key key{in.service, in.id};
    auto it = instances.find(key);
    if (it != instances.end()) {
      in.revision = it->second.revision;
      if (it->second == in) return Ok{};  // re-asserted unchanged: no event
    }
    in.revision = revision + 1;
    instances[key] = in;
    model::Event e;
    e.type = model::Event::Type::instance_put;
    e.service = in.service;
    e.id = in.id;
    e.instance = std::move(in);
    publish(std::move(e));
    return Ok{};
  }

  Status delete_instance(const std::string& service, const std::string& id) {
    if (instances.count({service, id}) == 0)
      return Error{ErrorKind::not_found, "instance_not_found",
                   "service " + service + " has no instance " + id, 404};
    erase_instance({service, id});
    return Ok{};
  }

  void erase_instance(const Key& key) {
    instances.erase(key);
    model::Event e;
    e.type = model::Event::Type::instance_delete;
    e.service = key.first;
    e.id = key.second;
    publish(std::move(e));
  }

  Status put_route(model::Route route) {
    route.revision = revision + 1;
    routes[{route.service, route.consumer}] = route;
    model::Event e;
    e.type = model::Event::Type::route_put;
    e.service = route.service;
    e.consumer = route.consumer;
    e.route = std::move(route);
    publish(std::move(e));
    return Ok{};
  }

  Status delete_route(const std::string& service, const std::string& consumer) {
    if (routes.erase({service, consumer}) == 0)
      return Error{ErrorKind::not_found, "route_not_found", no_route(service, consumer), 404};
    model::Event e;
    e.type = model::Event::Type::route_delete;
    e.service = service;
    e.consumer = consumer;
    publish(std::move(e));
    return Ok{};
  }

  Status put_policy(model::TrafficPolicy policy) {
    policy.revision = revision + 1;
    policies[policy.service] = policy;
    model::Event e;
    e.type = model::Event::Type::policy_put;
    e.service = policy.service;
    e.policy = std::move(policy);
    publish(std::move(e));
    return Ok{};
  }

  Status delete_policy(const std::string& service) {
    if (policies.erase(service) == 0)
      return Error{ErrorKind::not_found, "policy_not_found",
                   "service " + service + " has no traffic policy", 404};
    model::Event e;
    e.type = model::Event::Type::policy_delete;
    e.service = service;
    publish(std::move(e));
    return Ok{};
  }

  Result<model::TrafficPolicy> policy(const std::string& service) const {
    auto it = policies.find(service);
    if (it == policies.end())
      return Error{ErrorKind::not_found, "policy_not_found",
                   "service " + service + " has no traffic policy", 404};
    return it->second;
  }

  std::vector<model::TrafficPolicy> policy_list() const {
    std::vector<model::TrafficPolicy> out;
    for (const auto& [service, p] : policies) out.push_back(p);
    return out;
  }

  model::Snapshot snapshot() const {
    model::Snapshot s;
    s.revision = revision;
    s.epoch = epoch;
    s.synced = synced;
    for (const auto& [key, i] : instances) s.instances.push_back(i);
    for (const auto& [key, r] : routes) s.routes.push_back(r);
    s.policies = policy_list();
    return s;
  }

  std::vector<registry::ServiceSummary> services() const {
    std::map<std::string, registry::ServiceSummary> by_name;
    for (const auto& [key, i] : instances) {
      auto& s = by_name[key.first];
      s.name = key.first;
      ++s.instances;
      if (model::routable(i.health)) ++s.routable;
    }
    for (const auto& [key, r] : routes) {
      auto& s = by_name[key.first];
      s.name = key.first;
      ++s.routes;
    }
    std::vector<registry::ServiceSummary> list;
    for (auto& [name, s] : by_name) list.push_back(std::move(s));
    return list;
  }

  Result<registry::ServiceView> service(const std::string& name) const {
    registry::ServiceView view{name, {}, routes_of(name)};
    for (const auto& [key, i] : instances)
      if (key.first == name) view.instances.push_back(i);
    if (view.instances.empty() && view.routes.empty())
      return Error{ErrorKind::not_found, "service_not_found", "no service named " + name, 404};
    return view;
  }

  Result<model::Route> route(const std::string& service, const std::string& consumer) const {
    auto it = routes.find({service, consumer});
    if (it == routes.end())
      return Error{ErrorKind::not_found, "route_not_found", no_route(service, consumer), 404};
    return it->second;
  }

  std::vector<model::Route> routes_of(const std::optional<std::string>& service) const {
    std::vector<model::Route> out;
    for (const auto& [key, r] : routes)
      if (!service || key.first == *service) out.push_back(r);
    return out;
  }
};

namespace {

class FakeWatch final : public registry::Watch {
 public:
  FakeWatch(std::shared_ptr<FakeState> state, std::shared_ptr<WatchSlot> slot, std::uint64_t since)
      : state_(std::move(state)), slot_(std::move(slot)), revision_(since) {}

  awaitable<Result<model::Event>> next() override {
    for (;;) {
      if (slot_->ended) co_return *slot_->ended;
      if (const model::Event* e = state_->event_after(revision_)) {
        revision_ = e->revision;
        co_return *e;
      }
      // Woken by the next change (or the end); nothing is missed in between, since the events
      // are read again first.
      slot_->wake.expires_at(asio::steady_timer::time_point::max());
      error_code ec;
      auto op = slot_->wake.async_wait(asio::redirect_error(use_awaitable, ec));
      co_await std::move(op);
    }
  }

  std::uint64_t revision() const override { return revision_; }

 private:
  std::shared_ptr<FakeState> state_;
  std::shared_ptr<WatchSlot> slot_;
  std::uint64_t revision_;
};

// A watch from `since` in `epoch`, or why the directory would answer 410.
Result<std::unique_ptr<registry::Watch>> open_watch(const std::shared_ptr<FakeState>& d,
                                                    std::uint64_t since, const std::string& epoch) {
  if (epoch != d->epoch)
    return Error{ErrorKind::stale, "stale_epoch",
                 "epoch " + epoch + " is not the directory's current epoch " + d->epoch +
                     "; re-read /v1/snapshot",
                 410};
  if (since > d->revision)
    return Error{ErrorKind::stale, "stale_revision",
                 "revision " + std::to_string(since) + " is ahead of this directory (at " +
                     std::to_string(d->revision) + "); re-read /v1/snapshot",
                 410};
  auto slot = std::make_shared<WatchSlot>(d->ex);
  d->watches.push_back(slot);
  return std::unique_ptr<registry::Watch>(std::make_unique<FakeWatch>(d, std::move(slot), since));
}

}  // namespace

FakeRegistry::FakeRegistry(asio::any_io_executor ex, std::string name)
    : d_(std::make_shared<FakeState>(std::move(ex), std::move(name))) {}

// A watch still open stays open: waking it would resume a caller that is likely gone too. The
// state it reads is shared, so its frame is safe to destroy with the io_context.
FakeRegistry::~FakeRegistry() = default;

void FakeRegistry::down(bool is_down) {
  d_->is_down = is_down;
  if (is_down)
    d_->end_watches(Error{ErrorKind::unreachable, "unreachable", d_->name + ": connection reset"});
}

void FakeRegistry::hold_answers(bool hold) {
  d_->holding = hold;
  if (!hold) d_->released.cancel();
}

void FakeRegistry::refuse_next(const std::string& op, Error error) {
  if (operations().count(op) == 0) throw std::invalid_argument("FakeRegistry: no operation " + op);
  d_->refusals[op].push_back(std::move(error));
}

void FakeRegistry::end_watches(Error error) {
  d_->end_watches(error);
}

bool FakeRegistry::expire(const std::string& lease) {
  return d_->drop_lease(lease).ok();
}

void FakeRegistry::set_epoch(std::string epoch) {
  d_->epoch = std::move(epoch);
}

void FakeRegistry::set_synced(bool synced) {
  d_->synced = synced;
}

std::string FakeRegistry::add_lease(std::chrono::seconds ttl, std::string owner) {
  return d_->grant(ttl, std::move(owner)).id;
}

Status FakeRegistry::add_instance(model::Instance instance) {
  return d_->put_instance(std::move(instance));
}

Status FakeRegistry::remove_instance(const std::string& service, const std::string& id) {
  return d_->delete_instance(service, id);
}

Status FakeRegistry::add_route(model::Route route) {
  return d_->put_route(std::move(route));
}

Status FakeRegistry::remove_route(const std::string& service, const std::string& consumer) {
  return d_->delete_route(service, consumer);
}

const std::vector<std::string>& FakeRegistry::calls() const {
  return d_->calls;
}

std::optional<model::Instance> FakeRegistry::instance(const std::string& service,
                                                      const std::string& id) const {
  auto it = d_->instances.find({service, id});
  if (it == d_->instances.end()) return std::nullopt;
  return it->second;
}

std::vector<model::Instance> FakeRegistry::instances() const {
  return d_->snapshot().instances;
}

std::vector<std::string> FakeRegistry::leases() const {
  std::vector<std::string> ids;
  for (const auto& [id, lease] : d_->leases) ids.push_back(id);
  return ids;
}

std::uint64_t FakeRegistry::revision() const {
  return d_->revision;
}

const std::string& FakeRegistry::epoch() const {
  return d_->epoch;
}

std::size_t FakeRegistry::open_watches() const {
  std::size_t n = 0;
  for (const auto& w : d_->watches)
    if (!w.expired()) ++n;
  return n;
}

std::string FakeRegistry::describe() const {
  return d_->name;
}

namespace {

// One call: recorded and decided when it is awaited (a real client sends it then), answered after
// one turn of the executor, since a real answer is never synchronous.
template <class T, class Answer>
awaitable<Result<T>> call(std::shared_ptr<FakeState> d, std::string what, std::string op,
                          Answer answer) {
  auto failed = d->begin(std::move(what), op);
  Result<T> r = failed ? Result<T>(*failed) : Result<T>(answer(*d));
  d->most_in_flight = std::max(d->most_in_flight, ++d->in_flight);
  auto delivered = asio::post(d->ex, use_awaitable);
  co_await std::move(delivered);
  while (d->holding) {
    error_code ec;
    auto release = d->released.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(release);
  }
  --d->in_flight;
  co_return std::move(r);
}

}  // namespace

awaitable<Result<model::DirectoryHealth>> FakeRegistry::health() {
  return call<model::DirectoryHealth>(d_, "health", "health", [](FakeState& d) {
    return model::DirectoryHealth{"ok", d.revision, d.epoch, d.synced};
  });
}

awaitable<Result<model::Lease>> FakeRegistry::grant_lease(std::chrono::seconds ttl,
                                                          std::string owner) {
  return call<model::Lease>(d_, "grant " + std::to_string(ttl.count()), "grant",
                            [ttl, owner](FakeState& d) { return d.grant(ttl, owner); });
}

awaitable<Status> FakeRegistry::keepalive(std::string lease_id) {
  return call<Ok>(d_, "keepalive " + lease_id, "keepalive",
                  [lease_id](FakeState& d) { return d.keepalive(lease_id); });
}

awaitable<Status> FakeRegistry::revoke(std::string lease_id) {
  return call<Ok>(d_, "revoke " + lease_id, "revoke",
                  [lease_id](FakeState& d) { return d.drop_lease(lease_id); });
}

awaitable<Status> FakeRegistry::put_instance(model::Instance instance) {
  std::string what = "put " + instance.service + "/" + instance.id + " " + instance.lease;
  return call<Ok>(d_, std::move(what), "put",
                  [instance](FakeState& d) { return d.put_instance(instance); });
}

awaitable<Status> FakeRegistry::delete_instance(std::string service, std::string id) {
  return call<Ok>(d_, "delete " + service + "/" + id, "delete",
                  [service, id](FakeState& d) { return d.delete_instance(service, id); });
}

awaitable<Result<std::vector<registry::ServiceSummary>>> FakeRegistry::services() {
  return call<std::vector<registry::ServiceSummary>>(d_, "services", "services",
                                                     [](FakeState& d) { return d.services(); });
}

awaitable<Result<registry::ServiceView>> FakeRegistry::service(std::string name) {
  return call<registry::ServiceView>(d_, "service " + name, "service",
                                     [name](FakeState& d) { return d.service(name); });
}

awaitable<Result<model::Snapshot>> FakeRegistry::snapshot() {
  return call<model::Snapshot>(d_, "snapshot", "snapshot",
                               [](FakeState& d) { return d.snapshot(); });
}

awaitable<Result<std::unique_ptr<registry::Watch>>> FakeRegistry::watch(std::uint64_t since,
                                                                        std::string epoch) {
  std::string what = "watch " + std::to_string(since) + " " + epoch;
  return call<std::unique_ptr<registry::Watch>>(
      d_, std::move(what), "watch",
      [state = d_, since, epoch](FakeState&) { return open_watch(state, since, epoch); });
}

awaitable<Result<std::vector<model::Route>>> FakeRegistry::routes(
    std::optional<std::string> service) {
  std::string what = service ? "routes " + *service : std::string("routes");
  return call<std::vector<model::Route>>(d_, std::move(what), "routes",
                                         [service](FakeState& d) { return d.routes_of(service); });
}

awaitable<Result<model::Route>> FakeRegistry::route(std::string service, std::string consumer) {
  return call<model::Route>(
      d_, "route " + service + "/" + consumer, "route",
      [service, consumer](FakeState& d) { return d.route(service, consumer); });
}

awaitable<Status> FakeRegistry::put_route(model::Route route) {
  std::string what = "put_route " + route.service + "/" + route.consumer;
  return call<Ok>(d_, std::move(what), "put_route",
                  [route](FakeState& d) { return d.put_route(route); });
}

awaitable<Status> FakeRegistry::delete_route(std::string service, std::string consumer) {
  return call<Ok>(d_, "delete_route " + service + "/" + consumer, "delete_route",
                  [service, consumer](FakeState& d) { return d.delete_route(service, consumer); });
}

awaitable<Result<std::vector<model::TrafficPolicy>>> FakeRegistry::policies() {
  return call<std::vector<model::TrafficPolicy>>(d_, "policies", "policies",
                                                 [](FakeState& d) { return d.policy_list(); });
}

awaitable<Result<model::TrafficPolicy>> FakeRegistry::policy(std::string service) {
  return call<model::TrafficPolicy>(d_, "policy " + service, "policy",
                                    [service](FakeState& d) { return d.policy(service); });
}

awaitable<Status> FakeRegistry::put_policy(model::TrafficPolicy policy) {
  return call<Ok>(d_, "put_policy " + policy.service, "put_policy",
                  [policy](FakeState& d) { return d.put_policy(policy); });
}

awaitable<Status> FakeRegistry::delete_policy(std::string service) {
  return call<Ok>(d_, "delete_policy " + service, "delete_policy",
                  [service](FakeState& d) { return d.delete_policy(service); });
}

awaitable<Result<model::Consumer>> FakeRegistry::put_consumer(model::Consumer consumer) {
  std::string what = "put_consumer " + consumer.name + " " + consumer.lease;
  return call<model::Consumer>(d_, std::move(what), "put_consumer",
                               [consumer](FakeState& d) -> Result<model::Consumer> {
                                 if (!d.leases.contains(consumer.lease))
                                   return lease_not_found(consumer.lease);
                                 return consumer;
                               });
}

awaitable<Status> FakeRegistry::report_traffic(std::string consumer, model::TrafficReport) {
  return call<Ok>(d_, "report " + consumer, "report", [](FakeState&) { return Ok{}; });
}

int FakeRegistry::most_calls_at_once() const {
  return d_->most_in_flight;
}

int FakeRegistry::calls_in_flight() const {
  return d_->in_flight;
}

Status FakeRegistry::add_policy(model::TrafficPolicy policy) {
  return d_->put_policy(std::move(policy));
}

bool run_until(asio::io_context& io, std::chrono::milliseconds timeout,
               const std::function<bool()>& done) {
  const auto deadline = real_clock().now() + timeout;
  for (;;) {
    if (done()) return true;
    if (real_clock().now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(std::chrono::milliseconds(5));
    if (io.stopped()) return done();  // out of work: nothing will change any more
  }
}

bool step_until(asio::io_context& io, std::chrono::milliseconds timeout,
                const std::function<bool()>& done) {
  const auto deadline = real_clock().now() + timeout;
  for (;;) {
    if (done()) return true;
    if (real_clock().now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
    if (io.stopped()) return done();
  }
}

}  // namespace dstack::test
