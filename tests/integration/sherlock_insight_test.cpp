// SPDX-License-Identifier: Apache-2.0
// Traffic insight end to end (docs/insight.md): requests sent through the real HAProxy are
// counted in sherlock's metrics per version and instance, and reach the directory's
// /v1/traffic through the consumer's reports.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/model/traffic.hpp"
#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct SherlockInsight : SherlockTest {};

TEST_F(SherlockInsight, RequestsAreCountedInMetricsAndReachTheDirectory) {
  TestService a;
  put("emitter", "a", a.url("/emitter"), json{{"version", "1"}});
  auto o = options();
  o.extra_config = "consumer: web-7\nreport_interval: 1s\n";
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  ASSERT_EQ(sherlock->get("/nothing-here/").status, 404);

  const std::string sample =
      "dstack_sherlock_requests_total{service=\"emitter\",version=\"1\",instance=\"a\","
      "code=\"2xx\"} " +
      std::to_string(kRequests) + "\n";
  EXPECT_TRUE(poll_until(5s, [&] {
    return http(sherlock->api_port(), "GET", "/metrics").body.find(sample) != std::string::npos;
  })) << http(sherlock->api_port(), "GET", "/metrics").body;

  json traffic;
  EXPECT_TRUE(poll_until(10s, [&] {
    traffic = json::parse(directory.get("/v1/traffic?service=emitter").body, nullptr, false);
    return traffic.is_object() && traffic["services"].size() == 1 &&
           traffic["services"][0]["versions"][0]["requests"] == kRequests;
  })) << traffic.dump();
  const auto& v = traffic["services"][0]["versions"][0];
  EXPECT_EQ(v["version"], "1");
  EXPECT_EQ(v["codes"]["2xx"], kRequests);
  EXPECT_EQ(v["error_ratio"], 0);
  EXPECT_EQ(v["consumers"][0]["consumer"], "web-7");
  EXPECT_EQ(v["consumers"][0]["requests"], kRequests);

  const auto consumers = json::parse(directory.get("/v1/consumers").body);
  ASSERT_EQ(consumers["consumers"].size(), 1u) << consumers.dump();
  EXPECT_EQ(consumers["consumers"][0]["name"], "web-7");
  EXPECT_EQ(consumers["consumers"][0]["services"], json::array({"emitter"}));

  // A report from a consumer that is not registered is refused and changes nothing.
  const auto stray =
      directory.put("/v1/consumers/ghost/traffic", json{{"interval_ms", 1000},
                                                        {"buckets_ms", model::kDurationBoundsMs},
                                                        {"services", json::object()}});
  EXPECT_EQ(stray.status, 404);
}

}  // namespace
}  // namespace dstack::test
