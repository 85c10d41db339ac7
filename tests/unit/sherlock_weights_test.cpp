// SPDX-License-Identifier: Apache-2.0
// sherlock's canary weights: which route applies, how versions and instances split a service's
// traffic, and the integer HAProxy weights that reproduce the split. No sockets, no clock.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sherlock/weights.hpp"

namespace dstack::sherlock {

void PrintTo(const ServerWeight& w, std::ostream* os) {
  *os << w.id << "=" << w.weight << " (" << w.share << ")";
}

namespace {

using model::Health;
using model::Instance;
using model::Route;
using model::RouteTarget;
using Targets = std::vector<RouteTarget>;

Instance inst(std::string id, std::string version, int weight = 100,
              Health health = Health::passing) {
  Instance i;
  i.service = "emitter";
  i.id = std::move(id);
  i.version = std::move(version);
  i.weight = weight;
  i.health = health;
  return i;
}

Route route(Targets targets, std::string consumer = "") {
  return Route{"emitter", std::move(consumer), std::move(targets), 1};
}

std::map<std::string, double> shares(const std::vector<ServerWeight>& ws) {
  std::map<std::string, double> out;
  for (const auto& w : ws) out[w.id] = w.share;
  return out;
}

std::map<std::string, int> weights(const std::vector<ServerWeight>& ws) {
  std::map<std::string, int> out;
  for (const auto& w : ws) out[w.id] = w.weight;
  return out;
}

// What HAProxy will actually send to each version: its servers' weights over all weights.
std::map<std::string, double> observed(const std::vector<Instance>& instances,
                                       const std::vector<ServerWeight>& ws) {
  std::map<std::string, std::string> version;
  for (const auto& i : instances) version[i.id] = i.version;
  double total = 0;
  for (const auto& w : ws) total += w.weight;
  std::map<std::string, double> out;
  for (const auto& w : ws) out[version[w.id]] += total > 0 ? w.weight / total : 0.0;
  return out;
}

std::map<std::string, double> exact(const std::vector<Instance>& instances,
                                    const std::vector<ServerWeight>& ws) {
  std::map<std::string, std::string> version;
  for (const auto& i : instances) version[i.id] = i.version;
  std::map<std::string, double> out;
  for (const auto& w : ws) out[version[w.id]] += w.share;
  return out;
}

constexpr double eps = 1e-9;

// Ids and weights exactly, shares to rounding.
void expect_split(const std::vector<ServerWeight>& got, const std::vector<ServerWeight>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "entry " << i;
    EXPECT_EQ(got[i].weight, want[i].weight) << got[i].id;
    EXPECT_NEAR(got[i].share, want[i].share, eps) << got[i].id;
  }
}

// ---- which route ----

TEST(EffectiveRouteTest, ConsumerRouteWinsOverTheGlobalOne) {
  const std::vector<Route> routes{route({{"2", 10}}), route({{"2", 50}}, "web")};
  EXPECT_EQ(effective_route(routes, "web"), &routes[1]);
  EXPECT_EQ(effective_route(routes, "api"), &routes[0]);
  // A host without a consumer name only ever sees the route for everyone.
  EXPECT_EQ(effective_route(routes, ""), &routes[0]);
  EXPECT_EQ(effective_route({route({{"2", 50}}, "web")}, "api"), nullptr);
  EXPECT_EQ(effective_route({}, "web"), nullptr);
}

TEST(ServerWeightsTest, ConsumerRouteDecidesTheSplit) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2")};
  const std::vector<Route> routes{route({{"2", 10}}), route({{"2", 50}}, "web")};
  EXPECT_NEAR(shares(server_weights(in, routes, "web"))["b"], 0.5, eps);
  EXPECT_NEAR(shares(server_weights(in, routes, "api"))["b"], 0.1, eps);
  EXPECT_NEAR(shares(server_weights(in, routes, ""))["b"], 0.1, eps);
}

TEST(ServerWeightsTest, DeadConsumerRouteFallsBackByWeightNotToTheGlobalRoute) {
  const std::vector<Instance> in{inst("a", "1", 100), inst("b", "2", 50),
                                 inst("c", "3", 100, Health::critical)};
  const std::vector<Route> routes{route({{"2", 10}}), route({{"3", 100}}, "web")};
  auto s = shares(server_weights(in, routes, "web"));
  EXPECT_NEAR(s["a"], 2.0 / 3, eps);
  EXPECT_NEAR(s["b"], 1.0 / 3, eps);
}

// ---- the rules of docs/sherlock.md#canary-weights ----

TEST(ServerWeightsTest, NoRouteSplitsByInstanceWeight) {
  const std::vector<Instance> in{inst("a", "1", 100), inst("b", "2", 50), inst("c", "1", 0)};
  auto w = server_weights(in, {}, "");
  expect_split(w, {{"a", 256, 2.0 / 3}, {"b", 128, 1.0 / 3}, {"c", 0, 0}});
}

TEST(ServerWeightsTest, CanaryNinetyTenOneInstanceEach) {
  const std::vector<Instance> in{inst("vm101:80", "1"), inst("vm102:80", "2")};
  auto w = server_weights(in, {route({{"2", 10}})}, "");
  // 252:28 is exactly 90/10; 256:28 would be 90.14/9.86.
  expect_split(w, {{"vm101:80", 252, 0.9}, {"vm102:80", 28, 0.1}});
}

TEST(ServerWeightsTest, CanaryNinetyTenSeveralInstancesUnequalWeights) {
  const std::vector<Instance> in{inst("a", "1", 100), inst("b", "1", 100), inst("c", "1", 50),
                                 inst("d", "2", 200), inst("e", "2", 100)};
  auto w = server_weights(in, {route({{"2", 10}})}, "");
  auto s = shares(w);
  EXPECT_NEAR(s["a"], 0.36, eps);
  EXPECT_NEAR(s["b"], 0.36, eps);
  EXPECT_NEAR(s["c"], 0.18, eps);
  EXPECT_NEAR(s["d"], 0.2 / 3, eps);
  EXPECT_NEAR(s["e"], 0.1 / 3, eps);
  auto o = observed(in, w);
  EXPECT_NEAR(o["1"], 0.9, 0.005);
  EXPECT_NEAR(o["2"], 0.1, 0.005);
  // 108:108:54:20:10 is the exact ratio, so M = 216 beats 256.
  EXPECT_EQ(weights(w),
            (std::map<std::string, int>{{"a", 216}, {"b", 216}, {"c", 108}, {"d", 40}, {"e", 20}}));
}

TEST(ServerWeightsTest, UnlistedVersionsShareTheRestAsOnePoolByWeight) {
  // v1 has two instances, v2 one: the 80 % rest goes 2:1, not 1:1 per version.
  const std::vector<Instance> in{inst("a", "1"), inst("b", "1"), inst("c", "2"), inst("d", "3")};
  auto s = shares(server_weights(in, {route({{"3", 20}})}, ""));
  EXPECT_NEAR(s["a"], 0.8 / 3, eps);
  EXPECT_NEAR(s["b"], 0.8 / 3, eps);
  EXPECT_NEAR(s["c"], 0.8 / 3, eps);
  EXPECT_NEAR(s["d"], 0.2, eps);
}

TEST(ServerWeightsTest, ADownVersionsShareGoesToTheOthersProportionally) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2", 100, Health::critical),
                                 inst("c", "2", 0), inst("d", "3")};
  auto w = server_weights(in, {route({{"1", 70}, {"2", 20}})}, "");
  auto s = shares(w);
  EXPECT_NEAR(s["a"], 0.875, eps);
  EXPECT_NEAR(s["d"], 0.125, eps);
  EXPECT_EQ(weights(w), (std::map<std::string, int>{{"a", 252}, {"b", 0}, {"c", 0}, {"d", 36}}));
}

TEST(ServerWeightsTest, AListedVersionWithoutInstancesIsADownVersion) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2")};
  auto s = shares(server_weights(in, {route({{"9", 50}, {"2", 25}})}, ""));
  EXPECT_NEAR(s["a"], 0.5, eps);
  EXPECT_NEAR(s["b"], 0.5, eps);
}

TEST(ServerWeightsTest, EveryRoutedVersionDownFallsBackToAllRoutableByWeight) {
  const std::vector<Instance> in{inst("a", "1", 100), inst("b", "1", 50),
                                 inst("c", "2", 100, Health::maintenance),
                                 inst("d", "2", 100, Health::critical)};
  auto w = server_weights(in, {route({{"2", 100}})}, "");
  expect_split(w, {{"a", 256, 2.0 / 3}, {"b", 128, 1.0 / 3}, {"c", 0, 0}, {"d", 0, 0}});
}

TEST(ServerWeightsTest, ZeroPercentGetsNothingWhileAnotherVersionCan) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2")};
  expect_split(server_weights(in, {route({{"1", 100}, {"2", 0}})}, ""),
               {{"a", 256, 1}, {"b", 0, 0}});
  expect_split(server_weights(in, {route({{"2", 0}})}, ""), {{"a", 256, 1}, {"b", 0, 0}});
  // ... but takes everything rather than leave a hole.
  const std::vector<Instance> v1_down{inst("a", "1", 100, Health::critical), inst("b", "2")};
  expect_split(server_weights(v1_down, {route({{"1", 100}, {"2", 0}})}, ""),
               {{"a", 0, 0}, {"b", 256, 1}});
}

TEST(ServerWeightsTest, PercentsUnderHundredWithNoUnlistedVersionScaleUp) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2"),
                                 inst("c", "3", 100, Health::critical)};
  auto s = shares(server_weights(in, {route({{"1", 30}, {"2", 20}})}, ""));
  EXPECT_NEAR(s["a"], 0.6, eps);
  EXPECT_NEAR(s["b"], 0.4, eps);
  EXPECT_EQ(s["c"], 0);
}

TEST(ServerWeightsTest, PercentsAtHundredLeaveUnlistedVersionsNothing) {
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2"), inst("c", "3")};
  auto w = weights(server_weights(in, {route({{"1", 60}, {"2", 40}})}, ""));
  EXPECT_EQ(w, (std::map<std::string, int>{{"a", 255}, {"b", 170}, {"c", 0}}));
}

TEST(ServerWeightsTest, OnlyPassingAndWarningWithWeightTakeTraffic) {
  const std::vector<Instance> in{
      inst("a", "1", 100, Health::passing), inst("b", "1", 100, Health::warning),
      inst("c", "1", 100, Health::critical), inst("d", "1", 100, Health::maintenance),
      inst("e", "1", 0, Health::passing)};
  expect_split(server_weights(in, {}, ""),
               {{"a", 256, 0.5}, {"b", 256, 0.5}, {"c", 0, 0}, {"d", 0, 0}, {"e", 0, 0}});
}

TEST(ServerWeightsTest, NothingRoutableMeansAllZero) {
  const std::vector<Instance> in{inst("a", "1", 0), inst("b", "2", 100, Health::critical)};
  expect_split(server_weights(in, {route({{"2", 10}})}, ""), {{"a", 0, 0}, {"b", 0, 0}});
  EXPECT_TRUE(server_weights({}, {}, "").empty());
}

TEST(ServerWeightsTest, OneEntryPerInstanceSortedById) {
  const std::vector<Instance> in{inst("c", "1"), inst("a", "1", 100, Health::critical),
                                 inst("b", "2")};
  auto w = server_weights(in, {}, "");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].id, "a");
  EXPECT_EQ(w[1].id, "b");
  EXPECT_EQ(w[2].id, "c");
}

TEST(ServerWeightsTest, UnvalidatedInputStaysInRange) {
  // Weight above 256 counts as 256; percents summing past 100 are proportions; the first
  // listing of a version counts.
  const std::vector<Instance> in{inst("a", "1", 1000), inst("b", "1", 256), inst("c", "2")};
  auto w = server_weights(in, {route({{"1", 80}, {"2", 70}, {"1", 5}})}, "");
  auto s = shares(w);
  EXPECT_NEAR(s["a"] + s["b"], 8.0 / 15, eps);
  EXPECT_NEAR(s["a"], s["b"], eps);
  EXPECT_NEAR(s["c"], 7.0 / 15, eps);
  for (const auto& x : w) EXPECT_LE(x.weight, 256);
}

// ---- integer weights ----

TEST(HaproxyWeightsTest, ExactRatiosComeOutExact) {
  EXPECT_EQ(haproxy_weights({1.0 / 3, 2.0 / 3}), (std::vector<int>{128, 256}));
  EXPECT_EQ(haproxy_weights({1.0 / 3, 1.0 / 3, 1.0 / 3}), (std::vector<int>{256, 256, 256}));
  EXPECT_EQ(haproxy_weights({0.9, 0.1}), (std::vector<int>{252, 28}));
  // One server at 50 % beside a hundred sharing 50 %: 256:3 would send 54 % to the hundred.
  std::vector<double> fleet(101, 0.005);
  fleet[0] = 0.5;
  auto w = haproxy_weights(fleet);
  EXPECT_EQ(w[0], 200);
  for (std::size_t i = 1; i < w.size(); ++i) EXPECT_EQ(w[i], 2);
}

TEST(HaproxyWeightsTest, TinySharesStillGetOne) {
  EXPECT_EQ(haproxy_weights({0.999, 0.001}), (std::vector<int>{256, 1}));
  EXPECT_EQ(haproxy_weights({1.0, 1e-12, 0.0}), (std::vector<int>{256, 1, 0}));
  // Through a route: v2 at 1 %, split 1:9, gives an instance 0.1 %.
  const std::vector<Instance> in{inst("a", "1"), inst("b", "2", 1), inst("c", "2", 9)};
  auto w = server_weights(in, {route({{"2", 1}})}, "");
  EXPECT_NEAR(shares(w)["b"], 0.001, eps);
  EXPECT_GE(weights(w)["b"], 1);
}

TEST(HaproxyWeightsTest, TinySharesCostTheOthers) {
  // Each server held at 1 takes ~1/257 of the traffic whatever its share: 99 % becomes 98.1 %.
  EXPECT_EQ(haproxy_weights({0.99, 0.002, 0.002, 0.002, 0.002, 0.002}),
            (std::vector<int>{256, 1, 1, 1, 1, 1}));
}

TEST(HaproxyWeightsTest, NoTrafficGivesZeros) {
  EXPECT_EQ(haproxy_weights({0.0, 0.0}), (std::vector<int>{0, 0}));
  EXPECT_TRUE(haproxy_weights({}).empty());
}

// ---- properties over random services ----

// Total variation distance between the integer split and the exact one.
double distance(const std::vector<ServerWeight>& ws) {
  double total = 0, d = 0;
  for (const auto& w : ws) total += w.weight;
  for (const auto& w : ws) d += std::abs(w.weight / total - w.share);
  return d / 2;
}

TEST(ServerWeightsPropertyTest, RandomServices) {
  std::mt19937 rng(20240611);  // mt19937's sequence is fixed by the standard; distributions are not
  auto pick = [&rng](std::uint32_t n) { return static_cast<int>(rng() % n); };
  const std::vector<std::string> versions{"1", "2", "3", "4", "9"};  // "9" never has instances
  const Health healths[] = {Health::passing, Health::passing,  Health::passing,
                            Health::warning, Health::critical, Health::maintenance};
  for (int round = 0; round < 5000; ++round) {
    std::vector<Instance> in;
    for (int v = 0; v < 4; ++v) {
      for (int n = pick(5); n > 0; --n) {
        const int weights[] = {0, 1, 100, 100, 256, 1 + pick(256)};
        in.push_back(
            inst("i" + std::to_string(in.size()), versions[v], weights[pick(6)], healths[pick(6)]));
      }
    }
    std::vector<Route> routes;
    for (const std::string consumer : {"", "web"}) {
      if (pick(3) == 0) continue;
      Targets t;
      int left = 100;
      for (const auto& v : versions) {
        if (pick(2) == 0) continue;
        const int p = pick(3) == 0 ? left : pick(left + 1);
        t.push_back({v, p});
        left -= p;
      }
      routes.push_back(route(t, consumer));
    }
    const std::string consumer = pick(2) ? "web" : "";
    const auto ws = server_weights(in, routes, consumer);
    SCOPED_TRACE("round " + std::to_string(round));

    ASSERT_EQ(ws.size(), in.size());
    std::map<std::string, const Instance*> by_id;
    for (const auto& i : in) by_id[i.id] = &i;
    double total = 0, largest = 0;
    int n = 0;
    bool any_routable = false;
    for (const auto& w : ws) {
      const Instance& i = *by_id[w.id];
      const bool routable = model::routable(i.health) && i.weight > 0;
      any_routable = any_routable || routable;
      EXPECT_GE(w.weight, 0);
      EXPECT_LE(w.weight, 256);
      EXPECT_EQ(w.weight >= 1, w.share > 0) << w.id;
      if (!routable) {
        EXPECT_EQ(w.share, 0) << w.id;
      }
      total += w.share;
      largest = std::max(largest, w.share);
      if (w.share > 0) ++n;
    }
    if (!any_routable) {
      EXPECT_EQ(total, 0);
      continue;
    }
    EXPECT_NEAR(total, 1, eps);
    // A version that takes traffic takes it on every routable instance, in weight proportion.
    std::map<std::string, double> per_weight;
    for (const auto& w : ws) {
      const Instance& i = *by_id[w.id];
      if (!(model::routable(i.health) && i.weight > 0)) continue;
      if (!per_weight.contains(i.version)) per_weight[i.version] = w.share / i.weight;
      EXPECT_NEAR(w.share / i.weight, per_weight[i.version], eps) << w.id;
    }
    // The documented worst case holds always.
    int k = 0, tiny = 0;
    for (const auto& w : ws) {
      if (w.share > 0 && w.share < largest / 512) ++k;
      if (w.share > 0 && w.share < largest / 256) ++tiny;
    }
    EXPECT_LE(distance(ws), (n - 1.0 + k) / (513.0 - n + k) + eps);
    // What an operator compares with the route: versions match to a point, unless servers held at
    // weight 1 take more than their share (pinned in TinySharesCostTheOthers).
    if (tiny > 0) continue;
    const auto o = observed(in, ws);
    for (const auto& [version, share] : exact(in, ws)) {
      if (share < 0.05) continue;
      EXPECT_LE(std::abs(o.at(version) - share), 0.01) << "version " << version;
    }
  }
}

}  // namespace
}  // namespace dstack::sherlock
