// SPDX-License-Identifier: Apache-2.0
// sherlock following an etcd cluster (docs/etcd.md) through what clusters do in production: the
// member it watches dies, the leader dies, history is compacted while sherlock is not watching,
// and someone writes a value by hand that the directory would have refused. Real etcd members,
// the real sherlock, the real HAProxy, loopback test services as the instances.

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <sstream>

#include "etcd_fixture.hpp"
#include "harness.hpp"
#include "sherlock_fixture.hpp"
#include "sherlock_probes.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kPrefix = "/dstack";

std::string instance_key(const std::string& service, const std::string& id) {
  return kPrefix + "/instances/" + service + "/" + id;
}

// What a watson writes: the body of the directory's PUT instance, bound to its lease.
json instance_body(const std::string& lease, const std::string& url, int weight,
                   const std::string& version) {
  return json{{"lease", lease},        {"url", url},          {"version", version},
              {"weight", weight},      {"health", "passing"}, {"tags", json::array()},
              {"meta", json::object()}};
}

std::string tail(const std::string& text, std::size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// Watchers a member serves now (-1: it does not answer). sherlock's is the only watch in these
// tests, so this tells which member sherlock follows.
int watchers(std::uint16_t port) {
  auto r = http(port, "GET", "/metrics", "", {}, 2s);
  if (r.status != 200) return -1;
  std::istringstream in(r.body);
  const std::string name = "etcd_debugging_mvcc_watcher_total ";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name, 0) == 0) return std::stoi(line.substr(name.size()));
  return -1;
}

// Servers exactly `ids`, each taking traffic.
std::function<bool(const Servers&)> exactly(std::vector<std::string> ids) {
  return [ids](const Servers& s) {
    if (s.size() != ids.size()) return false;
    for (const auto& id : ids)
      if (!s.count(id) || s.at(id) <= 0) return false;
    return true;
  };
}

struct SherlockEtcd : ::testing::Test {
  std::unique_ptr<EtcdCluster> etcd;
  std::unique_ptr<Sherlock> sherlock;  // after etcd: stopped first
  std::string lease;

  // A cluster of `members`, and one lease for the test's instances, as one watson holds.
  void start_etcd(int members, int ttl = 60) {
    etcd = std::make_unique<EtcdCluster>(members);
    etcd->start();
    lease = etcd->call("/v3/lease/grant", {{"TTL", std::to_string(ttl)}})["ID"].get<std::string>();
  }

  // Any value under any key, bound to `with_lease` unless empty: a watson's put or a hand edit.
  void put_raw(const std::string& key, const std::string& value,
               const std::string& with_lease = "") {
    json body{{"key", EtcdCluster::b64(key)}, {"value", EtcdCluster::b64(value)}};
    if (!with_lease.empty()) body["lease"] = with_lease;
    etcd->call("/v3/kv/put", body);
  }
  void put(const std::string& id, const TestService& s, int weight = 100,
           const std::string& version = "1", const std::string& service = "emitter") {
    put_raw(instance_key(service, id),
            instance_body(lease, s.url("/" + service), weight, version).dump(), lease);
  }
  void remove(const std::string& id, const std::string& service = "emitter") {
    etcd->remove(instance_key(service, id));
  }

  // sherlock following the whole cluster with member `first` first in its address: the member it
  // reads and watches until that one fails.
  void start_sherlock(int first = 0) {
    std::string address = "etcd://";
    for (int k = 0; k < etcd->size(); ++k) {
      const int m = (first + k) % etcd->size();
      address += (k ? "," : "") + std::string("127.0.0.1:") + std::to_string(etcd->client_port(m));
    }
    SherlockOptions o;
    o.directories = {address + kPrefix};
    sherlock = std::make_unique<Sherlock>(o);
    sherlock->start();
  }

  // A member that does not lead: its death leaves the cluster writable at once.
  int follower() {
    const int leader = etcd->leader();
    return leader == 0 ? 1 : 0;
  }

  // The live member serving sherlock's watch, or -1.
  int watched_member() {
    for (int i = 0; i < etcd->size(); ++i)
      if (etcd->running(i) && watchers(etcd->client_port(i)) > 0) return i;
    return -1;
  }

  // Waits until sherlock's status, with no reload pending, shows `service` with servers that
  // satisfy `ok`; what it showed last otherwise.
  bool wait_servers(const std::string& service, const std::function<bool(const Servers&)>& ok,
                    Clock::duration timeout = 20s) {
    json last;
    const bool done = poll_until(timeout, [&] {
      last = sherlock->status();
      return last.is_object() && last["haproxy"]["reload_pending"] == false &&
             last["services"].contains(service) && ok(servers_of(last, service));
    });
    if (!done)
      ADD_FAILURE() << "sherlock status after waiting for " << service << ":\n"
                    << last.dump(2) << "\nsherlock stderr:\n"
                    << tail(sherlock->stderr_text());
    return done;
  }
  // 3 members, instances a and b, and sherlock serving both while it watches a follower (whose
  // death leaves the cluster writable at once). The member it watches, or -1 (test failed).
  int follow_a_follower(const TestService& a, const TestService& b) {
    start_etcd(3);
    put("a", a);
    put("b", b);
    const int watched = follower();
    start_sherlock(watched);
    if (!wait_servers("emitter", exactly({"a", "b"}))) return -1;
    if (!poll_until(10s, [&] { return watched_member() == watched; })) {
      ADD_FAILURE() << "sherlock watches member " << watched_member() << ", not " << watched;
      return -1;
    }
    return watched;
  }

  bool wait_new_leader(int old) {
    return poll_until(
        20s,
        [&] {
          const int l = etcd->leader();
          return l >= 0 && l != old;
        },
        50ms);
  }
};

// The member sherlock watches dies. sherlock goes on from the next member at the revision it had
// reached, so every change made meanwhile arrives as an event: none missed, none twice, no
// re-read of the whole directory.
TEST_F(SherlockEtcd, WatchedMemberDiesAndNoEventIsMissed) {
  TestService a, b, c;
  const int watched = follow_a_follower(a, b);
  ASSERT_GE(watched, 0);
  const auto before = sherlock->status()["directory"];

  etcd->kill(watched);
  // Right away, while sherlock's stream is cut: a new instance, a weight change, one gone.
  put("c", c);
  put("b", b, 50);
  remove("a");
  const auto a_requests = a.requests();
  ASSERT_TRUE(wait_servers("emitter", [](const Servers& s) {
    return s.size() == 2 && s.count("b") && s.count("c") && s.at("b") > 0 &&
           s.at("c") == 2 * s.at("b");  // c's weight 100 against b's 50
  }));

  const auto after = sherlock->status()["directory"];
  EXPECT_EQ(after["events"].get<int>() - before["events"].get<int>(), 3) << after.dump(2);
  EXPECT_EQ(after["snapshots"], before["snapshots"]) << "the watch resumed, nothing re-read";
  EXPECT_EQ(after["failovers"], before["failovers"]) << "a dead member is not a dead directory";
  EXPECT_EQ(after["connected"], true);
  EXPECT_TRUE(poll_until(10s, [&] { return watched_member() >= 0; }))
      << "sherlock watches no live member";

  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(a.requests(), a_requests);
  EXPECT_GE(c.requests(), 5u);
}

// The leader dies while sherlock watches it; the instances' lease is kept alive by its owner
// throughout, as watson does. While the cluster elects another leader, sherlock keeps every
// instance in HAProxy (fail static), and then it follows the cluster's changes again.
TEST_F(SherlockEtcd, LeaderDiesAndNoInstanceFlaps) {
  start_etcd(3, 5);  // a short TTL: the lease lives only because it is kept alive
  LeaseKeeper keeper(*etcd, lease);
  TestService a, b, c, d;
  put("a", a);
  put("b", b);
  put("c", c);
  const int leader = etcd->leader();
  ASSERT_GE(leader, 0);
  start_sherlock(leader);
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b", "c"})));
  ASSERT_TRUE(poll_until(10s, [&] { return watched_member() == leader; }))
      << "sherlock watches member " << watched_member() << ", not the leader " << leader;

  ServerCountMonitor monitor(*sherlock, "emitter");
  etcd->kill(leader);
  ASSERT_TRUE(wait_new_leader(leader)) << "no new leader";
  const auto renewals = keeper.renewals();
  put("d", d);
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b", "c", "d"}), 30s));
  // The lease renewed under the new leader too: its instances stay for good, not by luck.
  ASSERT_TRUE(poll_until(
      20s, [&] { return keeper.renewals() >= renewals + 2; }, 50ms));
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b", "c", "d"})));
  monitor.stop();

  EXPECT_GE(monitor.samples(), 20u);
  EXPECT_GE(monitor.min(), 3u) << "an instance flapped out; sherlock said:\n" << monitor.at_min();
  EXPECT_EQ(sherlock->status()["directory"]["connected"], true);
  EXPECT_GE(watched_member(), 0);
}

// An application calling through sherlock's proxy sees no failed request while the member
// sherlock watches dies and then the leader does; the instances it reaches follow the changes.
TEST_F(SherlockEtcd, ClientsSeeNoFailureThroughMemberAndLeaderDeaths) {
  TestService a, b, c, d;
  const int watched = follow_a_follower(a, b);
  ASSERT_GE(watched, 0);

  ClientLoop clients(sherlock->proxy_port(), "/emitter/");
  ASSERT_TRUE(poll_until(10s, [&] { return clients.ok() >= 20; }));

  etcd->kill(watched);
  put("c", c);
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b", "c"})));
  etcd->restart(watched);  // back first: two dead of three would leave no quorum

  const int leader = etcd->leader();
  ASSERT_GE(leader, 0);
  etcd->kill(leader);
  ASSERT_TRUE(wait_new_leader(leader)) << "no new leader";
  put("d", d);
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b", "c", "d"}), 30s));

  const auto seen = clients.ok();
  ASSERT_TRUE(poll_until(20s, [&] { return clients.ok() >= seen + 40 && d.requests() > 0; }));
  clients.stop();
  EXPECT_EQ(clients.failed(), 0u) << "first failure: " << clients.first_failure();
  EXPECT_GT(c.requests(), 0u);
}

// A catch-up of more than 1,000 revisions comes in several answers, each of whose headers names
// the newest revision. The stream is cut after the first answer: sherlock must go on from the
// last event it got, not from that header, or the rest of the catch-up is skipped for good.
TEST_F(SherlockEtcd, AStreamCutDuringALongCatchUpMissesNothing) {
  TestService a, b, c;
  const int watched = follow_a_follower(a, b);
  ASSERT_GE(watched, 0);
  const auto events_before = sherlock->status()["directory"]["events"].get<int>();

  // sherlock away and its member down while 1,202 changes are made elsewhere.
  sherlock->process().kill(SIGSTOP);
  etcd->kill(watched);
  for (int i = 0; i < 1200; ++i) put("b", b, 1 + i % 200);
  put("b", b, 50);
  put("c", c);
  etcd->restart(watched);
  sherlock->process().kill(SIGCONT);
  // The first answer of the catch-up has arrived: cut the stream before the next one.
  ASSERT_TRUE(poll_until(
      20s,
      [&] {
        auto st = sherlock->status();
        return st.is_object() && st["directory"]["events"].get<int>() > events_before;
      },
      1ms));
  etcd->kill(watched);

  ASSERT_TRUE(wait_servers("emitter", [](const Servers& s) {
    return s.size() == 3 && s.count("c") && s.at("c") == 2 * s.at("b");
  }));
  EXPECT_EQ(sherlock->status()["directory"]["revision"].get<std::uint64_t>(), etcd->revision());
}

// sherlock cannot watch (it is stopped, and the member it watched dies meanwhile) while the
// directory changes and etcd compacts its history. The revision sherlock resumes from is gone:
// it re-reads everything and converges on exactly what etcd holds.
TEST_F(SherlockEtcd, CompactionDuringAWatchOutageMeansAFreshSnapshot) {
  TestService a, b, c, e, t;
  const int watched = follow_a_follower(a, b);
  ASSERT_GE(watched, 0);
  const auto snapshots = sherlock->status()["directory"]["snapshots"].get<int>();

  sherlock->process().kill(SIGSTOP);
  // SIGCONT also when an assertion below ends the test early.
  struct Resume {
    Sherlock& s;
    ~Resume() { s.process().kill(SIGCONT); }
  } resume{*sherlock};
  etcd->kill(watched);  // the stream sherlock will find cut when it runs again
  put("c", c, 100, "2");
  put("e", e);
  remove("e");  // came and went: must never show
  remove("a");
  put_raw(kPrefix + "/routes/emitter", R"({"targets":[{"version":"2","weight":10}]})");
  put("t", t, 100, "1", "transform");  // a new service
  const auto revision = etcd->revision();
  etcd->compact(revision);
  sherlock->process().kill(SIGCONT);

  // v2 (c) gets its 10 %, b the rest; a and e are gone; transform is served.
  ASSERT_TRUE(wait_servers("emitter", [](const Servers& s) {
    return s.size() == 2 && s.count("b") && s.count("c") && s.at("c") > 0 &&
           s.at("b") == 9 * s.at("c");
  }));
  ASSERT_TRUE(wait_servers("transform", exactly({"t"})));
  const auto status = sherlock->status();
  EXPECT_GT(status["directory"]["snapshots"].get<int>(), snapshots);
  EXPECT_GE(status["directory"]["revision"].get<std::uint64_t>(), revision);
  EXPECT_THAT(sherlock->stderr_text(), HasSubstr("is compacted away"));

  const auto a_requests = a.requests();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(sherlock->get("/transform/").status, 200);
  EXPECT_EQ(a.requests(), a_requests);
  EXPECT_EQ(e.requests(), 0u);
  EXPECT_GE(t.requests(), 1u);
}

// etcd validates nothing, so sherlock checks every value as the directory checks a request. A
// value written by hand, by mistake or with intent, counts as absent: it never becomes an HAProxy
// server, it takes a valid instance it overwrites out of rotation, and the valid instances go on
// being served. Both at start (the snapshot) and later (the watch).
TEST_F(SherlockEtcd, InvalidValuesUnderThePrefixAreIgnored) {
  start_etcd(1);
  TestService a, b, evil;
  // A newline in a URL would be a line of its own in haproxy.cfg.
  const std::string injected =
      evil.url("/emitter") + "\n    server evil 127.0.0.1:" + std::to_string(evil.port());
  put("a", a);
  put("b", b, 100, "2");
  put_raw(instance_key("emitter", "evil"), instance_body(lease, injected, 100, "1").dump(), lease);
  put_raw(instance_key("emitter", "broken"), "{not json", lease);
  put_raw(instance_key("emitter", "bad id"),
          instance_body(lease, evil.url("/emitter"), 100, "1").dump(), lease);
  // A route with a field no directory takes: taken, it would give v2 (b) 10 %.
  put_raw(kPrefix + "/routes/emitter", R"({"targets":[{"version":"2","weight":10}],"extra":"x"})");

  start_sherlock();
  ASSERT_TRUE(wait_servers("emitter", [](const Servers& s) {
    return exactly({"a", "b"})(s) && s.at("a") == s.at("b");  // no route: equal shares
  }));
  const auto err = sherlock->stderr_text();
  EXPECT_THAT(err, HasSubstr("/dstack/instances/emitter/broken: ignored: the value is not JSON"));
  EXPECT_THAT(err, HasSubstr("/dstack/instances/emitter/evil: ignored: url \"" +
                             evil.url("/emitter") + "\\x0a    server evil"));
  EXPECT_THAT(err,
              HasSubstr("/dstack/instances/emitter/bad id: ignored: id \"bad id\" is invalid"));
  EXPECT_THAT(err, HasSubstr("/dstack/routes/emitter: ignored: unknown field \"extra\""));

  // Through the watch: a bad value over b takes b out; a bad new key is not added. What follows
  // in revision order still applies.
  put_raw(instance_key("emitter", "b"), instance_body(lease, injected, 100, "2").dump(), lease);
  ASSERT_TRUE(wait_servers("emitter", exactly({"a"})));
  put_raw(instance_key("emitter", "evil2"), "[]", lease);
  put_raw(instance_key("emitter", "evil3"), instance_body(lease, injected, 100, "1").dump(), lease);
  put("b", b, 100, "2");
  ASSERT_TRUE(wait_servers("emitter", exactly({"a", "b"})));

  EXPECT_THAT(read_file(sherlock->run_dir() / "haproxy.cfg"), Not(HasSubstr("evil")));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(evil.requests(), 0u);
  EXPECT_GE(a.requests(), 5u);
  EXPECT_GE(b.requests(), 5u);
}

}  // namespace
}  // namespace dstack::test
