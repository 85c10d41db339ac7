// SPDX-License-Identifier: Apache-2.0
// The directory's rules (docs/api.md): leases and their TTLs, instances bound to leases, durable
// routes, the revision counter and the events watchers see. A FakeClock drives expiry.

#include "directory/state.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include "unit/temp_dir.hpp"

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/model/json.hpp"

namespace dstack::directory {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using Type = model::Event::Type;

using test::TempDir;

// A request without a token on a directory without access control.
const Caller kNobody{};

// One published change: the revision handed to the listener and the parsed NDJSON line.
struct Published {
  std::uint64_t revision;
  model::Event event;
};

class StateTest : public ::testing::Test {
 protected:
  StateTest() { start(); }

  // (Re)creates the store over the same directory and a State over it.
  void start(StateOptions options = {}) {
    state_.reset();
    store_.reset();
    policies_.reset();
    auto data = DataDir::open(dir_.path());
    store_ = std::make_unique<RouteStore>(RouteStore::open(data));
    policies_ = std::make_unique<PolicyStore>(PolicyStore::open(data));
    state_ = std::make_unique<State>(options, clock_, *store_, *policies_, "epoch-1");
    events_.clear();
    state_->set_listener([this](std::uint64_t revision, const EventHistory::Line& line) {
      ASSERT_FALSE(line->empty());
      EXPECT_EQ(line->back(), '\n') << *line;
      auto parsed = model::event_from_json(nlohmann::json::parse(*line));
      auto* event = std::get_if<model::Event>(&parsed);
      ASSERT_NE(event, nullptr) << *line;
      EXPECT_EQ(event->revision, revision) << *line;
      events_.push_back({revision, *event});
    });
  }

  State& state() { return *state_; }

  std::string grant(std::optional<std::int64_t> ttl = std::nullopt) {
    auto out = state_->grant(ttl, "vm101", kNobody);
    auto* lease = std::get_if<model::Lease>(&out);
    if (!lease) {
      ADD_FAILURE() << "grant refused: " << std::get<ApiError>(out).message;
      return {};
    }
    return lease->id;
  }

  static model::Instance instance(std::string service, std::string id, std::string lease,
                                  std::string version = "1") {
    model::Instance in;
    in.service = std::move(service);
    in.id = std::move(id);
    in.lease = std::move(lease);
    in.url = "http://10.0.0.1:8080";
    in.version = std::move(version);
    return in;
  }

  void put(const model::Instance& in) {
    auto out = state_->put_instance(in, kNobody);
    if (auto* err = std::get_if<ApiError>(&out)) ADD_FAILURE() << "put refused: " << err->message;
  }

  static model::Route route(std::string service, std::string consumer = "") {
    return {std::move(service), std::move(consumer), {{"1", 90}, {"2", 10}}, 0};
  }

  // (service, id) of every instance the state serves, in order.
  std::vector<std::pair<std::string, std::string>> served() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& in : state_->snapshot().instances) out.emplace_back(in.service, in.id);
    return out;
  }

  static ApiError error_of(const Outcome<>& out) {
    auto* err = std::get_if<ApiError>(&out);
    if (!err) {
      ADD_FAILURE() << "expected a refusal, got success";
      return {0, "<success>", ""};
    }
    return *err;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<RouteStore> store_;
  std::unique_ptr<PolicyStore> policies_;
  std::unique_ptr<State> state_;
  std::vector<Published> events_;
};

using P = std::pair<std::string, std::string>;

// --- leases ----------------------------------------------------------------------------------

TEST_F(StateTest, GrantWithoutTtlUsesTheDefaultTtl) {
  auto out = state().grant(std::nullopt, "vm101", kNobody);
  ASSERT_TRUE(std::holds_alternative<model::Lease>(out));
  const auto& lease = std::get<model::Lease>(out);
  EXPECT_EQ(lease.ttl, 10s);
  EXPECT_EQ(lease.owner, "vm101");
  EXPECT_THAT(lease.id, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(state().lease_count(), 1u);
  // A lease alone is not a change watchers see.
  EXPECT_EQ(state().revision(), 1u);
  EXPECT_THAT(events_, IsEmpty());

  clock_.advance(10s - 1ms);
  EXPECT_EQ(state().expire(), 0u);
  clock_.advance(1ms);
  EXPECT_EQ(state().expire(), 1u);
  EXPECT_EQ(state().lease_count(), 0u);
}

TEST_F(StateTest, GrantWithExplicitTtlUsesItAndHandsOutDistinctIds) {
  auto a = state().grant(30, "vm101", kNobody);
  auto b = state().grant(1, "vm102", kNobody);
  auto c = state().grant(60, "vm103", kNobody);
  ASSERT_TRUE(std::holds_alternative<model::Lease>(a));
  ASSERT_TRUE(std::holds_alternative<model::Lease>(b));
  ASSERT_TRUE(std::holds_alternative<model::Lease>(c));
  EXPECT_EQ(std::get<model::Lease>(a).ttl, 30s);
  EXPECT_EQ(std::get<model::Lease>(b).ttl, 1s);
  EXPECT_EQ(std::get<model::Lease>(c).ttl, 60s);
  EXPECT_NE(std::get<model::Lease>(a).id, std::get<model::Lease>(b).id);
  EXPECT_NE(std::get<model::Lease>(b).id, std::get<model::Lease>(c).id);
  EXPECT_EQ(state().counters().leases_granted, 3u);

  clock_.advance(1s);
  EXPECT_EQ(state().expire(), 1u);  // only the 1 s lease
  clock_.advance(29s);
  EXPECT_EQ(state().expire(), 1u);  // the 30 s one
  EXPECT_EQ(state().lease_count(), 1u);
}

TEST_F(StateTest, GrantRefusesTtlOutsideTheConfiguredRange) {
  for (std::int64_t ttl : {0, -5, 301}) {
    auto out = state().grant(ttl, "vm101", kNobody);
    ASSERT_TRUE(std::holds_alternative<ApiError>(out)) << ttl;
    const auto& err = std::get<ApiError>(out);
    EXPECT_EQ(err.status, 400);
    EXPECT_EQ(err.code, "invalid_ttl");
    EXPECT_EQ(err.message, "ttl " + std::to_string(ttl) + " is out of range 1..60 seconds");
  }
  EXPECT_EQ(state().lease_count(), 0u);
  EXPECT_EQ(state().counters().leases_granted, 0u);
}

TEST_F(StateTest, GrantRangeFollowsTheOptions) {
  StateOptions options;
  options.min_ttl = 5s;
  options.max_ttl = 60s;
  options.default_ttl = 20s;
  start(options);
  auto low = state().grant(4, "vm101", kNobody);
  ASSERT_TRUE(std::holds_alternative<ApiError>(low));
  EXPECT_EQ(std::get<ApiError>(low).message, "ttl 4 is out of range 5..60 seconds");
  auto dflt = state().grant(std::nullopt, "vm101", kNobody);
  ASSERT_TRUE(std::holds_alternative<model::Lease>(dflt));
  EXPECT_EQ(std::get<model::Lease>(dflt).ttl, 20s);
}

TEST_F(StateTest, KeepaliveExtendsTheDeadlineByTheTtl) {
  auto id = grant(10);
  clock_.advance(6s);
  ASSERT_TRUE(std::holds_alternative<Done>(state().keepalive(id, kNobody)));
  EXPECT_EQ(state().counters().keepalives, 1u);

  clock_.advance(5s);  // 11 s after the grant: past the original deadline
  EXPECT_EQ(state().expire(), 0u);
  EXPECT_EQ(state().lease_count(), 1u);

  clock_.advance(5s - 1ms);  // 1 ms before the new deadline (keepalive + 10 s)
  EXPECT_EQ(state().expire(), 0u);
  clock_.advance(1ms);
  EXPECT_EQ(state().expire(), 1u);
  EXPECT_EQ(state().lease_count(), 0u);
  EXPECT_EQ(state().counters().leases_expired, 1u);
}

// A lease past its deadline is expired even if the sweep (every 100 ms) has not run yet: the
// keepalive gets 404 (docs/api.md#put-v1leasesid), as etcd does, rather than reviving instances
// consumers may have dropped.
TEST_F(StateTest, KeepaliveAfterTheDeadlineIsRefusedEvenBeforeExpireRuns) {
  auto id = grant(10);
  put(instance("web", "a", id));
  clock_.advance(10s);
  auto err = error_of(state().keepalive(id, kNobody));
  EXPECT_EQ(err.status, 404);
  EXPECT_EQ(err.code, "lease_not_found");
  // The refused keepalive sweeps the lease itself, with its instances, as expiry would.
  EXPECT_THAT(served(), IsEmpty());
  EXPECT_EQ(state().counters().leases_expired, 1u);
  EXPECT_EQ(state().expire(), 0u);
}

TEST_F(StateTest, ExpiryRemovesExactlyTheLeasesInstancesWithOneEventEach) {
  auto doomed = grant(10);
  auto kept = grant(20);
  put(instance("web", "a", doomed));
  put(instance("web", "b", kept));
  put(instance("api", "x", doomed));
  put(instance("web", "c", doomed));
  ASSERT_EQ(state().revision(), 5u);
  events_.clear();

  clock_.advance(10s);
  EXPECT_EQ(state().expire(), 1u);

  EXPECT_THAT(served(), ElementsAre(P{"web", "b"}));
  EXPECT_EQ(state().instance_count(), 1u);
  EXPECT_EQ(state().lease_count(), 1u);
  EXPECT_EQ(state().revision(), 8u);
  ASSERT_EQ(events_.size(), 3u);
  std::vector<P> deleted;
  for (std::size_t i = 0; i < events_.size(); ++i) {
    EXPECT_EQ(events_[i].revision, 6u + i);
    EXPECT_EQ(events_[i].event.type, Type::instance_delete);
    deleted.emplace_back(events_[i].event.service, events_[i].event.id);
  }
  EXPECT_THAT(deleted,
              ::testing::UnorderedElementsAre(P{"web", "a"}, P{"api", "x"}, P{"web", "c"}));
  // A watcher resuming from before the expiry gets the same three lines.
  auto resumed = state().history().since(5);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->size(), 3u);
  // "api" had only the expired instance: it is gone from the service list.
  EXPECT_THAT(state().service_names(), ElementsAre("web"));
}

TEST_F(StateTest, RevokeDropsTheLeaseAndItsInstancesAtOnce) {
  auto id = grant(10);
  put(instance("web", "a", id));
  put(instance("web", "b", id));
  events_.clear();

  ASSERT_TRUE(std::holds_alternative<Done>(state().revoke(id, kNobody)));
  EXPECT_EQ(state().lease_count(), 0u);
  EXPECT_THAT(served(), IsEmpty());
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].event.type, Type::instance_delete);
  EXPECT_EQ(events_[1].event.type, Type::instance_delete);
  EXPECT_EQ(events_[0].revision + 1, events_[1].revision);
  EXPECT_EQ(state().counters().leases_revoked, 1u);

  // Its deadline went with it.
  clock_.advance(1h);
  EXPECT_EQ(state().expire(), 0u);
  EXPECT_EQ(state().counters().leases_expired, 0u);
}

TEST_F(StateTest, KeepaliveAndRevokeOfAnUnknownLeaseAre404) {
  for (auto out : {state().keepalive("0123456789abcdef", kNobody),
                   state().revoke("0123456789abcdef", kNobody)}) {
    auto err = error_of(out);
    EXPECT_EQ(err.status, 404);
    EXPECT_EQ(err.code, "lease_not_found");
    EXPECT_EQ(err.message, "lease 0123456789abcdef is unknown or expired");
  }
  // An expired lease is unknown as well.
  auto id = grant(1);
  clock_.advance(1s);
  ASSERT_EQ(state().expire(), 1u);
  EXPECT_EQ(error_of(state().keepalive(id, kNobody)).status, 404);
  EXPECT_EQ(error_of(state().revoke(id, kNobody)).status, 404);
  // And a revoked one.
  auto other = grant(10);
  ASSERT_TRUE(std::holds_alternative<Done>(state().revoke(other, kNobody)));
  EXPECT_EQ(error_of(state().revoke(other, kNobody)).code, "lease_not_found");
}

// --- instances -------------------------------------------------------------------------------

TEST_F(StateTest, PutInstanceWithAnUnknownLeaseIs404AndChangesNothing) {
  auto err = error_of(state().put_instance(instance("web", "a", "feedfacefeedface"), kNobody));
  EXPECT_EQ(err.status, 404);
  EXPECT_EQ(err.code, "lease_not_found");
  EXPECT_EQ(err.message, "lease feedfacefeedface is unknown or expired");
  EXPECT_THAT(served(), IsEmpty());
  EXPECT_THAT(state().service_names(), IsEmpty());
  EXPECT_EQ(state().revision(), 1u);
  EXPECT_THAT(events_, IsEmpty());
}

TEST_F(StateTest, PutInstancePublishesItWithTheNewRevision) {
  auto id = grant();
  auto in = instance("web", "a", id);
  in.tags = {"blue"};
  in.meta = {{"zone", "a"}};
  put(in);
  EXPECT_EQ(state().revision(), 2u);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].revision, 2u);
  EXPECT_EQ(events_[0].event.type, Type::instance_put);
  EXPECT_EQ(events_[0].event.service, "web");
  EXPECT_EQ(events_[0].event.id, "a");
  auto expected = in;
  expected.revision = 2;
  EXPECT_EQ(events_[0].event.instance, expected);
  auto stored = state().instances_of("web");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(*stored[0], expected);
  EXPECT_EQ(state().instance_count(), 1u);
}

TEST_F(StateTest, ReputtingAnIdenticalInstancePublishesNothingAndKeepsTheRevision) {
  auto id = grant();
  put(instance("web", "a", id));
  events_.clear();
  put(instance("web", "a", id));
  put(instance("web", "a", id));
  EXPECT_THAT(events_, IsEmpty());
  EXPECT_EQ(state().revision(), 2u);
  ASSERT_EQ(state().instances_of("web").size(), 1u);
  EXPECT_EQ(state().instances_of("web")[0]->revision, 2u);
  EXPECT_EQ(state().instance_count(), 1u);
}

TEST_F(StateTest, ChangingAnInstancePublishesAnInstancePut) {
  auto id = grant();
  put(instance("web", "a", id));
  events_.clear();
  auto changed = instance("web", "a", id, "2");
  changed.health = model::Health::warning;
  put(changed);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].revision, 3u);
  EXPECT_EQ(events_[0].event.type, Type::instance_put);
  EXPECT_EQ(events_[0].event.instance.version, "2");
  EXPECT_EQ(events_[0].event.instance.health, model::Health::warning);
  ASSERT_EQ(state().instances_of("web").size(), 1u);
  EXPECT_EQ(state().instances_of("web")[0]->version, "2");
  EXPECT_EQ(state().instances_of("web")[0]->revision, 3u);
  EXPECT_EQ(state().instance_count(), 1u);
}

TEST_F(StateTest, AnInstanceMovedToAnotherLeaseOutlivesTheOldLease) {
  auto old_lease = grant(10);
  auto new_lease = grant(30);
  put(instance("web", "a", old_lease));
  put(instance("web", "a", new_lease));  // its watson restarted and took a new lease
  events_.clear();

  clock_.advance(10s);
  EXPECT_EQ(state().expire(), 1u);
  EXPECT_THAT(served(), ElementsAre(P{"web", "a"}));
  EXPECT_THAT(events_, IsEmpty());
  EXPECT_EQ(state().instances_of("web")[0]->lease, new_lease);

  clock_.advance(20s);
  EXPECT_EQ(state().expire(), 1u);
  EXPECT_THAT(served(), IsEmpty());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event.type, Type::instance_delete);
}

TEST_F(StateTest, RevokingTheOldLeaseOfAMovedInstanceKeepsIt) {
  auto old_lease = grant();
  auto new_lease = grant();
  put(instance("web", "a", old_lease));
  put(instance("web", "a", new_lease));
  ASSERT_TRUE(std::holds_alternative<Done>(state().revoke(old_lease, kNobody)));
  EXPECT_THAT(served(), ElementsAre(P{"web", "a"}));
  ASSERT_TRUE(std::holds_alternative<Done>(state().revoke(new_lease, kNobody)));
  EXPECT_THAT(served(), IsEmpty());
}

TEST_F(StateTest, MaxInstancesPerLeaseRefusesOneMoreAndChangesNothing) {
  StateOptions options;
  options.max_instances_per_lease = 2;
  start(options);
  auto id = grant();
  put(instance("web", "a", id));
  put(instance("web", "b", id));
  events_.clear();

  auto err = error_of(state().put_instance(instance("api", "c", id), kNobody));
  EXPECT_EQ(err.status, 409);
  EXPECT_EQ(err.code, "too_many_instances");
  EXPECT_EQ(err.message,
            "lease " + id + " already holds 2 instances (limits.max_instances_per_lease)");
  EXPECT_THAT(served(), ElementsAre(P{"web", "a"}, P{"web", "b"}));
  EXPECT_THAT(state().service_names(), ElementsAre("web"));  // no empty "api" left behind
  EXPECT_EQ(state().instance_count(), 2u);
  EXPECT_EQ(state().revision(), 3u);
  EXPECT_THAT(events_, IsEmpty());

  // Updating an instance the lease already holds is not "one more".
  put(instance("web", "a", id, "2"));
  EXPECT_EQ(events_.size(), 1u);
  // Another lease has its own allowance.
  put(instance("api", "c", grant()));
  EXPECT_EQ(state().instance_count(), 3u);
}

// A 409 for a full lease changes nothing: the instance stays bound to its old lease and still
// expires with it (it must never be orphaned).
TEST_F(StateTest, MovingAnInstanceToAFullLeaseIsRefusedAndLeavesItOnItsOldLease) {
  StateOptions options;
  options.max_instances_per_lease = 1;
  start(options);
  auto old_lease = grant(10);
  auto full_lease = grant(60);
  put(instance("web", "a", old_lease));
  put(instance("web", "b", full_lease));

  auto err = error_of(state().put_instance(instance("web", "a", full_lease), kNobody));
  EXPECT_EQ(err.status, 409);
  EXPECT_EQ(err.code, "too_many_instances");
  ASSERT_EQ(state().instances_of("web").size(), 2u);
  EXPECT_EQ(state().instances_of("web")[0]->lease, old_lease);

  // Nothing changed, so the old lease still takes the instance with it when it expires.
  clock_.advance(10s);
  EXPECT_EQ(state().expire(), 1u);
  EXPECT_THAT(served(), ElementsAre(P{"web", "b"}));
}

TEST_F(StateTest, DeleteInstanceRemovesItAndPublishesOnce) {
  auto id = grant(10);
  put(instance("web", "a", id));
  put(instance("web", "b", id));
  events_.clear();

  ASSERT_TRUE(std::holds_alternative<Done>(state().delete_instance("web", "a", kNobody)));
  EXPECT_THAT(served(), ElementsAre(P{"web", "b"}));
  EXPECT_EQ(state().instance_count(), 1u);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].revision, 4u);
  EXPECT_EQ(events_[0].event.type, Type::instance_delete);
  EXPECT_EQ(events_[0].event.service, "web");
  EXPECT_EQ(events_[0].event.id, "a");

  auto err = error_of(state().delete_instance("web", "a", kNobody));
  EXPECT_EQ(err.status, 404);
  EXPECT_EQ(err.code, "instance_not_found");
  EXPECT_EQ(err.message, "service web has no instance a");
  EXPECT_EQ(error_of(state().delete_instance("nosuch", "a", kNobody)).message,
            "service nosuch has no instance a");

  // The lease's expiry then removes only what is left, with one event.
  events_.clear();
  clock_.advance(10s);
  EXPECT_EQ(state().expire(), 1u);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event.id, "b");
  EXPECT_EQ(events_[0].revision, 5u);
}

// --- routes ----------------------------------------------------------------------------------

TEST_F(StateTest, PutRouteIsPublishedAndSurvivesARestart) {
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web"))));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web", "billing"))));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].revision, 2u);
  EXPECT_EQ(events_[0].event.type, Type::route_put);
  EXPECT_EQ(events_[0].event.service, "web");
  EXPECT_EQ(events_[0].event.consumer, "");
  EXPECT_EQ(events_[0].event.route.targets, route("web").targets);
  EXPECT_EQ(events_[1].event.consumer, "billing");
  EXPECT_EQ(events_[1].revision, 3u);
  auto served_route = state().route("web", "billing");
  ASSERT_TRUE(served_route.has_value());
  EXPECT_EQ(served_route->revision, 3u);
  EXPECT_EQ(state().route_count(), 2u);

  start();  // a new store over the same directory, a new State: a directory restart
  ASSERT_TRUE(store_->get("web", "").has_value());
  EXPECT_EQ(store_->get("web", "")->targets, route("web").targets);
  ASSERT_TRUE(store_->get("web", "billing").has_value());
  // The new epoch serves them, all at its first revision.
  EXPECT_EQ(state().route_count(), 2u);
  auto restored = state().routes_of(std::string("web"));
  ASSERT_EQ(restored.size(), 2u);
  for (const auto& r : restored) {
    EXPECT_EQ(r.targets, route("web").targets);
    EXPECT_EQ(r.revision, 1u);
  }
}

TEST_F(StateTest, DeleteRouteIsPublishedAndSurvivesARestart) {
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web"))));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("api"))));
  events_.clear();
  ASSERT_TRUE(std::holds_alternative<Done>(state().delete_route("web", "")));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].revision, 4u);
  EXPECT_EQ(events_[0].event.type, Type::route_delete);
  EXPECT_EQ(events_[0].event.service, "web");
  EXPECT_FALSE(state().route("web", "").has_value());

  start();
  EXPECT_FALSE(store_->get("web", "").has_value());
  EXPECT_TRUE(store_->get("api", "").has_value());
  EXPECT_FALSE(state().route("web", "").has_value());
  EXPECT_TRUE(state().route("api", "").has_value());
}

// The console's "roll back": what the last put replaced comes back, a second rollback undoes the
// first, the first route of a service rolls back to none, and all of it survives a restart.
TEST_F(StateTest, RollbackPutsBackWhatTheLastPutReplaced) {
  const auto put = [&](std::vector<model::RouteTarget> targets) {
    ASSERT_TRUE(
        std::holds_alternative<Done>(state().put_route({"web", "", std::move(targets), 0})));
  };
  const auto targets = [&] { return state().route("web", "")->targets; };
  EXPECT_EQ(error_of(state().rollback_route("web", "")).code, "route_not_found");
  put({{"2", 10}});
  put({{"2", 50}});
  EXPECT_EQ(state().previous_route("web", "").targets,
            (std::vector<model::RouteTarget>{{"2", 10}}));
  start();  // a restart: the previous split is durable
  events_.clear();
  ASSERT_TRUE(std::holds_alternative<Done>(state().rollback_route("web", "")));
  EXPECT_EQ(targets(), (std::vector<model::RouteTarget>{{"2", 10}}));
  ASSERT_EQ(events_.size(), 1u);  // published as any route change
  EXPECT_EQ(events_[0].event.type, Type::route_put);
  ASSERT_TRUE(std::holds_alternative<Done>(state().rollback_route("web", "")));
  EXPECT_EQ(targets(), (std::vector<model::RouteTarget>{{"2", 50}}));  // undone

  // The first route of a service replaced no route: rolling it back removes it.
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("api"))));
  ASSERT_TRUE(state().previous_route("api", "").known);
  EXPECT_FALSE(state().previous_route("api", "").targets.has_value());
  ASSERT_TRUE(std::holds_alternative<Done>(state().rollback_route("api", "")));
  EXPECT_FALSE(state().route("api", "").has_value());
  EXPECT_EQ(error_of(state().rollback_route("api", "")).code, "route_not_found");
}

// --- traffic policies --------------------------------------------------------------------------

model::TrafficPolicy policy(std::string service, int retries = 2) {
  model::TrafficPolicy p;
  p.service = std::move(service);
  p.retries = retries;
  p.retry_on = {"conn-failure", "503"};
  p.max_conn = 50;
  p.balance = model::Balance{model::Balance::Kind::header, "X-User"};
  return p;
}

TEST_F(StateTest, PutPolicyIsPublishedInTheSnapshotAndSurvivesARestart) {
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_policy(policy("web"))));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event.type, Type::policy_put);
  EXPECT_EQ(events_[0].event.service, "web");
  auto expected = policy("web");
  expected.revision = 2;
  EXPECT_EQ(events_[0].event.policy, expected);
  EXPECT_EQ(state().snapshot().policies, std::vector{expected});

  // The same policy again is no change: nothing written, nothing published.
  const auto size = std::filesystem::file_size(policies_->file());
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_policy(policy("web"))));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(std::filesystem::file_size(policies_->file()), size);
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_policy(policy("web", 3))));
  EXPECT_EQ(events_.size(), 2u);

  start();  // a directory restart: the policy comes back at the new epoch's first revision
  auto restored = state().policy("web");
  ASSERT_TRUE(restored.has_value());
  auto again = policy("web", 3);
  again.revision = 1;
  EXPECT_EQ(*restored, again);
}

TEST_F(StateTest, DeletePolicyIsPublishedAndSurvivesARestart) {
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_policy(policy("web"))));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_policy(policy("api"))));
  events_.clear();
  ASSERT_TRUE(std::holds_alternative<Done>(state().delete_policy("web")));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].event.type, Type::policy_delete);
  EXPECT_EQ(events_[0].event.service, "web");
  const auto missing = error_of(state().delete_policy("web"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.message, "service web has no traffic policy");

  start();
  EXPECT_FALSE(state().policy("web").has_value());
  EXPECT_TRUE(state().policy("api").has_value());
  EXPECT_EQ(state().policy_count(), 1u);
}

TEST_F(StateTest, DeletingAnUnknownRouteIs404) {
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web", "billing"))));
  events_.clear();
  auto everyone = error_of(state().delete_route("web", ""));
  EXPECT_EQ(everyone.status, 404);
  EXPECT_EQ(everyone.code, "route_not_found");
  EXPECT_EQ(everyone.message, "service web has no route for everyone");
  auto consumer = error_of(state().delete_route("web", "shipping"));
  EXPECT_EQ(consumer.status, 404);
  EXPECT_EQ(consumer.message, "service web has no route for consumer shipping");
  EXPECT_THAT(events_, IsEmpty());
  EXPECT_EQ(state().revision(), 2u);
  EXPECT_TRUE(state().route("web", "billing").has_value());
}

// --- sync grace ------------------------------------------------------------------------------

TEST_F(StateTest, NotSyncedUntilTwiceTheLargestTtlHasPassed) {
  EXPECT_FALSE(state().synced());
  EXPECT_FALSE(state().snapshot().synced);
  clock_.advance(120s - 1ms);  // 2 × max_ttl (60 s)
  EXPECT_FALSE(state().synced());
  clock_.advance(1ms);
  EXPECT_TRUE(state().synced());
  EXPECT_TRUE(state().snapshot().synced);
}

TEST_F(StateTest, DefaultGraceFollowsTheConfiguredMaxTtl) {
  StateOptions options;
  options.max_ttl = 30s;
  start(options);
  clock_.advance(60s - 1ms);
  EXPECT_FALSE(state().synced());
  clock_.advance(1ms);
  EXPECT_TRUE(state().synced());
}

TEST_F(StateTest, ExplicitSyncGraceWins) {
  StateOptions options;
  options.sync_grace = 5s;
  start(options);
  EXPECT_FALSE(state().synced());
  clock_.advance(5s - 1ms);
  EXPECT_FALSE(state().synced());
  clock_.advance(1ms);
  EXPECT_TRUE(state().synced());
}

// --- reads -----------------------------------------------------------------------------------

TEST_F(StateTest, SnapshotHoldsEverythingWithItsRevisionAndEpoch) {
  auto id = grant();
  put(instance("web", "b", id));
  put(instance("api", "x", id));
  put(instance("web", "a", id));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web"))));
  clock_.advance(600s);

  auto s = state().snapshot();
  EXPECT_EQ(s.revision, 5u);
  EXPECT_EQ(s.revision, state().revision());
  EXPECT_EQ(s.epoch, "epoch-1");
  EXPECT_TRUE(s.synced);
  ASSERT_EQ(s.instances.size(), 3u);
  // Service order, then id order.
  EXPECT_EQ(s.instances[0].service, "api");
  EXPECT_EQ(s.instances[1].id, "a");
  EXPECT_EQ(s.instances[2].id, "b");
  EXPECT_EQ(s.instances[2].revision, 2u);
  EXPECT_EQ(s.instances[1].revision, 4u);
  EXPECT_EQ(s.instances[0].lease, id);
  ASSERT_EQ(s.routes.size(), 1u);
  EXPECT_EQ(s.routes[0].service, "web");
  EXPECT_EQ(s.routes[0].revision, 5u);
  EXPECT_EQ(s.routes[0].targets, route("web").targets);
}

TEST_F(StateTest, EmptySnapshotStartsAtRevisionOne) {
  auto s = state().snapshot();
  EXPECT_EQ(s.revision, 1u);
  EXPECT_EQ(s.epoch, "epoch-1");
  EXPECT_THAT(s.instances, IsEmpty());
  EXPECT_THAT(s.routes, IsEmpty());
  // A watcher that read this snapshot resumes from its revision without a 410.
  auto resumed = state().history().since(s.revision);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_THAT(*resumed, IsEmpty());
}

TEST_F(StateTest, ServiceNamesIncludeServicesThatOnlyHaveRoutes) {
  auto id = grant();
  put(instance("web", "a", id));
  put(instance("api", "x", id));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("web"))));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("billing", "shop"))));
  ASSERT_TRUE(std::holds_alternative<Done>(state().put_route(route("billing"))));
  EXPECT_THAT(state().service_names(), ElementsAre("api", "billing", "web"));
  EXPECT_THAT(state().routes_of(std::string("billing")).size(), 2u);
  EXPECT_THAT(state().routes_of(std::nullopt).size(), 3u);
}

// docs/security.md#leases-belong-to-their-token: a lease is its granting caller's; another
// caller may not renew or revoke it, bind instances to it, or take over or delete an instance
// it holds. An admin may; a refused change publishes nothing.
TEST_F(StateTest, LeaseBelongsToTheCallerThatGrantedIt) {
  const Caller a{"vm101", false, "digest-a"}, b{"vm102", false, "digest-b"},
      admin{"admin", true, "admin"};
  auto granted = state().grant(10, "host-a", a);
  ASSERT_TRUE(std::holds_alternative<model::Lease>(granted));
  const std::string lease = std::get<model::Lease>(granted).id;
  const std::string other = std::get<model::Lease>(state().grant(10, "host-b", b)).id;
  ASSERT_TRUE(
      std::holds_alternative<Done>(state().put_instance(instance("emitter", "a1", lease), a)));
  const auto revision = state().revision();
  const std::string refused = "token vm102 may not use lease " + lease + ": another token holds it";
  const std::string taken = "token vm102 may not use instance emitter/a1: another token holds it";
  auto message = [](const Outcome<>& out) {
    auto* e = std::get_if<ApiError>(&out);
    return e ? std::to_string(e->status) + " " + e->message : std::string("done");
  };
  EXPECT_EQ(message(state().keepalive(lease, b)), "403 " + refused);
  EXPECT_EQ(message(state().revoke(lease, b)), "403 " + refused);
  EXPECT_EQ(message(state().put_instance(instance("emitter", "b1", lease), b)), "403 " + refused);
  EXPECT_EQ(message(state().put_instance(instance("emitter", "a1", other), b)), "403 " + taken);
  EXPECT_EQ(message(state().delete_instance("emitter", "a1", b)), "403 " + taken);
  // A token made anew under a name another held has another key: it holds nothing of the old.
  const Caller reborn{"vm101", false, "digest-a2"};
  EXPECT_EQ(message(state().keepalive(lease, reborn)),
            "403 token vm101 may not use lease " + lease + ": another token holds it");
  EXPECT_EQ(
      message(state().keepalive(lease, Caller{})),
      "403 a request without a token may not use lease " + lease + ": another token holds it");
  EXPECT_EQ(state().revision(), revision);
  EXPECT_EQ(state().instance_count(), 1u);

  EXPECT_EQ(message(state().keepalive(lease, a)), "done");
  EXPECT_EQ(message(state().keepalive(lease, admin)), "done");
  EXPECT_EQ(message(state().delete_instance("emitter", "a1", admin)), "done");
  EXPECT_EQ(message(state().revoke(lease, a)), "done");
}

}  // namespace
}  // namespace dstack::directory
