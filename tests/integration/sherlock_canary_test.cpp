// SPDX-License-Identifier: Apache-2.0
// Canary weights through the real HAProxy: the split a route asks for is the split clients get,
// per-consumer routes win, and a version that dies costs no request. Plus the hitless test: a
// client loop running while instances come and go, weights change and a new service forces a
// reload sees no failed request.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

struct SherlockCanary : SherlockTest {
  void put(const std::string& service, const std::string& id, const TestService& s,
           const std::string& version, int weight = 100) {
    directory.put_instance(
        service, id, lease,
        json{{"url", s.url("/" + service)}, {"version", version}, {"weight", weight}});
  }

  void route(const std::string& service, json targets, const std::string& consumer = "") {
    std::string target = "/v1/routes/" + service;
    if (!consumer.empty()) target += "?consumer=" + consumer;
    auto r = directory.put(target, json{{"targets", targets}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

// A client hammering the proxy from its own thread, counting anything but a 200.
class ClientLoop {
 public:
  ClientLoop(const Sherlock& s, std::string target) : s_(s), target_(std::move(target)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto r = s_.get(target_, {}, 10s);
        ++total_;
        if (r.status != 200) {
          ++failed_;
          std::lock_guard<std::mutex> lock(mutex_);
          if (errors_.size() < 10)
            errors_.push_back(std::to_string(r.status) + " " + r.error + r.body);
        }
      }
    });
  }
  ~ClientLoop() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t failed() const { return failed_; }
  std::string errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& e : errors_) out += e + "\n";
    return out;
  }
  bool wait_for(std::uint64_t n, Clock::duration timeout) {
    return poll_until(timeout, [&] { return total_ >= n; });
  }

 private:
  const Sherlock& s_;
  std::string target_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> total_{0}, failed_{0};
  std::mutex mutex_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

TEST_F(SherlockCanary, NinetyTenOverTenThousandRequests) {
  TestService v1, v2;
  put("emitter", "v1-a", v1, "1");
  put("emitter", "v2-a", v2, "2");
  route("emitter",
        json::array({{{"version", "1"}, {"weight", 90}}, {{"version", "2"}, {"weight", 10}}}));
  start();
  ASSERT_TRUE(poll_until(10s, [&] {
    auto w = sherlock->weights("emitter");
    return w["v1-a"] == 252 && w["v2-a"] == 28;
  })) << sherlock->status().dump();

  const int n = 10000;
  for (int i = 0; i < n; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  const double share = 100.0 * static_cast<double>(v2.requests()) / n;
  EXPECT_NEAR(share, 10.0, 1.0) << "v1 " << v1.requests() << " v2 " << v2.requests();
  EXPECT_EQ(v1.requests() + v2.requests(), static_cast<std::uint64_t>(n));
}

TEST_F(SherlockCanary, ConsumerRouteWinsOverTheGlobalOne) {
  TestService v1, v2;
  put("emitter", "v1-a", v1, "1");
  put("emitter", "v2-a", v2, "2");
  route("emitter", json::array({{{"version", "1"}, {"weight", 100}}}));
  route("emitter", json::array({{{"version", "2"}, {"weight", 100}}}), "monolith");
  SherlockOptions o;
  o.consumer = "monolith";
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(v1.requests(), 0u);
  EXPECT_EQ(v2.requests(), 50u);

  // The consumer's route removed: the global one applies, at runtime.
  ASSERT_EQ(directory.del("/v1/routes/emitter?consumer=monolith").status, 200);
  ASSERT_TRUE(poll_until(10s, [&] { return sherlock->weights("emitter")["v2-a"] == 0; }));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(v1.requests(), 50u);
}

TEST_F(SherlockCanary, KilledVersionCostsNoRequest) {
  TestService v1, v2;
  put("emitter", "v1-a", v1, "1");
  put("emitter", "v2-a", v2, "2");
  route("emitter",
        json::array({{{"version", "1"}, {"weight", 50}}, {{"version", "2"}, {"weight", 50}}}));
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));

  ClientLoop loop(*sherlock, "/emitter/");
  ASSERT_TRUE(loop.wait_for(200, 20s));
  v2.set_mode(TestService::Mode::stopped);  // the process dies: connections refused
  const auto at_kill = loop.total();
  ASSERT_TRUE(loop.wait_for(at_kill + 300, 20s));
  // watson notices and deregisters it: version 2's share goes to version 1.
  ASSERT_EQ(directory.del("/v1/services/emitter/instances/v2-a").status, 200);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const auto v1_before = v1.requests();
  const auto at_delete = loop.total();
  ASSERT_TRUE(loop.wait_for(at_delete + 200, 20s));
  loop.finish();
  EXPECT_EQ(loop.failed(), 0u) << loop.errors();
  // 100 % to version 1; the one request in flight across the two counts may fall either side.
  EXPECT_GE(v1.requests() - v1_before + 1, loop.total() - at_delete);
}

TEST_F(SherlockCanary, HitlessWhileInstancesWeightsAndServicesChange) {
  TestService a, b, c, t;
  put("emitter", "a", a, "1");
  put("emitter", "b", b, "1");
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");

  ClientLoop loop(*sherlock, "/emitter/x");
  ASSERT_TRUE(loop.wait_for(100, 20s));
  for (int round = 0; round < 5; ++round) {
    put("emitter", "c", c, "1");                   // an instance appears
    put("emitter", "a", a, "1", 10 + round * 40);  // a weight changes
    ASSERT_EQ(directory.del("/v1/services/emitter/instances/b").status, 200);  // one goes
    ASSERT_TRUE(loop.wait_for(loop.total() + 50, 20s));
    put("emitter", "b", b, "1");  // and comes back
    ASSERT_EQ(directory.del("/v1/services/emitter/instances/c").status, 200);
    ASSERT_TRUE(loop.wait_for(loop.total() + 50, 20s));
  }
  put("transform", "t1", t, "1");  // a new service: a reload under load
  ASSERT_TRUE(sherlock->wait_applied("transform", 1));
  ASSERT_TRUE(loop.wait_for(loop.total() + 100, 20s));
  loop.finish();
  EXPECT_EQ(loop.failed(), 0u) << loop.errors();
  EXPECT_GT(loop.total(), 500u);
  EXPECT_GE(sherlock->metric("dstack_sherlock_reloads_total"), reloads + 1);
  EXPECT_EQ(sherlock->get("/transform/").status, 200);
}

}  // namespace
}  // namespace dstack::test
