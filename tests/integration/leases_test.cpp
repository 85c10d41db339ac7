// SPDX-License-Identifier: Apache-2.0
// Leases over HTTP: grant, keepalive, revoke, expiry, and the health endpoint that reports the
// revision they move.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

const std::string kInstance = "/v1/services/emitter/instances/vm101:8080";

TEST(Health, ReportsStatusRevisionEpochAndSyncedAfterGrace) {
  Directory d({.config = "sync_grace: 300ms\n"});
  d.start();
  auto r = d.get("/v1/health");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = body_json(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_TRUE(j["revision"].is_number_unsigned());
  EXPECT_TRUE(std::regex_match(j["epoch"].get<std::string>(), std::regex("[0-9a-f]{16}")));
  EXPECT_FALSE(j.contains("name"));
  EXPECT_FALSE(j.contains("address"));
  // Consumers must not drop instances while watsons re-register: synced flips only after grace.
  EXPECT_EQ(j["synced"], false);
  EXPECT_TRUE(poll_until(5s, [&] { return body_json(d.get("/v1/health"))["synced"] == true; }));
}

TEST(Health, SyncedStaysFalseForTwiceTheLargestTtlByDefault) {
  Directory d({.config = "lease:\n  max_ttl: 60s\n"});
  d.start();
  EXPECT_EQ(body_json(d.get("/v1/health"))["synced"], false);
  EXPECT_EQ(d.snapshot()["synced"], false);
}

TEST(Leases, GrantAnswers201WithIdTtlAndOwner) {
  Directory d;
  d.start();
  auto r = d.post("/v1/leases", {{"ttl", 5}, {"owner", "vm101"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = body_json(r);
  EXPECT_TRUE(std::regex_match(j["id"].get<std::string>(), std::regex("[0-9a-f]{16}")));
  EXPECT_EQ(j["ttl"], 5);
  EXPECT_EQ(j["owner"], "vm101");

  // Without a body the configured default TTL applies.
  auto def = d.request("POST", "/v1/leases");
  ASSERT_EQ(def.status, 201) << def.body;
  EXPECT_EQ(body_json(def)["ttl"], 10);
  EXPECT_NE(body_json(def)["id"], j["id"]);
}

TEST(Leases, GrantRefusesBadTtlAndFields) {
  Directory d({.config = "lease:\n  min_ttl: 2s\n  max_ttl: 30s\n  default_ttl: 5s\n"});
  d.start();
  struct Case {
    std::string body, code, message;
  } cases[] = {
      {R"({"ttl":1})", "invalid_ttl", "ttl 1 is out of range 2..30 seconds"},
      {R"({"ttl":31})", "invalid_ttl", "ttl 31 is out of range 2..30 seconds"},
      {R"({"ttl":"5"})", "invalid_lease", "ttl: expected an integer number of seconds"},
      {R"({"ttl":5,"tll":5})", "invalid_lease", "unknown field \"tll\""},
      {R"({"owner":7})", "invalid_lease", "owner: expected a string"},
      {R"([1,2])", "invalid_lease", "body: expected a JSON object"},
  };
  for (auto& c : cases) {
    auto r = d.request("POST", "/v1/leases", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(body_json(r)["error"], c.code) << c.body;
    EXPECT_EQ(body_json(r)["message"], c.message) << c.body;
  }
  auto r = d.request("POST", "/v1/leases", R"({"owner":"line\nbreak"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_json(r)["message"],
            "owner \"line\\x0abreak\" is invalid: must be at most 512 printable ASCII characters");
  EXPECT_EQ(d.metric("dstack_directory_leases"), 0) << "a refused grant made a lease";
}

TEST(Leases, KeepaliveAnswersForKnownAnd404ForUnknown) {
  Directory d;
  d.start();
  auto id = d.grant(10);
  auto ok = d.put("/v1/leases/" + id);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(body_json(ok)["id"], id);

  auto missing = d.put("/v1/leases/deadbeef");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body_json(missing)["error"], "lease_not_found");
  EXPECT_EQ(body_json(missing)["message"], "lease deadbeef is unknown or expired");

  auto bad = d.put("/v1/leases/not-a-lease");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_json(bad)["error"], "invalid_name");
  EXPECT_EQ(body_json(bad)["message"],
            "lease \"not-a-lease\" is invalid: must match ^[A-Za-z0-9]{1,64}$");
}

TEST(Leases, WrongMethodsAnswer405WithAllow) {
  Directory d;
  d.start();
  struct Case {
    std::string method, target, allow;
  } cases[] = {
      {"GET", "/v1/leases", "POST"}, {"GET", "/v1/leases/abc", "PUT, DELETE"},
      {"POST", "/v1/health", "GET"}, {"PUT", "/v1/snapshot", "GET"},
      {"DELETE", "/metrics", "GET"}, {"POST", "/v1/watch", "GET"},
  };
  for (auto& c : cases) {
    auto r = d.request(c.method, c.target);
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target;
    EXPECT_EQ(r.header("allow"), c.allow) << c.method << " " << c.target;
    EXPECT_EQ(body_json(r)["error"], "method_not_allowed");
    EXPECT_EQ(body_json(r)["message"],
              c.method + " is not allowed on " + c.target + " (allowed: " + c.allow + ")");
  }
  auto r = d.get("/v2/health");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_json(r)["error"], "not_found");
  EXPECT_EQ(body_json(r)["message"], "no such endpoint: GET /v2/health");
}

// Elapsed from just before the last keepalive was sent to the first answer without the instance:
// an upper bound on how long the lease outlived its last keepalive.
TEST(Leases, ExpiryDropsInstancesWithinTtlPlusOneSecond) {
  Directory d;
  d.start();
  auto lease = d.grant(1);
  d.put_instance("emitter", "vm101:8080", lease);
  auto before = d.revision();

  const auto sent = Clock::now();
  ASSERT_EQ(d.put("/v1/leases/" + lease).status, 200);
  Clock::time_point gone;
  ASSERT_TRUE(poll_until(
      5s,
      [&] {
        auto r = d.get(kInstance);
        gone = Clock::now();
        return r.status == 404;
      },
      20ms));
  const auto elapsed = gone - sent;
  EXPECT_GE(elapsed, 1s) << "instance vanished before its TTL";
  EXPECT_LE(elapsed, 2s) << "instance outlived TTL + 1 s: "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                         << " ms";
  EXPECT_EQ(d.put("/v1/leases/" + lease).status, 404);
  EXPECT_EQ(d.get("/v1/services/emitter").status, 404);
  EXPECT_GT(d.revision(), before);
  EXPECT_EQ(d.metric("dstack_directory_leases_expired_total"), 1);
}

TEST(Leases, KeepalivesHoldTheLeasePastSeveralTtls) {
  Directory d;
  d.start();
  auto lease = d.grant(1);
  d.put_instance("emitter", "vm101:8080", lease);
  // A watson's rhythm is what is under test here: keepalives a third of the TTL apart.
  const auto until = Clock::now() + 3500ms;
  while (Clock::now() < until) {
    ASSERT_EQ(d.put("/v1/leases/" + lease).status, 200);
    ASSERT_EQ(d.get(kInstance).status, 200);
    std::this_thread::sleep_for(300ms);
  }
  // And the same lease does expire once the keepalives stop.
  EXPECT_TRUE(poll_until(
      3s, [&] { return d.get(kInstance).status == 404; }, 20ms));
}

TEST(Leases, RevokeDropsInstancesAtOnceAndEmitsDeletes) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  auto other = d.grant(60);
  d.put_instance("emitter", "vm101:8080", lease);
  d.put_instance("barker", "vm101:9090", lease);
  d.put_instance("barker", "vm102:9090", other);
  auto rev = d.revision();
  LineStream watch(d.port(), "/v1/watch?since=" + std::to_string(rev) + "&epoch=" + d.epoch());
  ASSERT_EQ(watch.head().status, 200);

  auto r = d.del("/v1/leases/" + lease);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["revision"], rev + 2);
  // No grace: the very next read no longer has them.
  EXPECT_EQ(d.get(kInstance).status, 404);
  EXPECT_EQ(d.get("/v1/services/barker/instances/vm101:9090").status, 404);
  EXPECT_EQ(d.get("/v1/services/barker/instances/vm102:9090").status, 200);

  std::set<std::pair<std::string, std::string>> deleted;
  for (int i = 0; i < 2; ++i) {
    auto line = watch.next_line(5s);
    ASSERT_TRUE(line);
    auto e = json::parse(*line);
    EXPECT_EQ(e["type"], "instance_delete");
    EXPECT_EQ(e["revision"], rev + 1 + i);
    deleted.emplace(e["service"], e["id"]);
  }
  EXPECT_EQ(deleted, (std::set<std::pair<std::string, std::string>>{{"emitter", "vm101:8080"},
                                                                    {"barker", "vm101:9090"}}));

  EXPECT_EQ(d.del("/v1/leases/" + lease).status, 404);
  EXPECT_EQ(d.put("/v1/leases/" + lease).status, 404);
  EXPECT_EQ(body_json(d.del("/v1/leases/" + lease))["error"], "lease_not_found");
}

TEST(Leases, MaxInstancesPerLeaseAnswers409) {
  Directory d({.config = "limits:\n  max_instances_per_lease: 2\n"});
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease);
  d.put_instance("emitter", "b", lease);
  auto r = d.put("/v1/services/emitter/instances/c",
                 json{{"lease", lease}, {"url", "http://10.0.0.1:8080"}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body_json(r)["error"], "too_many_instances");
  EXPECT_EQ(body_json(r)["message"], "lease " + lease +
                                         " already holds 2 instances "
                                         "(limits.max_instances_per_lease)");
  EXPECT_EQ(d.get("/v1/services/emitter/instances/c").status, 404);
  // Updating one it already holds is not a new instance.
  EXPECT_NO_THROW(d.put_instance("emitter", "b", lease, {{"weight", 5}}));
}

}  // namespace
}  // namespace dstack::test
