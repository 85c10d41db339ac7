// SPDX-License-Identifier: Apache-2.0
// Instances and the read endpoints that show them: services, one service, snapshot, metrics.
#include <gtest/gtest.h>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

const std::string kPath = "/v1/services/emitter/instances/vm101:8080";

TEST(Instances, PutThenReadEverywhere) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  auto rev = d.revision();
  json body{{"lease", lease},
            {"url", "http://10.0.0.1:8080/emitter"},
            {"version", "2"},
            {"weight", 50},
            {"health", "warning"},
            {"tags", {"canary", "eu-1"}},
            {"meta", {{"host", "vm101"}}}};
  auto r = d.put(kPath, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["revision"], rev + 1);

  auto got = d.get(kPath);
  ASSERT_EQ(got.status, 200);
  json expected = body;
  expected["service"] = "emitter";
  expected["id"] = "vm101:8080";
  expected["revision"] = rev + 1;
  EXPECT_EQ(body_json(got), expected);

  auto list = body_json(d.get("/v1/services"));
  EXPECT_EQ(list["revision"], rev + 1);
  EXPECT_EQ(list["services"], json::parse(R"([{"name":"emitter","instances":1,"routable":1,
                                                "routes":0}])"));

  auto one = body_json(d.get("/v1/services/emitter"));
  EXPECT_EQ(one["service"], "emitter");
  EXPECT_EQ(one["instances"], json::array({expected}));
  EXPECT_EQ(one["routes"], json::array());

  auto snap = d.snapshot();
  EXPECT_EQ(snap["revision"], rev + 1);
  EXPECT_EQ(snap["epoch"], d.epoch());
  EXPECT_EQ(snap["instances"], json::array({expected}));
  EXPECT_EQ(snap["routes"], json::array());
}

TEST(Instances, DefaultsApplyAndUnroutableOnesAreCounted) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease);
  d.put_instance("emitter", "b", lease, {{"health", "critical"}});
  d.put_instance("emitter", "c", lease, {{"weight", 0}});
  auto a = body_json(d.get("/v1/services/emitter/instances/a"));
  EXPECT_EQ(a["version"], "1");
  EXPECT_EQ(a["weight"], 100);
  EXPECT_EQ(a["health"], "passing");
  EXPECT_EQ(a["tags"], json::array());
  EXPECT_EQ(a["meta"], json::object());
  auto list = body_json(d.get("/v1/services"))["services"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["instances"], 3);
  EXPECT_EQ(list[0]["routable"], 1);
}

TEST(Instances, UnchangedReassertionDoesNotMoveTheRevision) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "vm101:8080", lease);
  auto rev = d.revision();
  d.put_instance("emitter", "vm101:8080", lease);
  EXPECT_EQ(d.revision(), rev);
  d.put_instance("emitter", "vm101:8080", lease, {{"weight", 10}});
  EXPECT_EQ(d.revision(), rev + 1);
  EXPECT_EQ(body_json(d.get(kPath))["weight"], 10);
}

TEST(Instances, DeleteRemovesAndUnknownAnswers404) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "vm101:8080", lease);
  auto r = d.del(kPath);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_json(r)["revision"], d.revision());

  auto gone = d.get(kPath);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(body_json(gone)["error"], "instance_not_found");
  EXPECT_EQ(body_json(gone)["message"], "service emitter has no instance vm101:8080");
  EXPECT_EQ(d.del(kPath).status, 404);

  auto svc = d.get("/v1/services/emitter");
  EXPECT_EQ(svc.status, 404);
  EXPECT_EQ(body_json(svc)["error"], "service_not_found");
  EXPECT_EQ(body_json(svc)["message"], "no service named emitter");
  EXPECT_EQ(body_json(d.get("/v1/services"))["services"], json::array());
  // The lease still holds nothing: a keepalive for it works, it was not dropped with the instance.
  EXPECT_EQ(d.put("/v1/leases/" + lease).status, 200);
}

TEST(Instances, PutWithUnknownLeaseAnswers404) {
  Directory d;
  d.start();
  auto r = d.put(kPath, json{{"lease", "deadbeef"}, {"url", "http://10.0.0.1:8080"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_json(r)["error"], "lease_not_found");
  EXPECT_EQ(body_json(r)["message"], "lease deadbeef is unknown or expired");
  EXPECT_EQ(d.get(kPath).status, 404);
}

TEST(Instances, InvalidNamesInThePathAnswer400NamingFieldValueAndRule) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  json body{{"lease", lease}, {"url", "http://10.0.0.1:8080"}};
  struct Case {
    std::string target, message;
  } cases[] = {
      {"/v1/services/Emitter/instances/a",
       "service \"Emitter\" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"},
      {"/v1/services/-emitter/instances/a",
       "service \"-emitter\" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"},
      {"/v1/services/emitter/instances/a%20b",
       "id \"a b\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$"},
      {"/v1/services/" + std::string(65, 'a') + "/instances/a",
       "service \"" + std::string(65, 'a') +
           "\" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"},
  };
  for (auto& c : cases) {
    for (auto method : {"PUT", "GET", "DELETE"}) {
      auto r = d.request(method, c.target, method == std::string("PUT") ? body.dump() : "");
      EXPECT_EQ(r.status, 400) << method << " " << c.target;
      EXPECT_EQ(body_json(r)["error"], "invalid_name") << method << " " << c.target;
      EXPECT_EQ(body_json(r)["message"], c.message) << method << " " << c.target;
    }
  }
  EXPECT_EQ(d.get("/v1/services/Emitter").status, 400);
  EXPECT_EQ(d.snapshot()["instances"], json::array());
}

TEST(Instances, WrongMethodsAnswer405AndUnknownPaths404) {
  Directory d;
  d.start();
  struct Case {
    std::string method, target, allow;
  } cases[] = {
      {"POST", kPath, "GET, PUT, DELETE"},
      {"PATCH", kPath, "GET, PUT, DELETE"},
      {"POST", "/v1/services", "GET"},
      {"DELETE", "/v1/services/emitter", "GET"},
  };
  for (auto& c : cases) {
    auto r = d.request(c.method, c.target);
    EXPECT_EQ(r.status, 405) << c.method << " " << c.target;
    EXPECT_EQ(r.header("allow"), c.allow) << c.method << " " << c.target;
  }
  for (auto target : {"/v1/services/emitter/instances", "/v1/services/emitter/routes/a",
                      "/v1/services/emitter/instances/a/b", "/v1//services"}) {
    auto r = d.get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(body_json(r)["error"], "not_found") << target;
  }
}

TEST(Metrics, PrometheusTextCountsStateAndTraffic) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease);
  d.put_instance("emitter", "b", lease);
  ASSERT_EQ(
      d.put("/v1/routes/emitter", json::parse(R"({"targets":[{"version":"1","weight":100}]})"))
          .status,
      200);
  ASSERT_EQ(d.put("/v1/leases/" + lease).status, 200);
  auto r = d.get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4");
  for (auto line :
       {"# TYPE dstack_directory_revision gauge\n", "dstack_directory_leases 1\n",
        "dstack_directory_instances 2\n", "dstack_directory_routes 1\n",
        "dstack_directory_leases_granted_total 1\n", "dstack_directory_keepalives_total 1\n",
        "dstack_directory_watchers 0\n", "dstack_directory_synced 0\n"})
    EXPECT_NE(r.body.find(line), std::string::npos) << line << " missing from:\n" << r.body;
  EXPECT_NE(r.body.find("dstack_directory_revision " + std::to_string(d.revision()) + "\n"),
            std::string::npos);
  EXPECT_NE(r.body.find("dstack_directory_requests_total "), std::string::npos);
}

}  // namespace
}  // namespace dstack::test
