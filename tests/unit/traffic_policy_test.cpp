// SPDX-License-Identifier: Apache-2.0
// Traffic policies (common/model/traffic_policy.hpp): the wire form both ways, and every value
// that could reach HAProxy's config refused unless it is one of the known words or a plain name.

#include "common/model/traffic_policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dstack::model {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> problems(const std::string& body) {
  auto r = traffic_policy_from_request(json::parse(body), "emitter");
  if (auto* p = std::get_if<std::vector<std::string>>(&r)) return *p;
  return {"<accepted>"};
}

TEST(TrafficPolicy, EveryFieldReadAndWrittenBack) {
  auto r = traffic_policy_from_request(
      json::parse(R"({"retries":3,"retry_on":["conn-failure","503"],"timeout":"5s",
        "max_conn":100,"queue_timeout":"250ms","eject":"5xx:5","balance":"hash:header:X-User"})"),
      "emitter");
  ASSERT_TRUE(std::holds_alternative<TrafficPolicy>(r)) << std::get<1>(r).front();
  auto p = std::get<TrafficPolicy>(r);
  EXPECT_EQ(p.service, "emitter");
  EXPECT_EQ(p.retries, 3);
  EXPECT_THAT(p.retry_on, ElementsAre("conn-failure", "503"));
  EXPECT_EQ(p.timeout, 5s);
  EXPECT_EQ(p.max_conn, 100);
  EXPECT_EQ(p.queue_timeout, 250ms);
  EXPECT_EQ(p.eject_5xx, 5);
  EXPECT_EQ(p.balance, (Balance{Balance::Kind::header, "X-User"}));
  p.revision = 9;
  const json j = to_json(p);
  EXPECT_EQ(j, json::parse(R"({"service":"emitter","revision":9,"retries":3,
    "retry_on":["conn-failure","503"],"timeout":"5s","max_conn":100,"queue_timeout":"250ms",
    "eject":"5xx:5","balance":"hash:header:X-User"})"));
  auto back = traffic_policy_from_json(j);
  ASSERT_TRUE(std::holds_alternative<TrafficPolicy>(back));
  EXPECT_EQ(std::get<TrafficPolicy>(back), p);
}

TEST(TrafficPolicy, AnEmptyBodyIsAPolicyOfDefaults) {
  auto r = traffic_policy_from_request(json::object(), "emitter");
  ASSERT_TRUE(std::holds_alternative<TrafficPolicy>(r));
  EXPECT_EQ(to_json(std::get<TrafficPolicy>(r)),
            json::parse(R"({"service":"emitter","revision":0})"));
}

TEST(TrafficPolicy, BalanceForms) {
  EXPECT_EQ(std::get<Balance>(parse_balance("leastconn")).kind, Balance::Kind::leastconn);
  EXPECT_EQ(std::get<Balance>(parse_balance("hash:cookie:session_id")),
            (Balance{Balance::Kind::cookie, "session_id"}));
  EXPECT_EQ(std::get<std::string>(parse_balance("random")),
            "balance \"random\" is invalid: must be roundrobin, leastconn, hash:header:NAME or "
            "hash:cookie:NAME");
  // Names that would be more than one word in HAProxy's config.
  EXPECT_EQ(std::get<std::string>(parse_balance("hash:header:X-User if 1")),
            "balance \"hash:header:X-User if 1\" is invalid: the header name must match "
            "^[A-Za-z0-9-]{1,64}$");
  EXPECT_EQ(std::get<std::string>(parse_balance("hash:cookie:a)b")),
            "balance \"hash:cookie:a)b\" is invalid: the cookie name must match "
            "^[A-Za-z0-9_-]{1,64}$");
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_balance("hash:header:")));
  EXPECT_TRUE(std::holds_alternative<std::string>(parse_balance("hash:header:X_User")));
  EXPECT_TRUE(
      std::holds_alternative<std::string>(parse_balance("hash:header:" + std::string(65, 'a'))));
}

TEST(TrafficPolicy, EveryProblemNamesFieldValueAndRule) {
  EXPECT_THAT(problems(R"({"retries":11})"), ElementsAre("retries 11 is out of range 0..10"));
  EXPECT_THAT(problems(R"({"retries":"3"})"),
              ElementsAre("retries: expected an integer, got a string"));
  EXPECT_THAT(problems(R"({"retry_on":["5xx","503","503"]})"),
              ElementsAre("retry_on[0] \"5xx\" is invalid: must be one of conn-failure, "
                          "empty-response, junk-response, response-timeout, 404, 408, 425, 500, "
                          "501, 502, 503, 504",
                          "retry_on[2] \"503\" is invalid: is listed twice"));
  EXPECT_THAT(problems(R"({"retries":0,"retry_on":["503"]})"),
              ElementsAre("retry_on: needs retries of at least 1 (retries is 0)"));
  EXPECT_THAT(problems(R"({"timeout":"5"})"),
              ElementsAre("timeout \"5\" is invalid: must be a duration like 250ms, 5s or 1m"));
  EXPECT_THAT(problems(R"({"timeout":"2h"})"),
              ElementsAre("timeout \"2h\" is invalid: must be 1ms..1h"));
  EXPECT_THAT(problems(R"({"timeout":"0ms"})"),
              ElementsAre("timeout \"0s\" is invalid: must be 1ms..1h"));
  EXPECT_THAT(problems(R"({"max_conn":0})"), ElementsAre("max_conn 0 is out of range 1..100000"));
  EXPECT_THAT(problems(R"({"queue_timeout":"1s"})"),
              ElementsAre("queue_timeout: needs max_conn (without a limit no request queues)"));
  EXPECT_THAT(problems(R"({"eject":"5xx:0"})"),
              ElementsAre("eject \"5xx:0\" is invalid: must be 5xx:N, N consecutive 5xx answers "
                          "(1..1000)"));
  EXPECT_THAT(problems(R"({"eject":"5xx:007"})"),
              ElementsAre(::testing::StartsWith("eject \"5xx:007\" is invalid")));
  EXPECT_THAT(problems(R"({"eject":"5xx:1000"})"), ElementsAre("<accepted>"));
  EXPECT_THAT(problems(R"({"retry_on":["503","503","503","503","503","503","503","503","503",
    "503","503","503","503"]})"),
              ElementsAre("retry_on: 13 given, at most 12 allowed"));
  EXPECT_THAT(problems(R"({"eject":"4xx:3"})"),
              ElementsAre(::testing::StartsWith("eject \"4xx:3\" is invalid")));
  EXPECT_THAT(problems(R"({"colour":"red","service":"x"})"),
              ElementsAre("unknown field \"colour\"", "unknown field \"service\""));
  auto bad_name = traffic_policy_from_request(json::object(), "Emitter");
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(bad_name));
  EXPECT_THAT(std::get<std::vector<std::string>>(bad_name),
              ElementsAre(::testing::StartsWith("service \"Emitter\" is invalid")));
}

// A reader validates what a directory (or an etcd cluster, which checks nothing) sent.
TEST(TrafficPolicy, AReaderValidatesAgainAndIgnoresNewKeys) {
  auto r = traffic_policy_from_json(
      json::parse(R"({"service":"emitter","revision":3,"retries":2,"future":1})"));
  ASSERT_TRUE(std::holds_alternative<TrafficPolicy>(r));
  EXPECT_EQ(std::get<TrafficPolicy>(r).retries, 2);
  auto bad = traffic_policy_from_json(
      json::parse(R"({"service":"emitter","revision":3,"balance":"hash:header:a b"})"));
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(bad));
  TrafficPolicy forged;
  forged.service = "emitter";
  forged.retry_on = {"conn-failure\n    http-request deny"};
  forged.balance = Balance{Balance::Kind::cookie, "a b"};
  EXPECT_EQ(validate_traffic_policy(forged).size(), 2u);
  EXPECT_THAT(validate_traffic_policy(TrafficPolicy{"emitter"}), IsEmpty());
  forged = TrafficPolicy{"emitter"};
  forged.balance = Balance{Balance::Kind::leastconn, "stray"};
  EXPECT_THAT(validate_traffic_policy(forged),
              ElementsAre("balance \"leastconn stray\" is invalid: roundrobin and leastconn hash "
                          "no name"));
}

}  // namespace
}  // namespace dstack::model
