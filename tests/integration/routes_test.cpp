// SPDX-License-Identifier: Apache-2.0
// Routes over HTTP: for everyone and per consumer, listing, filtering, and their refusals.
#include <gtest/gtest.h>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

const json kCanary = json::parse(R"({"targets":[{"version":"1","weight":90},
                                                 {"version":"2","weight":10}]})");

TEST(Routes, PutGetListDeleteForEveryone) {
  Directory d;
  d.start();
  auto rev = d.revision();
  auto r = d.put("/v1/routes/emitter", kCanary);
  ASSERT_EQ(r.status, 200) << r.body;
  json expected{{"service", "emitter"}, {"targets", kCanary["targets"]}, {"revision", rev + 1}};
  EXPECT_EQ(body_json(r), expected);

  EXPECT_EQ(body_json(d.get("/v1/routes/emitter")), expected);
  auto list = body_json(d.get("/v1/routes"));
  EXPECT_EQ(list["routes"], json::array({expected}));
  EXPECT_EQ(list["revision"], rev + 1);
  EXPECT_EQ(body_json(d.get("/v1/routes?service=emitter"))["routes"], json::array({expected}));
  EXPECT_EQ(body_json(d.get("/v1/routes?service=barker"))["routes"], json::array());

  // A route alone makes a service visible, with no instances.
  EXPECT_EQ(body_json(d.get("/v1/services"))["services"],
            json::parse(R"([{"name":"emitter","instances":0,"routable":0,"routes":1}])"));
  auto svc = body_json(d.get("/v1/services/emitter"));
  EXPECT_EQ(svc["routes"], json::array({expected}));
  EXPECT_EQ(d.snapshot()["routes"], json::array({expected}));

  // Replacing it keeps one route with the new targets.
  auto all = json::parse(R"({"targets":[{"version":"2","weight":100}]})");
  ASSERT_EQ(d.put("/v1/routes/emitter", all).status, 200);
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter"))["targets"], all["targets"]);
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"].size(), 1u);

  auto del = d.del("/v1/routes/emitter");
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(body_json(del)["revision"], rev + 3);
  auto gone = d.get("/v1/routes/emitter");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(body_json(gone)["error"], "route_not_found");
  EXPECT_EQ(body_json(gone)["message"], "service emitter has no route for everyone");
  EXPECT_EQ(d.del("/v1/routes/emitter").status, 404);
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"], json::array());
}

// Rollback (docs/api.md#post-v1routessvcrollbackconsumerc): back to what the last put replaced,
// durable, undone by a second rollback; a first route rolls back to none.
TEST(Routes, RollbackPutsBackThePreviousSplitAcrossARestart) {
  Directory d;
  d.start();
  EXPECT_EQ(body_json(d.post("/v1/routes/emitter/rollback", json::object()))["error"],
            "route_not_found");
  ASSERT_EQ(d.put("/v1/routes/emitter", kCanary).status, 200);
  auto first = body_json(d.get("/v1/routes/emitter/previous"));
  EXPECT_EQ(first, json::parse(R"({"service":"emitter","targets":null})"));
  auto all = json::parse(R"({"targets":[{"version":"2","weight":100}]})");
  ASSERT_EQ(d.put("/v1/routes/emitter", all).status, 200);
  ASSERT_EQ(d.put("/v1/routes/emitter?consumer=monolith", all).status, 200);
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter/previous"))["targets"], kCanary["targets"]);
  d.restart();
  const auto rev = d.revision();
  auto back = d.post("/v1/routes/emitter/rollback", json::object());
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(body_json(back),
            (json{{"service", "emitter"}, {"targets", kCanary["targets"]}, {"revision", rev + 1}}));
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter"))["targets"], kCanary["targets"]);
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter?consumer=monolith"))["targets"], all["targets"]);
  ASSERT_EQ(d.post("/v1/routes/emitter/rollback", json::object()).status, 200);  // undone
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter"))["targets"], all["targets"]);
  // monolith's route was its first: rolling it back removes it.
  auto none = d.post("/v1/routes/emitter/rollback?consumer=monolith", json::object());
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(body_json(none), (json{{"revision", rev + 3}}));
  EXPECT_EQ(d.get("/v1/routes/emitter?consumer=monolith").status, 404);
  EXPECT_EQ(d.get("/v1/routes/emitter/rollback").status, 405);
}

// ?known_versions=1 refuses a version no instance has: a typo is not a silent 0 %.
TEST(Routes, KnownVersionsRefusesAVersionNoInstanceHas) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "vm101", lease, {{"version", "1"}});
  auto typo = d.put(
      "/v1/routes/emitter?known_versions=1",
      json::parse(R"({"targets":[{"version":"1","weight":90},{"version":"v2","weight":10}]})"));
  EXPECT_EQ(typo.status, 400);
  EXPECT_EQ(body_json(typo)["message"],
            "targets[1].version \"v2\": no instance of emitter has this version");
  EXPECT_EQ(d.get("/v1/routes/emitter").status, 404);  // nothing changed
  EXPECT_EQ(d.put("/v1/routes/emitter?known_versions=1",
                  json::parse(R"({"targets":[{"version":"1","weight":100}]})"))
                .status,
            200);
  EXPECT_EQ(body_json(d.put("/v1/routes/emitter?known_versions=yes", kCanary))["error"],
            "invalid_known_versions");
  // Without it, a route may name a version before its instances come (docs/api.md#routes).
  EXPECT_EQ(d.put("/v1/routes/emitter", kCanary).status, 200);
}

// Traffic policies over HTTP (docs/api.md#traffic-policies): one per service, replaced whole,
// durable across a restart, unchanged by a put of the same policy, refused with every problem.
TEST(Policies, PutGetListDeleteAndARestart) {
  Directory d;
  d.start();
  const json body = {{"retries", 2},          {"retry_on", {"conn-failure", "503"}},
                     {"timeout", "5s"},       {"max_conn", 100},
                     {"queue_timeout", "1s"}, {"balance", "hash:header:X-User"}};
  auto rev = d.revision();
  auto r = d.put("/v1/policies/emitter", body);
  ASSERT_EQ(r.status, 200) << r.body;
  json expected = body;
  expected["service"] = "emitter";
  expected["revision"] = rev + 1;
  EXPECT_EQ(body_json(r), expected);
  EXPECT_EQ(body_json(d.get("/v1/policies/emitter")), expected);
  EXPECT_EQ(body_json(d.get("/v1/policies"))["policies"], json::array({expected}));
  EXPECT_EQ(d.snapshot()["policies"], json::array({expected}));
  // A policy is not a service.
  EXPECT_EQ(body_json(d.get("/v1/services"))["services"], json::array());

  // The same policy again: nothing changes, not even the revision.
  EXPECT_EQ(body_json(d.put("/v1/policies/emitter", body)), expected);
  EXPECT_EQ(d.revision(), rev + 1);
  // Replaced whole: what the new body leaves out is no longer set.
  auto replaced = body_json(d.put("/v1/policies/emitter", json{{"eject", "5xx:5"}}));
  EXPECT_EQ(replaced, (json{{"eject", "5xx:5"}, {"service", "emitter"}, {"revision", rev + 2}}));

  auto bad = d.put("/v1/policies/emitter",
                   json{{"retry_on", {"5xx"}}, {"queue_timeout", "1s"}, {"retries", 11}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_json(bad)["error"], "invalid_policy");
  EXPECT_EQ(
      body_json(bad)["message"],
      "retries 11 is out of range 0..10; retry_on[0] \"5xx\" is invalid: must be one of "
      "conn-failure, empty-response, junk-response, response-timeout, 404, 408, 425, 500, "
      "501, 502, 503, 504; queue_timeout: needs max_conn (without a limit no request queues)");
  EXPECT_EQ(body_json(d.put("/v1/policies/emitter", json{{"service", "other"}}))["message"],
            "unknown field \"service\"");
  EXPECT_EQ(d.put("/v1/policies/Emitter", json::object()).status, 400);
  EXPECT_EQ(d.request("POST", "/v1/policies/emitter", "{}").status, 405);

  d.restart();
  auto kept = body_json(d.get("/v1/policies/emitter"));
  EXPECT_EQ(kept["eject"], "5xx:5");
  EXPECT_EQ(kept.size(), 3u) << kept;

  ASSERT_EQ(d.del("/v1/policies/emitter").status, 200);
  auto gone = d.get("/v1/policies/emitter");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(body_json(gone)["message"], "service emitter has no traffic policy");
  EXPECT_EQ(d.del("/v1/policies/emitter").status, 404);
  d.restart();
  EXPECT_EQ(d.get("/v1/policies/emitter").status, 404);
}

TEST(Routes, ConsumerRoutesAreSeparateFromTheRouteForEveryone) {
  Directory d;
  d.start();
  ASSERT_EQ(d.put("/v1/routes/emitter?consumer=barker", kCanary).status, 200);
  auto missing = d.get("/v1/routes/emitter");
  EXPECT_EQ(missing.status, 404);

  auto r = body_json(d.get("/v1/routes/emitter?consumer=barker"));
  EXPECT_EQ(r["consumer"], "barker");
  EXPECT_EQ(r["targets"], kCanary["targets"]);

  auto other = d.get("/v1/routes/emitter?consumer=watcher");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(body_json(other)["message"], "service emitter has no route for consumer watcher");

  auto everyone = json::parse(R"({"targets":[{"version":"1","weight":100}]})");
  ASSERT_EQ(d.put("/v1/routes/emitter", everyone).status, 200);
  EXPECT_EQ(body_json(d.get("/v1/routes?service=emitter"))["routes"].size(), 2u);

  ASSERT_EQ(d.del("/v1/routes/emitter?consumer=barker").status, 200);
  EXPECT_EQ(d.get("/v1/routes/emitter?consumer=barker").status, 404);
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter"))["targets"], everyone["targets"]);
}

TEST(Routes, InvalidTargetsAnswer400InvalidRoute) {
  Directory d;
  d.start();
  struct Case {
    std::string body, message;
  } cases[] = {
      {R"({"targets":[]})", "targets: at least one target is needed"},
      {R"({})", "missing field \"targets\""},
      {R"({"targets":[{"version":"2","weight":101}]})",
       "targets[0].weight 101 is out of range 0..100"},
      {R"({"targets":[{"version":"1","weight":60},{"version":"2","weight":50}]})",
       "targets: weights add up to 110, more than 100"},
      {R"({"targets":[{"version":"1","weight":10},{"version":"1","weight":10}]})",
       "targets: version \"1\" is listed twice"},
      {R"({"targets":[{"version":"v 2","weight":10}]})",
       "targets[0].version \"v 2\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$"},
      {R"({"targets":[{"version":"2"}]})", "missing field \"targets[0].weight\""},
  };
  for (auto& c : cases) {
    auto r = d.put("/v1/routes/emitter", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(body_json(r)["error"], "invalid_route") << c.body;
    EXPECT_EQ(body_json(r)["message"], c.message) << c.body;
  }
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"], json::array());
}

TEST(Routes, InvalidServiceOrConsumerAnswers400InvalidName) {
  Directory d;
  d.start();
  const std::string rule = " is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$";
  struct Case {
    std::string method, target, message;
  } cases[] = {
      {"PUT", "/v1/routes/Emitter", "service \"Emitter\"" + rule},
      {"GET", "/v1/routes/emitter.", "service \"emitter.\"" + rule},
      {"DELETE", "/v1/routes/e%20mitter", "service \"e mitter\"" + rule},
      {"PUT", "/v1/routes/emitter?consumer=Barker", "consumer \"Barker\"" + rule},
      {"GET", "/v1/routes/emitter?consumer=", "consumer \"\"" + rule},
      {"GET", "/v1/routes?service=_x", "service \"_x\"" + rule},
  };
  for (auto& c : cases) {
    auto r = d.request(c.method, c.target, c.method == "PUT" ? kCanary.dump() : "");
    EXPECT_EQ(r.status, 400) << c.method << " " << c.target;
    EXPECT_EQ(body_json(r)["error"], "invalid_name") << c.method << " " << c.target;
    EXPECT_EQ(body_json(r)["message"], c.message) << c.method << " " << c.target;
  }
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"], json::array());
}

TEST(Routes, WrongMethodsAnswer405) {
  Directory d;
  d.start();
  auto r = d.request("POST", "/v1/routes/emitter", kCanary.dump());
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, PUT, DELETE");
  auto list = d.request("PUT", "/v1/routes", kCanary.dump());
  EXPECT_EQ(list.status, 405);
  EXPECT_EQ(list.header("allow"), "GET");
  EXPECT_EQ(d.get("/v1/routes/emitter/extra").status, 404);
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"], json::array());
}

}  // namespace
}  // namespace dstack::test
