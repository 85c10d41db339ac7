// SPDX-License-Identifier: Apache-2.0
// The registry contract: the same cases against the dstack directory and against a real etcd,
// through the Registry interface that watson, sherlock and dw use, so that neither backend can
// drift from what those callers rely on: lease life, instances bound to leases, durable routes,
// snapshots at one revision, watches that carry every change in order, and the error kinds
// (not_found, refused, stale) callers act on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "directory_fixture.hpp"
#include "etcd_fixture.hpp"
#include "registry_runner.hpp"

namespace dstack::test {
namespace {

using model::Event;
using model::Health;
using model::Instance;
using model::Route;

enum class Backend { directory, etcd };

std::string name_of(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::directory ? "directory" : "etcd";
}

// One etcd for the whole program; each test has a prefix of its own.
EtcdCluster& shared_etcd() {
  static EtcdCluster cluster(1);
  static const bool started = (cluster.start(), true);
  (void)started;
  return cluster;
}

Instance instance(const std::string& service, const std::string& id, const std::string& lease) {
  Instance in;
  in.service = service;
  in.id = id;
  in.lease = lease;
  in.url = "http://127.0.0.1:9001/" + service;
  return in;
}

Route route(const std::string& service, const std::string& consumer,
            std::vector<model::RouteTarget> targets) {
  Route r;
  r.service = service;
  r.consumer = consumer;
  r.targets = std::move(targets);
  return r;
}

// Compares what a backend gives back with what was put, leaving out the revision it assigns.
template <class T>
T without_revision(T value) {
  value.revision = 0;
  return value;
}

class RegistryContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string address;
    if (GetParam() == Backend::directory) {
      DirectoryOptions o;
      o.config = "sync_grace: 1ms\nlease: {min_ttl: 1s, default_ttl: 10s, max_ttl: 60s}\n";
      directory_ = std::make_unique<Directory>(o);
      directory_->start();
      address = "http://127.0.0.1:" + std::to_string(directory_->port());
    } else {
      const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
      std::string prefix = std::string("/contract/") + info->name();
      std::replace(prefix.begin(), prefix.end(), '/', '_');
      prefix.front() = '/';
      address = shared_etcd().address(prefix);
    }
    reg_ = std::make_unique<RegistryRunner>(address);
  }

  RegistryRunner& reg() { return *reg_; }

  std::string lease(std::chrono::seconds ttl = std::chrono::seconds(30)) {
    auto l = reg().run(reg()->grant_lease(ttl, "vm101"));
    EXPECT_TRUE(l) << l.error().message;
    return l ? l->id : std::string();
  }
  void put(const Instance& in) {
    auto st = reg().run(reg()->put_instance(in));
    ASSERT_TRUE(st) << st.error().message;
  }
  void put(const Route& r) {
    auto st = reg().run(reg()->put_route(r));
    ASSERT_TRUE(st) << st.error().message;
  }
  // The next `n` events of a watch, failing the test on an error.
  std::vector<Event> events(registry::Watch& w, std::size_t n) {
    std::vector<Event> out;
    while (out.size() < n) {
      auto e = reg().run(w.next());
      if (!e) {
        ADD_FAILURE() << "watch: " << e.error().message;
        break;
      }
      out.push_back(*e);
    }
    return out;
  }

  std::unique_ptr<Directory> directory_;
  std::unique_ptr<RegistryRunner> reg_;
};

TEST_P(RegistryContract, HealthNamesAnEpochAndTheCurrentRevision) {
  auto before = reg().run(reg()->health());
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(before->status, "ok");
  EXPECT_FALSE(before->epoch.empty());
  EXPECT_TRUE(before->synced);
  put(route("emitter", "", {{"1", 100}}));
  auto after = reg().run(reg()->health());
  ASSERT_TRUE(after);
  EXPECT_GT(after->revision, before->revision);
  EXPECT_EQ(after->epoch, before->epoch);
}

TEST_P(RegistryContract, ALeaseLivesByKeepalivesAndEndsWhenRevoked) {
  auto granted = reg().run(reg()->grant_lease(std::chrono::seconds(10), "vm101"));
  ASSERT_TRUE(granted) << granted.error().message;
  EXPECT_FALSE(granted->id.empty());
  EXPECT_EQ(granted->ttl, std::chrono::seconds(10));
  EXPECT_TRUE(reg().run(reg()->keepalive(granted->id)));
  EXPECT_TRUE(reg().run(reg()->revoke(granted->id)));
  auto again = reg().run(reg()->keepalive(granted->id));
  EXPECT_EQ(failure_kind(again), ErrorKind::not_found);
  auto revoked = reg().run(reg()->revoke(granted->id));
  EXPECT_EQ(failure_kind(revoked), ErrorKind::not_found);
}

TEST_P(RegistryContract, AnUnknownLeaseIsNotFound) {
  auto kept = reg().run(reg()->keepalive("4242424242"));
  EXPECT_EQ(failure_kind(kept), ErrorKind::not_found);
  auto put = reg().run(reg()->put_instance(instance("emitter", "vm101", "4242424242")));
  EXPECT_EQ(failure_kind(put), ErrorKind::not_found);
  auto svc = reg().run(reg()->service("emitter"));
  EXPECT_EQ(failure_kind(svc), ErrorKind::not_found);
}

TEST_P(RegistryContract, AnInstanceComesBackAsItWasPut) {
  auto in = instance("emitter", "vm101", lease());
  in.version = "2";
  in.weight = 50;
  in.health = Health::warning;
  in.tags = {"canary", "eu-west"};
  in.meta = {{"zone", "b"}, {"owner", "team-x"}};
  put(in);
  auto svc = reg().run(reg()->service("emitter"));
  ASSERT_TRUE(svc) << svc.error().message;
  ASSERT_EQ(svc->instances.size(), 1u);
  EXPECT_GT(svc->instances[0].revision, 0u);
  EXPECT_EQ(without_revision(svc->instances[0]), in);
  EXPECT_TRUE(svc->routes.empty());

  auto list = reg().run(reg()->services());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "emitter");
  EXPECT_EQ((*list)[0].instances, 1u);
  EXPECT_EQ((*list)[0].routable, 1u);  // warning still takes traffic
  EXPECT_EQ((*list)[0].routes, 0u);
}

TEST_P(RegistryContract, APutReplacesTheInstance) {
  auto l = lease();
  auto in = instance("emitter", "vm101", l);
  put(in);
  in.weight = 0;
  in.health = Health::maintenance;
  put(in);
  auto svc = reg().run(reg()->service("emitter"));
  ASSERT_TRUE(svc);
  ASSERT_EQ(svc->instances.size(), 1u);
  EXPECT_EQ(without_revision(svc->instances[0]), in);
  auto list = reg().run(reg()->services());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].routable, 0u);
}

TEST_P(RegistryContract, InvalidInstancesAreRefusedAndNothingIsStored) {
  auto l = lease();
  for (std::string url : {"ftp://127.0.0.1/x", "http://127.0.0.1:1/x\n  server evil 10.0.0.1:80",
                          "http://127.0.0.1:1/x y"}) {
    auto in = instance("emitter", "vm101", l);
    in.url = url;
    auto st = reg().run(reg()->put_instance(in));
    ASSERT_EQ(failure_kind(st), ErrorKind::refused) << url << url;
    EXPECT_THAT(st.error().message, ::testing::HasSubstr("url")) << url;
  }
  auto bad_name = instance("Emitter!", "vm101", l);
  auto st = reg().run(reg()->put_instance(bad_name));
  EXPECT_EQ(failure_kind(st), ErrorKind::refused);
  auto list = reg().run(reg()->services());
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST_P(RegistryContract, ADeletedInstanceIsGoneAndASecondDeleteIsNotFound) {
  auto l = lease();
  put(instance("emitter", "vm101", l));
  put(instance("emitter", "vm102", l));
  EXPECT_TRUE(reg().run(reg()->delete_instance("emitter", "vm101")));
  auto svc = reg().run(reg()->service("emitter"));
  ASSERT_TRUE(svc);
  ASSERT_EQ(svc->instances.size(), 1u);
  EXPECT_EQ(svc->instances[0].id, "vm102");
  auto again = reg().run(reg()->delete_instance("emitter", "vm101"));
  EXPECT_EQ(failure_kind(again), ErrorKind::not_found);
}

TEST_P(RegistryContract, RevokingALeaseTakesItsInstancesWithIt) {
  auto mine = lease(), other = lease();
  put(instance("emitter", "vm101", mine));
  put(instance("emitter", "vm102", mine));
  put(instance("transform", "t1", mine));
  put(instance("emitter", "vm103", other));
  ASSERT_TRUE(reg().run(reg()->revoke(mine)));
  auto svc = reg().run(reg()->service("emitter"));
  ASSERT_TRUE(svc);
  ASSERT_EQ(svc->instances.size(), 1u);
  EXPECT_EQ(svc->instances[0].id, "vm103");
  auto gone = reg().run(reg()->service("transform"));
  EXPECT_EQ(failure_kind(gone), ErrorKind::not_found);
}

TEST_P(RegistryContract, AnExpiredLeaseTakesItsInstancesWithIt) {
  auto short_lived = lease(std::chrono::seconds(2));
  put(instance("emitter", "vm101", short_lived));
  // Expiry is TTL + at most a second or so on either backend; nothing keeps this lease alive.
  const bool expired = poll_until(
      10s,
      [&] {
        auto svc = reg().run(reg()->service("emitter"));
        return failure_kind(svc) == ErrorKind::not_found;
      },
      200ms);
  EXPECT_TRUE(expired);
  auto kept = reg().run(reg()->keepalive(short_lived));
  EXPECT_EQ(failure_kind(kept), ErrorKind::not_found);
}

TEST_P(RegistryContract, RoutesForEveryoneAndForOneConsumer) {
  auto everyone = route("emitter", "", {{"1", 90}, {"2", 10}});
  auto monolith = route("emitter", "monolith", {{"2", 100}});
  put(everyone);
  put(monolith);
  put(route("transform", "", {{"1", 100}}));

  auto got = reg().run(reg()->route("emitter", ""));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(without_revision(*got), everyone);
  EXPECT_GT(got->revision, 0u);
  auto theirs = reg().run(reg()->route("emitter", "monolith"));
  ASSERT_TRUE(theirs);
  EXPECT_EQ(without_revision(*theirs), monolith);

  auto of_emitter = reg().run(reg()->routes(std::string("emitter")));
  ASSERT_TRUE(of_emitter);
  ASSERT_EQ(of_emitter->size(), 2u);
  EXPECT_EQ((*of_emitter)[0].consumer, "");
  EXPECT_EQ((*of_emitter)[1].consumer, "monolith");
  auto all = reg().run(reg()->routes(std::nullopt));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);

  // A service known only by its routes is still a service.
  auto list = reg().run(reg()->services());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "emitter");
  EXPECT_EQ((*list)[0].routes, 2u);
  EXPECT_EQ((*list)[0].instances, 0u);
  auto svc = reg().run(reg()->service("emitter"));
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->routes.size(), 2u);

  ASSERT_TRUE(reg().run(reg()->delete_route("emitter", "monolith")));
  auto gone = reg().run(reg()->route("emitter", "monolith"));
  EXPECT_EQ(failure_kind(gone), ErrorKind::not_found);
  auto again = reg().run(reg()->delete_route("emitter", "monolith"));
  EXPECT_EQ(failure_kind(again), ErrorKind::not_found);
  EXPECT_TRUE(reg().run(reg()->route("emitter", "")));  // the route for everyone stays
}

// The directory keeps what a route's last change replaced and puts it back; etcd keeps no such
// thing and says so (docs/etcd.md).
TEST_P(RegistryContract, ARollbackPutsBackThePreviousRouteOrIsRefusedOnEtcd) {
  put(route("emitter", "", {{"2", 10}}));
  put(route("emitter", "", {{"2", 50}}));
  auto back = reg().run(reg()->rollback_route("emitter", ""));
  if (GetParam() == Backend::etcd) {
    EXPECT_EQ(failure_kind(back), ErrorKind::refused);
    EXPECT_THAT(back.error().message, ::testing::HasSubstr("roll back by setting the route again"));
    return;
  }
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->targets, (std::vector<model::RouteTarget>{{"2", 10}}));
  put(route("emitter", "monolith", {{"2", 100}}));
  auto none = reg().run(reg()->rollback_route("emitter", "monolith"));  // its first: none
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(failure_kind(reg().run(reg()->route("emitter", "monolith"))), ErrorKind::not_found);
  EXPECT_EQ(failure_kind(reg().run(reg()->rollback_route("emitter", "monolith"))),
            ErrorKind::not_found);
}

TEST_P(RegistryContract, InvalidRoutesAreRefused) {
  for (auto bad :
       {route("emitter", "", {{"1", 60}, {"2", 50}}), route("emitter", "", {}),
        route("emitter", "", {{"1", 50}, {"1", 50}}), route("emitter", "", {{"1 ; evil", 100}})}) {
    auto st = reg().run(reg()->put_route(bad));
    EXPECT_EQ(failure_kind(st), ErrorKind::refused) << (st ? std::string() : st.error().message);
  }
  auto none = reg().run(reg()->routes(std::nullopt));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// Traffic policies (docs/api.md#traffic-policies): durable operator intent like routes, one per
// service, in the snapshot and the watch stream, refused when invalid.
TEST_P(RegistryContract, TrafficPoliciesAreStoredWatchedAndValidated) {
  auto snap = reg().run(reg()->snapshot());
  ASSERT_TRUE(snap);
  auto w = reg().run(reg()->watch(snap->revision, snap->epoch));
  ASSERT_TRUE(w) << w.error().message;

  model::TrafficPolicy p;
  p.service = "emitter";
  p.retries = 2;
  p.retry_on = {"conn-failure", "503"};
  p.timeout = std::chrono::seconds(5);
  p.max_conn = 100;
  p.queue_timeout = std::chrono::seconds(1);
  p.eject_5xx = 5;
  p.balance = model::Balance{model::Balance::Kind::header, "X-User"};
  ASSERT_TRUE(reg().run(reg()->put_policy(p)));
  model::TrafficPolicy other;
  other.service = "transform";
  other.balance = model::Balance{model::Balance::Kind::leastconn, ""};
  ASSERT_TRUE(reg().run(reg()->put_policy(other)));

  auto got = reg().run(reg()->policy("emitter"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_GT(got->revision, 0u);
  auto stored = *got;
  stored.revision = 0;
  EXPECT_EQ(stored, p);
  auto all = reg().run(reg()->policies());
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].service, "emitter");
  EXPECT_EQ((*all)[1].service, "transform");
  auto in_snapshot = reg().run(reg()->snapshot());
  ASSERT_TRUE(in_snapshot);
  EXPECT_EQ(in_snapshot->policies, *all);

  ASSERT_TRUE(reg().run(reg()->delete_policy("transform")));
  EXPECT_EQ(failure_kind(reg().run(reg()->policy("transform"))), ErrorKind::not_found);
  EXPECT_EQ(failure_kind(reg().run(reg()->delete_policy("transform"))), ErrorKind::not_found);

  auto changes = events(**w, 3);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].type, Event::Type::policy_put);
  EXPECT_EQ(changes[0].policy, *got);
  EXPECT_EQ(changes[1].type, Event::Type::policy_put);
  EXPECT_EQ(changes[1].service, "transform");
  EXPECT_EQ(changes[2].type, Event::Type::policy_delete);
  EXPECT_EQ(changes[2].service, "transform");

  model::TrafficPolicy bad = p;
  bad.retries = 11;
  EXPECT_EQ(failure_kind(reg().run(reg()->put_policy(bad))), ErrorKind::refused);
  bad = p;
  bad.balance->name = "X-User if 1";
  EXPECT_EQ(failure_kind(reg().run(reg()->put_policy(bad))), ErrorKind::refused);
  auto unchanged = reg().run(reg()->policy("emitter"));
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(*unchanged, *got);
}

TEST_P(RegistryContract, BadServiceNamesAreRefusedAndUnknownOnesNotFound) {
  auto bad = reg().run(reg()->service("Not A Name"));
  EXPECT_EQ(failure_kind(bad), ErrorKind::refused);
  auto unknown = reg().run(reg()->service("nobody"));
  EXPECT_EQ(failure_kind(unknown), ErrorKind::not_found);
}

TEST_P(RegistryContract, ASnapshotHoldsEverythingAtOneRevisionInOrder) {
  auto l = lease();
  put(instance("transform", "t1", l));
  put(instance("emitter", "vm102", l));
  put(instance("emitter", "vm101", l));
  put(instance("emitter.internal", "a", l));  // '.' sorts before '/' in etcd's keys
  put(route("emitter", "monolith", {{"2", 100}}));
  put(route("emitter", "", {{"1", 100}}));
  auto health = reg().run(reg()->health());
  auto snap = reg().run(reg()->snapshot());
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_TRUE(health);
  EXPECT_EQ(snap->revision, health->revision);
  EXPECT_EQ(snap->epoch, health->epoch);
  EXPECT_TRUE(snap->synced);
  std::vector<std::pair<std::string, std::string>> ids;
  for (auto& in : snap->instances) ids.emplace_back(in.service, in.id);
  EXPECT_THAT(ids,
              ::testing::ElementsAre(std::pair<std::string, std::string>{"emitter", "vm101"},
                                     std::pair<std::string, std::string>{"emitter", "vm102"},
                                     std::pair<std::string, std::string>{"emitter.internal", "a"},
                                     std::pair<std::string, std::string>{"transform", "t1"}));
  ASSERT_EQ(snap->routes.size(), 2u);
  EXPECT_EQ(snap->routes[0].consumer, "");
  EXPECT_EQ(snap->routes[1].consumer, "monolith");
  for (auto& in : snap->instances) EXPECT_LE(in.revision, snap->revision);
}

TEST_P(RegistryContract, AWatchFromASnapshotCarriesEveryChangeInOrder) {
  auto l = lease();
  put(instance("emitter", "vm101", l));
  auto snap = reg().run(reg()->snapshot());
  ASSERT_TRUE(snap);
  auto w = reg().run(reg()->watch(snap->revision, snap->epoch));
  ASSERT_TRUE(w) << w.error().message;

  auto added = instance("emitter", "vm102", l);
  put(added);
  auto r = route("emitter", "", {{"1", 100}});
  put(r);
  auto changed = instance("emitter", "vm101", l);
  changed.weight = 10;
  put(changed);
  ASSERT_TRUE(reg().run(reg()->delete_instance("emitter", "vm102")));
  ASSERT_TRUE(reg().run(reg()->delete_route("emitter", "")));

  auto got = events(**w, 5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].type, Event::Type::instance_put);
  EXPECT_EQ(without_revision(got[0].instance), added);
  EXPECT_EQ(got[1].type, Event::Type::route_put);
  EXPECT_EQ(without_revision(got[1].route), r);
  EXPECT_EQ(got[2].type, Event::Type::instance_put);
  EXPECT_EQ(got[2].instance.weight, 10);
  EXPECT_EQ(got[3].type, Event::Type::instance_delete);
  EXPECT_EQ(got[3].service, "emitter");
  EXPECT_EQ(got[3].id, "vm102");
  EXPECT_EQ(got[4].type, Event::Type::route_delete);
  EXPECT_EQ(got[4].service, "emitter");
  EXPECT_EQ(got[4].consumer, "");
  std::uint64_t last = snap->revision;
  for (auto& e : got) {
    EXPECT_GT(e.revision, last);
    last = e.revision;
  }
}

TEST_P(RegistryContract, AWatchSeesARevokedLeasesInstancesGo) {
  auto l = lease();
  put(instance("emitter", "vm101", l));
  put(instance("emitter", "vm102", l));
  auto snap = reg().run(reg()->snapshot());
  ASSERT_TRUE(snap);
  auto w = reg().run(reg()->watch(snap->revision, snap->epoch));
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE(reg().run(reg()->revoke(l)));
  std::set<std::string> gone;
  for (auto& e : events(**w, 2)) {
    EXPECT_EQ(e.type, Event::Type::instance_delete);
    gone.insert(e.id);
  }
  EXPECT_EQ(gone, (std::set<std::string>{"vm101", "vm102"}));
}

TEST_P(RegistryContract, AWatchFromAnotherEpochIsStale) {
  auto snap = reg().run(reg()->snapshot());
  ASSERT_TRUE(snap);
  // Stale may be said when the watch opens or as its first answer; callers handle both.
  auto w = reg().run(reg()->watch(snap->revision, "not-this-epoch"));
  if (w) {
    auto e = reg().run((*w)->next());
    EXPECT_EQ(failure_kind(e), ErrorKind::stale) << (e ? std::string() : e.error().message);
  } else {
    EXPECT_EQ(w.error().kind, ErrorKind::stale) << w.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, RegistryContract,
                         ::testing::Values(Backend::directory, Backend::etcd), name_of);

}  // namespace
}  // namespace dstack::test
