// SPDX-License-Identifier: Apache-2.0
// sherlock's copy of the directory: snapshots and events in, services out, and the rule that
// nothing is removed while the directory is not synced.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sherlock/directory_view.hpp"

namespace dstack::sherlock {
namespace {

model::Instance instance(const std::string& service, const std::string& id, int weight = 100) {
  model::Instance i;
  i.service = service;
  i.id = id;
  i.lease = "l1";
  i.url = "http://10.0.0.1:8080/" + service;
  i.weight = weight;
  return i;
}

model::Route route(const std::string& service, const std::string& consumer, int v2) {
  return model::Route{service, consumer, {{"2", v2}}, 0};
}

model::Snapshot snapshot(std::vector<model::Instance> instances, bool synced = true,
                         std::vector<model::Route> routes = {}) {
  model::Snapshot s;
  s.revision = 10;
  s.epoch = "e1";
  s.synced = synced;
  s.instances = std::move(instances);
  s.routes = std::move(routes);
  return s;
}

model::Event put(const model::Instance& i, std::uint64_t rev) {
  model::Event e;
  e.type = model::Event::Type::instance_put;
  e.revision = rev;
  e.service = i.service;
  e.id = i.id;
  e.instance = i;
  return e;
}

model::Event del(const std::string& service, const std::string& id, std::uint64_t rev) {
  model::Event e;
  e.type = model::Event::Type::instance_delete;
  e.revision = rev;
  e.service = service;
  e.id = id;
  return e;
}

std::vector<std::string> ids(const DirectoryView& v, const std::string& service) {
  std::vector<std::string> out;
  auto s = v.services().find(service);
  if (s == v.services().end()) return out;
  for (const auto& i : s->second.instances) out.push_back(i.id);
  return out;
}

TEST(DirectoryViewTest, SnapshotThenEvents) {
  DirectoryView v;
  auto changed = v.load(snapshot({instance("emitter", "b"), instance("emitter", "a")}, true,
                                 {route("emitter", "", 10)}));
  EXPECT_EQ(changed, (std::set<std::string>{"emitter"}));
  EXPECT_EQ(ids(v, "emitter"), (std::vector<std::string>{"a", "b"}));  // sorted by id
  EXPECT_EQ(v.revision(), 10u);
  EXPECT_EQ(v.epoch(), "e1");

  EXPECT_EQ(v.apply(put(instance("barker", "c"), 11)), "barker");
  EXPECT_EQ(v.apply(put(instance("emitter", "a", 50), 12)), "emitter");     // weight change
  EXPECT_EQ(v.apply(put(instance("emitter", "a", 50), 13)), std::nullopt);  // same again
  EXPECT_EQ(v.apply(del("emitter", "b", 14)), "emitter");
  EXPECT_EQ(v.apply(del("emitter", "zz", 15)), std::nullopt);
  EXPECT_EQ(ids(v, "emitter"), (std::vector<std::string>{"a"}));
  EXPECT_EQ(v.services().at("emitter").instances[0].weight, 50);
  EXPECT_EQ(v.revision(), 15u);
  v.seen(20);
  EXPECT_EQ(v.revision(), 20u);
}

TEST(DirectoryViewTest, RoutesArePerConsumer) {
  DirectoryView v;
  v.load(snapshot({}));
  model::Event e;
  e.type = model::Event::Type::route_put;
  e.revision = 11;
  e.service = "emitter";
  e.route = route("emitter", "", 10);
  EXPECT_EQ(v.apply(e), "emitter");
  e.route = route("emitter", "monolith", 50);
  e.consumer = "monolith";
  EXPECT_EQ(v.apply(e), "emitter");
  ASSERT_EQ(v.services().at("emitter").routes.size(), 2u);
  model::Event d;
  d.type = model::Event::Type::route_delete;
  d.revision = 12;
  d.service = "emitter";
  d.consumer = "monolith";
  EXPECT_EQ(v.apply(d), "emitter");
  ASSERT_EQ(v.services().at("emitter").routes.size(), 1u);
  EXPECT_EQ(v.services().at("emitter").routes[0].consumer, "");
  d.consumer = "";
  v.apply(d);
  EXPECT_EQ(v.services().count("emitter"), 0u);  // nothing left of it
}

TEST(DirectoryViewTest, NothingIsRemovedWhileTheDirectoryIsNotSynced) {
  DirectoryView v;
  v.load(snapshot({instance("emitter", "a"), instance("emitter", "b")}));
  // The directory restarted: its first snapshot lacks b, whose watson has not come back yet.
  auto changed = v.load(snapshot({instance("emitter", "a")}, false));
  EXPECT_TRUE(changed.empty());
  EXPECT_EQ(ids(v, "emitter"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.held().size(), 1u);
  EXPECT_FALSE(v.synced());
  // A delete while not synced is held too; a put of a held instance makes it current again.
  EXPECT_EQ(v.apply(del("emitter", "a", 11)), std::nullopt);
  EXPECT_EQ(ids(v, "emitter"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.held().size(), 2u);
  v.apply(put(instance("emitter", "b"), 12));
  EXPECT_EQ(v.held().size(), 1u);
  // Synced again: the next snapshot is the truth, held instances go.
  changed = v.load(snapshot({instance("emitter", "b")}, true));
  EXPECT_EQ(changed, (std::set<std::string>{"emitter"}));
  EXPECT_EQ(ids(v, "emitter"), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(v.held().empty());
}

model::TrafficPolicy policy(const std::string& service, int retries) {
  model::TrafficPolicy p;
  p.service = service;
  p.retries = retries;
  return p;
}

// Policies arrive in snapshots and events like routes; a policy alone keeps a service in the
// view, and a service with nothing left leaves it.
TEST(DirectoryViewTest, PoliciesComeAndGoWithTheirService) {
  DirectoryView v;
  auto s = snapshot({instance("emitter", "a")});
  s.policies = {policy("emitter", 2), policy("barker", 1)};
  auto changed = v.load(s);
  EXPECT_EQ(changed, (std::set<std::string>{"barker", "emitter"}));
  EXPECT_EQ(v.services().at("emitter").policy, policy("emitter", 2));
  EXPECT_TRUE(v.services().at("barker").instances.empty());

  model::Event e;
  e.type = model::Event::Type::policy_put;
  e.revision = 11;
  e.service = "emitter";
  e.policy = policy("emitter", 2);
  EXPECT_EQ(v.apply(e), std::nullopt);  // the same policy again changes nothing
  e.policy = policy("emitter", 3);
  EXPECT_EQ(v.apply(e), "emitter");
  EXPECT_EQ(v.services().at("emitter").policy, policy("emitter", 3));

  model::Event d;
  d.type = model::Event::Type::policy_delete;
  d.revision = 12;
  d.service = "barker";
  EXPECT_EQ(v.apply(d), "barker");
  EXPECT_EQ(v.services().count("barker"), 0u);
  EXPECT_EQ(v.apply(d), std::nullopt);

  // A snapshot without emitter's policy drops it; the same snapshot again changes nothing.
  EXPECT_EQ(v.load(snapshot({instance("emitter", "a")})), std::set<std::string>{"emitter"});
  EXPECT_FALSE(v.services().at("emitter").policy.has_value());
  EXPECT_TRUE(v.load(snapshot({instance("emitter", "a")})).empty());
}

TEST(DirectoryViewTest, RoundTripsThroughASnapshot) {
  DirectoryView v;
  v.load(snapshot({instance("emitter", "a"), instance("barker", "c")}, true,
                  {route("emitter", "monolith", 20)}));
  v.apply(put(instance("emitter", "b"), 11));
  model::Event p;
  p.type = model::Event::Type::policy_put;
  p.revision = 12;
  p.service = "emitter";
  p.policy = policy("emitter", 4);
  v.apply(p);
  DirectoryView copy;
  copy.load(v.to_snapshot());
  EXPECT_EQ(copy.services().size(), v.services().size());
  EXPECT_EQ(ids(copy, "emitter"), ids(v, "emitter"));
  EXPECT_EQ(copy.services().at("emitter").routes, v.services().at("emitter").routes);
  EXPECT_EQ(copy.services().at("emitter").policy, policy("emitter", 4));
  EXPECT_EQ(copy.revision(), 12u);
}

}  // namespace
}  // namespace dstack::sherlock
