// SPDX-License-Identifier: Apache-2.0
// The etcd backend's key layout and the reading of key-values as etcd's gateway sends them.
#include "common/registry/etcd_entries.hpp"

#include <gtest/gtest.h>

#include "common/registry/etcd_keys.hpp"

namespace dstack::registry::etcd {
namespace {

using nlohmann::json;

TEST(Base64, RoundTripsEveryLengthAndBinary) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff/x", 4)}) {
    auto back = base64_decode(base64_encode(s));
    ASSERT_TRUE(back) << s;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(base64_encode("/x/a"), "L3gvYQ==");  // as etcd itself spells it
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_FALSE(base64_decode("!!!!"));
}

TEST(RangeEnd, IsTheFirstKeyAfterThePrefix) {
  EXPECT_EQ(range_end("/dstack/"), "/dstack0");
  EXPECT_EQ(range_end(std::string("a\xff")), "b");
  EXPECT_EQ(range_end(std::string("\xff")), std::string(1, '\0'));
}

TEST(KeyLayout, SpellsAndSplitsInstanceAndRouteKeys) {
  KeyLayout keys("/dstack");
  EXPECT_EQ(keys.instance("emitter", "vm101"), "/dstack/instances/emitter/vm101");
  EXPECT_EQ(keys.route("emitter", ""), "/dstack/routes/emitter");
  EXPECT_EQ(keys.route("emitter", "monolith"), "/dstack/routes/emitter/monolith");

  auto in = keys.parse("/dstack/instances/emitter/10.0.0.1:80");
  ASSERT_TRUE(in);
  EXPECT_EQ(in->kind, ParsedKey::Kind::instance);
  EXPECT_EQ(in->service, "emitter");
  EXPECT_EQ(in->name, "10.0.0.1:80");
  auto everyone = keys.parse("/dstack/routes/emitter");
  ASSERT_TRUE(everyone);
  EXPECT_EQ(everyone->kind, ParsedKey::Kind::route);
  EXPECT_EQ(everyone->name, "");
  auto theirs = keys.parse("/dstack/routes/emitter/monolith");
  ASSERT_TRUE(theirs);
  EXPECT_EQ(theirs->name, "monolith");

  EXPECT_EQ(keys.policy("emitter"), "/dstack/policies/emitter");
  auto policy = keys.parse("/dstack/policies/emitter");
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->kind, ParsedKey::Kind::policy);
  EXPECT_EQ(policy->service, "emitter");
  EXPECT_FALSE(keys.parse("/dstack/policies/emitter/x"));  // no deeper keys

  EXPECT_FALSE(keys.parse("/dstack/instances/emitter"));  // no id
  EXPECT_FALSE(keys.parse("/dstack/routes/emitter/"));    // empty consumer
  EXPECT_FALSE(keys.parse("/dstack/leases/1"));           // not ours to read
  EXPECT_FALSE(keys.parse("/dstackx/instances/a/b"));     // another prefix
}

json kv(const std::string& key, const std::string& value, std::uint64_t revision = 7) {
  return json{{"key", base64_encode(key)},
              {"value", base64_encode(value)},
              {"mod_revision", std::to_string(revision)}};
}

TEST(ReadEntry, AValidInstanceTakesItsNamesFromTheKeyAndItsRevisionFromEtcd) {
  KeyLayout keys("/dstack");
  auto e =
      read_entry(keys,
                 kv("/dstack/instances/emitter/vm101",
                    R"({"lease":"5","url":"http://10.0.0.1:80/emitter","version":"2","weight":10,)"
                    R"("health":"warning","tags":["a"],"meta":{"k":"v"}})",
                    42),
                 false);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->problem.empty()) << e->problem;
  ASSERT_TRUE(e->instance);
  EXPECT_EQ(e->instance->service, "emitter");
  EXPECT_EQ(e->instance->id, "vm101");
  EXPECT_EQ(e->instance->weight, 10);
  EXPECT_EQ(e->instance->revision, 42u);
  auto event = to_event(*e);
  EXPECT_EQ(event.type, model::Event::Type::instance_put);
  EXPECT_EQ(event.revision, 42u);
}

TEST(ReadEntry, WhatWeWriteIsWhatWeRead) {
  KeyLayout keys("/p");
  model::Instance in;
  in.service = "emitter";
  in.id = "vm101";
  in.lease = "694d7b1e3c1c2a05";
  in.url = "https://10.0.0.1:8443/emitter";
  in.tags = {"x"};
  in.meta = {{"zone", "b"}};
  in.protocol = model::Protocol::http2;  // kept in etcd as the directory keeps it
  auto e = read_entry(keys, kv(keys.instance("emitter", "vm101"), instance_value(in), 3), false);
  ASSERT_TRUE(e && e->instance) << (e ? e->problem : "not ours");
  in.revision = 3;
  EXPECT_EQ(*e->instance, in);

  model::Route r;
  r.service = "emitter";
  r.consumer = "monolith";
  r.targets = {{"1", 90}, {"2", 10}};
  auto re = read_entry(keys, kv(keys.route("emitter", "monolith"), route_value(r), 4), false);
  ASSERT_TRUE(re && re->route) << (re ? re->problem : "not ours");
  r.revision = 4;
  EXPECT_EQ(*re->route, r);

  model::TrafficPolicy p;
  p.service = "emitter";
  p.retries = 2;
  p.queue_timeout = std::chrono::milliseconds(0);
  p.max_conn = 9;
  p.balance = model::Balance{model::Balance::Kind::cookie, "sid"};
  auto pe = read_entry(keys, kv(keys.policy("emitter"), policy_value(p), 5), false);
  ASSERT_TRUE(pe && pe->policy) << (pe ? pe->problem : "not ours");
  p.revision = 5;
  EXPECT_EQ(*pe->policy, p);
  auto event = to_event(*pe);
  EXPECT_EQ(event.type, model::Event::Type::policy_put);
  EXPECT_EQ(event.policy, p);
}

// A hand-written policy that would inject into HAProxy's config counts as absent: its service
// is served with sherlock's defaults.
TEST(ReadEntry, AnInvalidPolicyCountsAsAbsent) {
  KeyLayout keys("/dstack");
  auto e = read_entry(
      keys, kv("/dstack/policies/emitter", R"({"balance":"hash:header:X\n  server evil 1:80"})"),
      false);
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->policy);
  EXPECT_NE(e->problem.find("balance"), std::string::npos) << e->problem;
  EXPECT_EQ(to_event(*e).type, model::Event::Type::policy_delete);
  auto unknown = read_entry(keys, kv("/dstack/policies/emitter", R"({"retries":1,"x":1})"), false);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->problem, "unknown field \"x\"");
}

TEST(ReadEntry, InvalidValuesCountAsAbsentAndSayWhy) {
  KeyLayout keys("/dstack");
  auto injected = read_entry(keys,
                             kv("/dstack/instances/emitter/vm101",
                                R"({"lease":"5","url":"http://a/x\n  server evil 1.2.3.4:80"})"),
                             false);
  ASSERT_TRUE(injected);
  EXPECT_FALSE(injected->instance);
  EXPECT_NE(injected->problem.find("url"), std::string::npos) << injected->problem;
  EXPECT_EQ(to_event(*injected).type, model::Event::Type::instance_delete);

  auto not_json = read_entry(keys, kv("/dstack/routes/emitter", "{"), false);
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->problem, "the value is not JSON");
  EXPECT_EQ(to_event(*not_json).type, model::Event::Type::route_delete);

  auto bad_name = read_entry(keys, kv("/dstack/instances/Bad/vm101", "{}"), false);
  ASSERT_TRUE(bad_name);
  EXPECT_FALSE(bad_name->names_valid);
  EXPECT_NE(bad_name->problem.find("service"), std::string::npos);

  json no_base64{{"key", base64_encode("/dstack/routes/emitter")}, {"value", "%%%%"}};
  auto undecodable = read_entry(keys, no_base64, false);
  ASSERT_TRUE(undecodable);
  EXPECT_EQ(undecodable->problem, "the value is not base64");
}

TEST(ReadEntry, ADeleteNeedsNoValue) {
  KeyLayout keys("/dstack");
  json deleted{{"key", base64_encode("/dstack/instances/emitter/vm101")}, {"mod_revision", "9"}};
  auto e = read_entry(keys, deleted, true);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->problem.empty());
  auto event = to_event(*e);
  EXPECT_EQ(event.type, model::Event::Type::instance_delete);
  EXPECT_EQ(event.id, "vm101");
  EXPECT_EQ(event.revision, 9u);
}

TEST(Fields, ReadInt64sSentAsStringsAndToleratesWhatIsMissing) {
  json j{{"revision", "18446744073709551615"}, {"n", 5}, {"bad", "12x"}, {"s", "text"}};
  EXPECT_EQ(number_field(j, "revision"), 18446744073709551615ull);
  EXPECT_EQ(number_field(j, "n"), 5u);
  EXPECT_EQ(number_field(j, "bad"), 0u);
  EXPECT_EQ(number_field(j, "missing"), 0u);
  EXPECT_EQ(number_field(json::array(), "x"), 0u);
  EXPECT_EQ(string_field(j, "s"), "text");
  EXPECT_EQ(string_field(j, "n"), "");
  EXPECT_TRUE(field(j, "missing").is_null());
  EXPECT_TRUE(field(json(3), "x").is_null());
}

}  // namespace
}  // namespace dstack::registry::etcd
