// SPDX-License-Identifier: Apache-2.0
// watson's local API and its Agent without directories: status, metrics and maintenance as an
// operator's tools see them, and every refusal. The agent runs real `check: none` loops on an
// io_context driven by the test.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/net/http.hpp"
#include "watson/agent.hpp"
#include "watson/local_api.hpp"

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

ServiceDefinition service(const std::string& name, const std::string& id) {
  ServiceDefinition d;
  d.service = name;
  d.id = id;
  d.url = "http://127.0.0.1:9/" + name;
  d.file = "/etc/datawire.d/" + name + ".yaml";
  d.drain = 0s;
  d.check.kind = Check::Kind::none;
  return d;
}

net::HttpRequest request(const std::string& method, const std::string& target) {
  net::HttpRequest r;
  r.method = method;
  r.target = target;
  EXPECT_TRUE(net::split_target(target, r.path, r.query)) << target;
  return r;
}

class LocalApiTest : public ::testing::Test {
 protected:
  LocalApiTest() : agent_(io_.get_executor(), {}), api_(agent_) {
    agent_.apply({service("emitter", "a:1"), service("emitter", "b:1"), service("barker", "c:1")});
    agent_.set_problems({"/etc/datawire.d/x.yaml:2:1: bogus: unknown key"});
    // `check: none` passes at once; run until all three have been checked.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline && !all_checked()) io_.run_for(10ms);
  }

  // (The status is held in a local: a range-for over status()["services"] would dangle.)
  bool all_checked() {
    json st = status();
    for (const auto& s : st["services"])
      if (s["check"]["checks"] == 0) return false;
    return true;
  }
  json status() { return json::parse(api_.handle(request("GET", "/v1/status")).body); }
  json service_status(const std::string& id) {
    json st = status();
    for (const auto& s : st["services"])
      if (s["id"] == id) return s;
    return nullptr;
  }
  net::HttpResponse call(const std::string& method, const std::string& target) {
    return api_.handle(request(method, target));
  }

  asio::io_context io_;
  Agent agent_;
  LocalApi api_;
};

TEST_F(LocalApiTest, StatusListsEveryInstanceAndTheProblems) {
  json s = status();
  ASSERT_EQ(s["services"].size(), 3u);
  json a = service_status("a:1");
  EXPECT_EQ(a["service"], "emitter");
  EXPECT_EQ(a["file"], "/etc/datawire.d/emitter.yaml");
  EXPECT_EQ(a["health"], "passing");
  EXPECT_EQ(a["routable"], true);
  EXPECT_EQ(a["check"]["kind"], "none");
  EXPECT_EQ(a["check"]["status"], "passing");
  EXPECT_TRUE(a["registration"].empty());  // no directories in this test
  EXPECT_EQ(s["directories"], json::array());
  EXPECT_EQ(s["problems"], json::array({"/etc/datawire.d/x.yaml:2:1: bogus: unknown key"}));
}

TEST_F(LocalApiTest, MaintenanceAppliesToEveryInstanceOfTheServiceOnly) {
  auto r = call("PUT", "/v1/maintenance/emitter?enable=true&reason=deploy%2042");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body),
            (json{{"service", "emitter"}, {"maintenance", true}, {"instances", 2}}));
  for (const char* id : {"a:1", "b:1"}) {
    json s = service_status(id);
    EXPECT_EQ(s["health"], "maintenance") << id;
    EXPECT_EQ(s["reason"], "deploy 42") << id;
    EXPECT_EQ(s["routable"], false) << id;
  }
  EXPECT_EQ(service_status("c:1")["health"], "passing");

  r = call("POST", "/v1/maintenance/emitter?enable=false");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(service_status("a:1")["health"], "passing");
  EXPECT_EQ(service_status("a:1")["reason"], "");
}

TEST_F(LocalApiTest, MaintenanceRefusals) {
  struct Case {
    std::string method, target;
    int status;
    std::string code;
  };
  std::string long_reason(kMaxReasonLength + 1, 'x');
  for (const auto& c : std::vector<Case>{
           {"PUT", "/v1/maintenance/nope?enable=true", 404, "unknown_service"},
           {"PUT", "/v1/maintenance/Bad%20Name?enable=true", 400, "invalid_name"},
           {"PUT", "/v1/maintenance/emitter", 400, "invalid_enable"},
           {"PUT", "/v1/maintenance/emitter?enable=yes", 400, "invalid_enable"},
           {"PUT", "/v1/maintenance/emitter?enable=true&reason=a%0Ab", 400, "invalid_reason"},
           {"PUT", "/v1/maintenance/emitter?enable=true&reason=%ff", 400, "invalid_reason"},
           {"PUT", "/v1/maintenance/emitter?enable=true&reason=" + long_reason, 400,
            "invalid_reason"},
           {"GET", "/v1/maintenance/emitter?enable=true", 405, "method_not_allowed"},
           {"DELETE", "/v1/status", 405, "method_not_allowed"},
           {"GET", "/v2/status", 404, "not_found"},
       }) {
    auto r = call(c.method, c.target);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target;
    auto body = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << r.body;
    EXPECT_EQ(body["error"], c.code) << c.target;
    EXPECT_FALSE(body["message"].get<std::string>().empty());
  }
  // Nothing refused changed anything.
  EXPECT_EQ(service_status("a:1")["health"], "passing");
}

TEST_F(LocalApiTest, MetricsCountChecksAndRoutability) {
  auto r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("dstack_watson_service_routable{service=\"emitter\",id=\"a:1\"} 1\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find(
          "dstack_watson_checks_total{service=\"barker\",id=\"c:1\",status=\"critical\"} 0\n"),
      std::string::npos);
  EXPECT_NE(r.body.find("dstack_watson_config_problems 1\n"), std::string::npos);
  call("PUT", "/v1/maintenance/barker?enable=true");
  r = call("GET", "/metrics");
  EXPECT_NE(r.body.find("dstack_watson_service_routable{service=\"barker\",id=\"c:1\"} 0\n"),
            std::string::npos);
}

TEST_F(LocalApiTest, ApplyAddsUpdatesAndRemoves) {
  auto changed = service("emitter", "a:1");
  changed.weight = 7;
  agent_.apply({changed, service("new", "d:1")});
  json s = status();
  ASSERT_EQ(s["services"].size(), 2u);
  EXPECT_EQ(service_status("a:1")["health"], "passing");  // kept its health across the change
  EXPECT_TRUE(service_status("b:1").is_null());
  EXPECT_EQ(service_status("d:1")["check"]["checks"], 0);
}

TEST(PercentEncodeTest, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(net::percent_encode("deploy 42/a&b=c~_.-"), "deploy%2042%2Fa%26b%3Dc~_.-");
  EXPECT_EQ(net::percent_encode("\xc3\xa9\n"), "%C3%A9%0A");
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  ASSERT_TRUE(net::split_target("/x?r=" + net::percent_encode("a b&c=%"), path, query));
  EXPECT_EQ(query.at(0).second, "a b&c=%");
}

}  // namespace
}  // namespace dstack::watson
