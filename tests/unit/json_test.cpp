// SPDX-License-Identifier: Apache-2.0
#include "common/model/json.hpp"
#include "common/model/traffic_policy.hpp"
#include "common/model/validate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace dstack::model {
namespace {

using nlohmann::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kNameRule = "must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$";

template <class T>
T value_of(const std::variant<T, Problems>& r) {
  if (auto* p = std::get_if<Problems>(&r)) {
    ADD_FAILURE() << "refused: " << ::testing::PrintToString(*p);
    return T{};
  }
  return std::get<T>(r);
}

template <class T>
Problems problems_of(const std::variant<T, Problems>& r) {
  if (auto* p = std::get_if<Problems>(&r)) return *p;
  ADD_FAILURE() << "accepted what should have been refused";
  return {};
}

Instance sample_instance() {
  Instance i;
  i.service = "barker.internal";
  i.id = "10.0.0.1:8080";
  i.lease = "ab12";
  i.url = "http://10.0.0.1:8080/api";
  i.version = "2";
  i.weight = 50;
  i.health = Health::warning;
  i.tags = {"canary", "eu"};
  i.meta = {{"owner", "team web"}};
  i.revision = 42;
  return i;
}

Route sample_route(std::string consumer = "") {
  Route r;
  r.service = "barker";
  r.consumer = std::move(consumer);
  r.targets = {{"1", 90}, {"2", 10}};
  r.revision = 7;
  return r;
}

// Two instances and a global and a per-consumer route.
TrafficPolicy sample_policy() {
  TrafficPolicy p;
  p.service = "barker";
  p.retries = 2;
  p.retry_on = {"conn-failure", "503"};
  p.timeout = std::chrono::seconds(5);
  p.balance = Balance{Balance::Kind::cookie, "session"};
  p.revision = 4;
  return p;
}

Snapshot sample_snapshot() {
  Snapshot s{5,
             "e1",
             false,
             {sample_instance(), sample_instance()},
             {sample_route(), sample_route("web")}};
  s.instances[1].id = "other";
  s.policies.push_back(sample_policy());
  return s;
}

// ---- names ----

TEST(Names, HealthBothWays) {
  for (auto h : {Health::passing, Health::warning, Health::critical, Health::maintenance}) {
    EXPECT_EQ(health_from_string(to_string(h)), h);
  }
  EXPECT_STREQ(to_string(Health::maintenance), "maintenance");
  EXPECT_EQ(health_from_string("Passing"), std::nullopt);
  EXPECT_EQ(health_from_string(""), std::nullopt);
}

TEST(Names, EventTypes) {
  EXPECT_STREQ(to_string(Event::Type::instance_put), "instance_put");
  EXPECT_STREQ(to_string(Event::Type::instance_delete), "instance_delete");
  EXPECT_STREQ(to_string(Event::Type::route_put), "route_put");
  EXPECT_STREQ(to_string(Event::Type::route_delete), "route_delete");
  EXPECT_STREQ(to_string(Event::Type::policy_put), "policy_put");
  EXPECT_STREQ(to_string(Event::Type::policy_delete), "policy_delete");
}

// ---- wire shapes ----

TEST(WireShape, Lease) {
  Lease l{"ab12", std::chrono::seconds(10), "vm101"};
  EXPECT_EQ(to_json(l), json::parse(R"({"id":"ab12","ttl":10,"owner":"vm101"})"));
}

TEST(WireShape, Instance) {
  EXPECT_EQ(to_json(sample_instance()), json::parse(R"({
    "service":"barker.internal","id":"10.0.0.1:8080","lease":"ab12",
    "url":"http://10.0.0.1:8080/api","version":"2","weight":50,"health":"warning",
    "tags":["canary","eu"],"meta":{"owner":"team web"},"revision":42})"));
  Instance bare = sample_instance();
  bare.tags.clear();
  bare.meta.clear();
  const json j = to_json(bare);
  EXPECT_EQ(j["tags"], json::array());
  EXPECT_EQ(j["meta"], json::object());
}

TEST(WireShape, RouteHasAConsumerKeyOnlyWhenPerConsumer) {
  EXPECT_EQ(to_json(sample_route()), json::parse(R"({"service":"barker",
    "targets":[{"version":"1","weight":90},{"version":"2","weight":10}],"revision":7})"));
  EXPECT_EQ(to_json(sample_route("web"))["consumer"], "web");
}

TEST(WireShape, SnapshotAndHealth) {
  Snapshot s{5, "e1", false, {sample_instance()}, {sample_route()}};
  const json j = to_json(s);
  EXPECT_EQ(j["revision"], 5);
  EXPECT_EQ(j["epoch"], "e1");
  EXPECT_EQ(j["synced"], false);
  EXPECT_EQ(j["instances"], json::array({to_json(sample_instance())}));
  EXPECT_EQ(j["routes"], json::array({to_json(sample_route())}));
  EXPECT_EQ(j["policies"], json::array());
  EXPECT_EQ(to_json(DirectoryHealth{"ok", 9, "e1", true}),
            json::parse(R"({"status":"ok","revision":9,"epoch":"e1","synced":true})"));
}

TEST(WireShape, Events) {
  Event e;
  e.revision = 3;
  e.service = "barker.internal";
  e.id = "10.0.0.1:8080";
  e.type = Event::Type::instance_put;
  e.instance = sample_instance();
  EXPECT_EQ(to_json(e), json({{"revision", 3},
                              {"type", "instance_put"},
                              {"service", "barker.internal"},
                              {"id", "10.0.0.1:8080"},
                              {"instance", to_json(sample_instance())}}));
  e.type = Event::Type::instance_delete;
  EXPECT_EQ(to_json(e), json::parse(R"({"revision":3,"type":"instance_delete",
    "service":"barker.internal","id":"10.0.0.1:8080"})"));

  Event r;
  r.revision = 4;
  r.service = "barker";
  r.type = Event::Type::route_delete;
  EXPECT_EQ(to_json(r), json::parse(R"({"revision":4,"type":"route_delete","service":"barker"})"));
  r.consumer = "web";
  EXPECT_EQ(
      to_json(r),
      json::parse(R"({"revision":4,"type":"route_delete","service":"barker","consumer":"web"})"));
  r.type = Event::Type::route_put;
  r.route = sample_route("web");
  EXPECT_EQ(to_json(r), json({{"revision", 4},
                              {"type", "route_put"},
                              {"service", "barker"},
                              {"consumer", "web"},
                              {"route", to_json(sample_route("web"))}}));
}

// ---- round trips ----

TEST(RoundTrip, Lease) {
  Lease l{"ab12", std::chrono::seconds(30), "vm101"};
  EXPECT_EQ(value_of(lease_from_json(to_json(l))), l);
  const Lease no_owner = value_of(lease_from_json(json::parse(R"({"id":"x1","ttl":5})")));
  EXPECT_EQ(no_owner, (Lease{"x1", std::chrono::seconds(5), ""}));
}

TEST(RoundTrip, Instance) {
  EXPECT_EQ(value_of(instance_from_json(to_json(sample_instance()))), sample_instance());
  Instance i = sample_instance();
  i.tags.clear();
  i.meta.clear();
  i.health = Health::maintenance;
  i.revision = UINT64_MAX;
  EXPECT_EQ(value_of(instance_from_json(to_json(i))), i);
}

TEST(RoundTrip, ThroughText) {
  const std::string text = to_json(sample_instance()).dump();
  EXPECT_EQ(value_of(instance_from_json(json::parse(text))), sample_instance());
}

TEST(RoundTrip, Route) {
  EXPECT_EQ(value_of(route_from_json(to_json(sample_route()))), sample_route());
  EXPECT_EQ(value_of(route_from_json(to_json(sample_route("web")))), sample_route("web"));
}

TEST(RoundTrip, Snapshot) {
  const Snapshot s = sample_snapshot();
  EXPECT_EQ(value_of(snapshot_from_json(to_json(s))), s);
  Snapshot empty{0, "e0", true, {}, {}};
  EXPECT_EQ(value_of(snapshot_from_json(to_json(empty))), empty);
}

TEST(RoundTrip, SnapshotTextIsWhatDumpWrites) {
  Snapshot s = sample_snapshot();
  s.epoch = "e\"1";  // escaped in the text as dump() escapes it
  EXPECT_EQ(snapshot_text(s), to_json(s).dump());
  EXPECT_EQ(value_of(snapshot_from_json(json::parse(snapshot_text(s)))), s);
  Snapshot empty{0, "e0", true, {}, {}};
  EXPECT_EQ(snapshot_text(empty), to_json(empty).dump());
}

// The streaming reader gives what the tree reader gives, answers and problems alike.
TEST(RoundTrip, SnapshotFromTextIsSnapshotFromJson) {
  const Snapshot s = sample_snapshot();
  EXPECT_EQ(value_of(snapshot_from_text(snapshot_text(s))), s);
  Snapshot empty{0, "e0", true, {}, {}};
  EXPECT_EQ(value_of(snapshot_from_text(snapshot_text(empty))), empty);

  json bad = to_json(s);
  bad["instances"][0]["weight"] = 999;
  bad["instances"][1] = 7;
  bad["instances"].push_back(json::array({1}));
  bad["routes"][0]["targets"] = "none";
  bad.erase("epoch");
  auto from_text = problems_of(snapshot_from_text(bad.dump()));
  auto from_tree = problems_of(snapshot_from_json(bad));
  std::sort(from_text.begin(), from_text.end());
  std::sort(from_tree.begin(), from_tree.end());
  EXPECT_EQ(from_text, from_tree);
  EXPECT_THAT(problems_of(snapshot_from_text(R"({"revision":1,"epoch":"e","synced":true,)"
                                             R"("instances":{"a":1},"routes":[]})")),
              Contains(::testing::HasSubstr("instances")));
  EXPECT_THAT(problems_of(snapshot_from_text("{not json")), ElementsAre("snapshot: not JSON"));
  EXPECT_THAT(problems_of(snapshot_from_text("[]")), ElementsAre(::testing::HasSubstr("snapshot")));
}

// A key given twice counts once, the last time, in both readers: the streaming one had added
// the instances of every "instances" list (found by the model_json fuzz target).
TEST(RoundTrip, SnapshotFromTextTakesTheLastOfARepeatedKeyAsTheTreeReaderDoes) {
  const Snapshot s = sample_snapshot();
  ASSERT_GE(s.instances.size(), 2u);
  json first = to_json(s);
  first["instances"].erase(0);  // one instance fewer, in the list given first
  json last = to_json(s);
  last["instances"][0]["weight"] = 999;  // and an invalid one in the list given last
  // {"instances":FIRST, ...the rest..., "instances":LAST}: the text carries both lists.
  std::string text = last.dump();
  text.insert(1, "\"instances\":" + first["instances"].dump() + ",");
  const json tree = json::parse(text);
  EXPECT_EQ(problems_of(snapshot_from_text(text)), problems_of(snapshot_from_json(tree)));
  last["instances"][0]["weight"] = s.instances[0].weight;
  text = last.dump();
  text.insert(1, "\"instances\":" + first["instances"].dump() + ",");
  EXPECT_EQ(value_of(snapshot_from_text(text)), s);
  EXPECT_EQ(value_of(snapshot_from_json(json::parse(text))), s);
}

TEST(RoundTrip, EveryEventType) {
  Event put;
  put.type = Event::Type::instance_put;
  put.revision = 11;
  put.service = "barker.internal";
  put.id = "10.0.0.1:8080";
  put.instance = sample_instance();
  EXPECT_EQ(value_of(event_from_json(to_json(put))), put);

  Event del;
  del.type = Event::Type::instance_delete;
  del.revision = 12;
  del.service = "barker";
  del.id = "i1";
  EXPECT_EQ(value_of(event_from_json(to_json(del))), del);

  Event rput;
  rput.type = Event::Type::route_put;
  rput.revision = 13;
  rput.service = "barker";
  rput.consumer = "web";
  rput.route = sample_route("web");
  EXPECT_EQ(value_of(event_from_json(to_json(rput))), rput);
  rput.consumer = "";
  rput.route = sample_route();
  EXPECT_EQ(value_of(event_from_json(to_json(rput))), rput);

  Event rdel;
  rdel.type = Event::Type::route_delete;
  rdel.revision = 14;
  rdel.service = "barker";
  EXPECT_EQ(value_of(event_from_json(to_json(rdel))), rdel);
  rdel.consumer = "web";
  EXPECT_EQ(value_of(event_from_json(to_json(rdel))), rdel);

  Event pput;
  pput.type = Event::Type::policy_put;
  pput.revision = 15;
  pput.service = "barker";
  pput.policy = sample_policy();
  EXPECT_EQ(to_json(pput)["policy"], to_json(sample_policy()));
  EXPECT_EQ(value_of(event_from_json(to_json(pput))), pput);

  Event pdel;
  pdel.type = Event::Type::policy_delete;
  pdel.revision = 16;
  pdel.service = "barker";
  EXPECT_EQ(to_json(pdel),
            json::parse(R"({"revision":16,"type":"policy_delete","service":"barker"})"));
  EXPECT_EQ(value_of(event_from_json(to_json(pdel))), pdel);
}

// A policy event's body must name the service the event does. A policy this reader cannot take
// (a newer directory's word) is kept as unreadable, so that the event or the snapshot is not
// refused whole; a snapshot from a directory before policies (no "policies") reads as none.
TEST(ClientRead, PolicyEventsAndSnapshotsAreValidated) {
  json j = {{"revision", 1},
            {"type", "policy_put"},
            {"service", "other"},
            {"policy", to_json(sample_policy())}};
  EXPECT_THAT(problems_of(event_from_json(j)),
              ElementsAre("policy.service \"barker\" differs from service \"other\""));
  j["service"] = "barker";
  j["policy"]["retries"] = 11;
  j["policy"]["retry_on"] = {"conn-failure", "429"};
  const Event e = value_of(event_from_json(j));
  EXPECT_EQ(e.policy.service, "barker");
  EXPECT_EQ(e.policy.revision, 4u);
  EXPECT_FALSE(e.policy.retries.has_value());
  EXPECT_THAT(e.policy.unreadable, ElementsAre("retries 11 is out of range 0..10",
                                               ::testing::StartsWith("retry_on[1]")));
  EXPECT_THAT(validate_traffic_policy(e.policy),
              Contains("could not be read: retries 11 is out of range 0..10"));
  j["policy"].erase("revision");
  EXPECT_THAT(problems_of(event_from_json(j)), ElementsAre("policy: missing field \"revision\""));
  j.erase("policy");
  EXPECT_THAT(problems_of(event_from_json(j)), ElementsAre("missing field \"policy\""));

  json old = to_json(sample_snapshot());
  old.erase("policies");
  EXPECT_TRUE(value_of(snapshot_from_json(old)).policies.empty());
  json odd = to_json(sample_snapshot());
  odd["policies"][0]["balance"] = "hash:header:X User";
  const Snapshot read = value_of(snapshot_from_json(odd));
  ASSERT_EQ(read.policies.size(), 1u);
  EXPECT_THAT(read.policies[0].unreadable,
              ElementsAre(::testing::StartsWith("balance \"hash:header:X User\"")));
  EXPECT_EQ(read.instances, sample_snapshot().instances);  // the rest as sent
}

TEST(RoundTrip, DirectoryHealth) {
  DirectoryHealth h{"ok", 99, "e7", false};
  EXPECT_EQ(value_of(health_from_json(to_json(h))), h);
}

// ---- instance_from_request ----

TEST(InstanceRequest, AppliesDefaults) {
  const Instance i = value_of(instance_from_request(
      json::parse(R"({"lease":"ab12","url":"http://h:8080"})"), "barker", "h:8080"));
  EXPECT_EQ(i.service, "barker");
  EXPECT_EQ(i.id, "h:8080");
  EXPECT_EQ(i.lease, "ab12");
  EXPECT_EQ(i.url, "http://h:8080");
  EXPECT_EQ(i.version, "1");
  EXPECT_EQ(i.weight, 100);
  EXPECT_EQ(i.health, Health::passing);
  EXPECT_THAT(i.tags, IsEmpty());
  EXPECT_THAT(i.meta, IsEmpty());
}

TEST(InstanceRequest, ReadsEveryField) {
  json body = to_json(sample_instance());
  body.erase("service");
  body.erase("id");
  body.erase("revision");
  Instance expected = sample_instance();
  expected.revision = 0;
  EXPECT_EQ(value_of(instance_from_request(body, expected.service, expected.id)), expected);
}

// docs/api.md#names-and-values: protocol is optional; absent, the URL decides (tcp:// is tcp,
// else http), and it is written back only when registered, so a peer from before protocols
// reads the same instance it always did.
TEST(InstanceRequest, ProtocolIsOptionalAndAgreesWithTheUrl) {
  const auto read = [](const std::string& url, const std::string& protocol) {
    json body = {{"lease", "ab12"}, {"url", url}};
    if (!protocol.empty()) body["protocol"] = protocol;
    return instance_from_request(body, "barker", "h:8080");
  };
  const Instance grpc = value_of(read("http://h:50051", "grpc"));
  EXPECT_EQ(grpc.protocol, Protocol::grpc);
  EXPECT_EQ(protocol_of(grpc), Protocol::grpc);
  EXPECT_EQ(to_json(grpc)["protocol"], "grpc");
  EXPECT_EQ(value_of(read("https://h", "http2")).protocol, Protocol::http2);
  EXPECT_EQ(value_of(read("tcp://h:5432", "tcp")).protocol, Protocol::tcp);

  const Instance plain = value_of(read("http://h:8080", ""));
  EXPECT_EQ(plain.protocol, std::nullopt);
  EXPECT_EQ(protocol_of(plain), Protocol::http);
  EXPECT_FALSE(to_json(plain).contains("protocol"));
  EXPECT_EQ(protocol_of(value_of(read("tcp://h:5432", ""))), Protocol::tcp);

  EXPECT_THAT(problems_of(read("http://h", "h3")),
              ElementsAre("protocol \"h3\" is invalid: must be one of http, http2, grpc, tcp"));
  EXPECT_THAT(problems_of(read("tcp://h:5432", "grpc")),
              ElementsAre("protocol \"grpc\" is invalid: a tcp:// url speaks protocol tcp (http, "
                          "http2 and grpc need http:// or https://)"));
  EXPECT_THAT(problems_of(read("http://h", "tcp")),
              ElementsAre("protocol \"tcp\" is invalid: protocol tcp needs a tcp:// url"));
  EXPECT_THAT(problems_of(instance_from_request(
                  json::parse(R"({"lease":"ab12","url":"http://h","protocol":2})"), "s", "i")),
              ElementsAre(::testing::StartsWith("protocol: expected a string")));
}

TEST(RoundTrip, ProtocolSurvivesEveryReader) {
  Instance i = sample_instance();
  i.protocol = Protocol::http2;
  EXPECT_EQ(value_of(instance_from_json(to_json(i))), i);
  Snapshot s = sample_snapshot();
  s.instances[0].protocol = Protocol::grpc;
  EXPECT_EQ(value_of(snapshot_from_text(snapshot_text(s))), s);
  EXPECT_THAT(validate_instance(i), IsEmpty());
  i.url = "tcp://h:1";
  EXPECT_THAT(validate_instance(i), ElementsAre(::testing::StartsWith("protocol \"http2\"")));
}

TEST(InstanceRequest, BodyMustBeAnObject) {
  for (const json& body : {json(nullptr), json::array(), json("x"), json(1), json(true)}) {
    EXPECT_THAT(problems_of(instance_from_request(body, "s", "i")),
                ElementsAre("body: expected a JSON object"));
  }
}

TEST(InstanceRequest, RefusesUnknownFields) {
  const auto r = instance_from_request(
      json::parse(R"({"lease":"ab12","url":"http://h","colour":"red","id":"x"})"), "s", "i");
  EXPECT_THAT(problems_of(r), ElementsAre("unknown field \"colour\"", "unknown field \"id\""));
}

TEST(InstanceRequest, UnknownFieldNamesArePrintedSafely) {
  json body = {{"lease", "ab12"}, {"url", "http://h"}, {"a\nb", 1}};
  EXPECT_THAT(problems_of(instance_from_request(body, "s", "i")),
              ElementsAre("unknown field \"a\\x0ab\""));
}

TEST(InstanceRequest, RequiresLeaseAndUrl) {
  EXPECT_THAT(problems_of(instance_from_request(json::object(), "s", "i")),
              ElementsAre("missing field \"lease\"", "missing field \"url\""));
}

TEST(InstanceRequest, RefusesWrongTypes) {
  const auto r = instance_from_request(json::parse(R"({"lease":12,"url":null,"version":2,
      "weight":"100","health":true,"tags":"a","meta":["x"]})"),
                                       "s", "i");
  EXPECT_THAT(problems_of(r), ElementsAre("lease: expected a string, got an integer",
                                          "url: expected a string, got null",
                                          "version: expected a string, got an integer",
                                          "weight: expected an integer, got a string",
                                          "health: expected a string, got a boolean",
                                          "tags: expected an array, got a string",
                                          "meta: expected an object, got an array"));
}

TEST(InstanceRequest, RefusesWrongElementTypes) {
  const auto r = instance_from_request(
      json::parse(
          R"({"lease":"ab12","url":"http://h","tags":["ok",1,null],"meta":{"a":1,"b":{}}})"),
      "s", "i");
  EXPECT_THAT(problems_of(r), ElementsAre("tags[1]: expected a string, got an integer",
                                          "tags[2]: expected a string, got null",
                                          "meta[\"a\"]: expected a string, got an integer",
                                          "meta[\"b\"]: expected a string, got an object"));
}

TEST(InstanceRequest, RefusesFloatsAndHugeIntegers) {
  auto weight = [](const char* w) {
    return problems_of(instance_from_request(
        json::parse(std::string(R"({"lease":"ab12","url":"http://h","weight":)") + w + "}"), "s",
        "i"));
  };
  EXPECT_THAT(weight("1.0"),
              ElementsAre("weight: expected an integer, got a floating-point number"));
  EXPECT_THAT(weight("1e300"),
              ElementsAre("weight: expected an integer, got a floating-point number"));
  EXPECT_THAT(weight("4294967396"), ElementsAre("weight 4294967396 is out of range 0..256"));
  EXPECT_THAT(weight("18446744073709551615"),
              ElementsAre("weight 18446744073709551615 is out of range 0..256"));
  EXPECT_THAT(weight("-9223372036854775808"),
              ElementsAre("weight -9223372036854775808 is out of range 0..256"));
  EXPECT_THAT(weight("257"), ElementsAre("weight 257 is out of range 0..256"));
  EXPECT_THAT(weight("-1"), ElementsAre("weight -1 is out of range 0..256"));
}

TEST(InstanceRequest, ValidatesValuesAndPathParts) {
  const auto r = instance_from_request(
      json::parse(R"({"lease":"a-b","url":"ftp://x","version":"","health":"sick",
                     "tags":["no way"],"meta":{"bad key":"v","k":"a\tb"}})"),
      "Bad Name", "a b");
  EXPECT_THAT(problems_of(r),
              ElementsAre(std::string("service \"Bad Name\" is invalid: ") + kNameRule,
                          "id \"a b\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$",
                          "lease \"a-b\" is invalid: must match ^[A-Za-z0-9]{1,64}$",
                          "url \"ftp://x\" is invalid: scheme must be http, https or tcp",
                          "version \"\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$",
                          "health \"sick\" is invalid: must be one of passing, warning, critical, "
                          "maintenance",
                          "tags[0] \"no way\" is invalid: must match ^[A-Za-z0-9._-]{1,64}$",
                          "meta key \"bad key\" is invalid: must match ^[A-Za-z0-9_-]{1,128}$",
                          "meta[\"k\"] \"a\\x09b\" is invalid: must be at most 512 printable ASCII "
                          "characters"));
}

TEST(InstanceRequest, CountsAreCheckedBeforeElements) {
  json body = {
      {"lease", "ab12"}, {"url", "http://h"}, {"tags", json::array()}, {"meta", json::object()}};
  for (int i = 0; i < 1000; ++i) body["tags"].push_back(i);
  for (int i = 0; i < 65; ++i) body["meta"]["k" + std::to_string(i)] = i;
  EXPECT_THAT(
      problems_of(instance_from_request(body, "s", "i")),
      ElementsAre("tags: 1000 given, at most 32 allowed", "meta: 65 given, at most 64 allowed"));
}

// ---- route_from_request ----

TEST(RouteRequest, ReadsTargets) {
  const Route r = value_of(route_from_request(
      json::parse(R"({"targets":[{"version":"1","weight":90},{"version":"2","weight":10}]})"),
      "barker", "web"));
  EXPECT_EQ(r.service, "barker");
  EXPECT_EQ(r.consumer, "web");
  EXPECT_EQ(r.targets, (std::vector<RouteTarget>{{"1", 90}, {"2", 10}}));
  EXPECT_EQ(r.revision, 0u);
}

TEST(RouteRequest, StructureProblems) {
  EXPECT_THAT(problems_of(route_from_request(json::array(), "s", "")),
              ElementsAre("body: expected a JSON object"));
  EXPECT_THAT(problems_of(route_from_request(json::object(), "s", "")),
              ElementsAre("missing field \"targets\""));
  EXPECT_THAT(problems_of(route_from_request(json::parse(R"({"targets":{},"x":1})"), "s", "")),
              ElementsAre("unknown field \"x\"", "targets: expected an array, got an object"));
  EXPECT_THAT(problems_of(route_from_request(json::parse(R"({"targets":[]})"), "s", "")),
              ElementsAre("targets: at least one target is needed"));
}

TEST(RouteRequest, TargetElementProblems) {
  const auto r = route_from_request(json::parse(R"({"targets":[
      "2", {"version":2,"weight":"10"}, {"weight":10}, {"version":"1","weight":1.5,"colour":"red"}]})"),
                                    "s", "");
  EXPECT_THAT(
      problems_of(r),
      ElementsAre("targets[0]: expected an object, got a string",
                  "targets[1].version: expected a string, got an integer",
                  "targets[1].weight: expected an integer, got a string",
                  "missing field \"targets[2].version\"", "unknown field \"targets[3].colour\"",
                  "targets[3].weight: expected an integer, got a floating-point "
                  "number"));
}

TEST(RouteRequest, ValidatesTargets) {
  auto targets = [](const char* t) {
    return problems_of(
        route_from_request(json::parse(std::string(R"({"targets":)") + t + "}"), "s", ""));
  };
  EXPECT_THAT(targets(R"([{"version":"1","weight":70},{"version":"2","weight":60}])"),
              ElementsAre("targets: weights add up to 130, more than 100"));
  EXPECT_THAT(targets(R"([{"version":"2","weight":10},{"version":"2","weight":10}])"),
              ElementsAre("targets: version \"2\" is listed twice"));
  EXPECT_THAT(targets(R"([{"version":"1","weight":50},{"version":"2","weight":120}])"),
              ElementsAre("targets[1].weight 120 is out of range 0..100"));
  EXPECT_THAT(targets(R"([{"version":"1","weight":99999999999}])"),
              ElementsAre("targets[0].weight 99999999999 is out of range 0..100"));
  json many = json::array();
  for (int i = 0; i < 33; ++i) many.push_back({{"version", std::to_string(i)}, {"weight", 0}});
  EXPECT_THAT(targets(many.dump().c_str()), ElementsAre("targets: 33 given, at most 32 allowed"));
}

TEST(RouteRequest, ValidatesServiceAndConsumer) {
  const json body = json::parse(R"({"targets":[{"version":"1","weight":100}]})");
  EXPECT_THAT(problems_of(route_from_request(body, "S", "C")),
              ElementsAre(std::string("service \"S\" is invalid: ") + kNameRule,
                          std::string("consumer \"C\" is invalid: ") + kNameRule));
  EXPECT_EQ(value_of(route_from_request(body, "s", "")).consumer, "");
}

// ---- client-side parsers ----

TEST(ClientRead, MissingAndMistypedFieldsAreNamed) {
  json j = to_json(sample_instance());
  j.erase("url");
  j["weight"] = "50";
  j["revision"] = -1;
  EXPECT_THAT(problems_of(instance_from_json(j)),
              ElementsAre("missing field \"url\"", "weight: expected an integer, got a string",
                          "revision -1 is out of range 0..18446744073709551615"));
}

TEST(ClientRead, RequiresWhatTheDirectoryAlwaysSends) {
  EXPECT_THAT(
      problems_of(instance_from_json(json::object())),
      ElementsAre("missing field \"service\"", "missing field \"id\"", "missing field \"lease\"",
                  "missing field \"url\"", "missing field \"version\"", "missing field \"weight\"",
                  "missing field \"health\"", "missing field \"revision\""));
  EXPECT_THAT(problems_of(route_from_json(json::object())),
              ElementsAre("missing field \"service\"", "missing field \"targets\"",
                          "missing field \"revision\""));
  EXPECT_THAT(problems_of(health_from_json(json::object())),
              ElementsAre("missing field \"status\"", "missing field \"revision\"",
                          "missing field \"epoch\"", "missing field \"synced\""));
  EXPECT_THAT(problems_of(lease_from_json(json::object())),
              ElementsAre("missing field \"id\"", "missing field \"ttl\""));
  EXPECT_THAT(problems_of(event_from_json(json::object())),
              ElementsAre("missing field \"revision\"", "missing field \"service\"",
                          "missing field \"type\""));
}

TEST(ClientRead, ValidatesLikeTheServer) {
  Instance i = sample_instance();
  i.url = "http://evil\nhost";
  i.meta["k"] = std::string(513, 'x');
  const auto problems = problems_of(instance_from_json(to_json(i)));
  EXPECT_THAT(problems,
              ElementsAre("url \"http://evil\\x0ahost\" is invalid: host may hold only letters, "
                          "digits, '-' and '.'",
                          "meta[\"k\"] \"" + std::string(80, 'x') +
                              "...\" is invalid: must be at most 512 printable ASCII characters"));
  Route r = sample_route();
  r.targets = {{"1", 100}, {"2", 100}};
  EXPECT_THAT(problems_of(route_from_json(to_json(r))),
              ElementsAre("targets: weights add up to 200, more than 100"));
  EXPECT_THAT(problems_of(lease_from_json(json::parse(R"({"id":"a-b","ttl":0})"))),
              ElementsAre("id \"a-b\" is invalid: must match ^[A-Za-z0-9]{1,64}$",
                          "ttl 0 is out of range 1..2147483647"));
}

TEST(ClientRead, IgnoresUnknownFieldsForForwardCompatibility) {
  json j = to_json(sample_instance());
  j["zone"] = "eu";
  EXPECT_EQ(value_of(instance_from_json(j)), sample_instance());
}

TEST(ClientRead, NestedProblemsSayWhere) {
  Snapshot s{5, "e1", true, {sample_instance(), sample_instance()}, {sample_route()}};
  json j = to_json(s);
  j["instances"][1]["weight"] = 300;
  j["routes"][0]["targets"] = json::array();
  j["instances"].push_back("garbage");
  EXPECT_THAT(problems_of(snapshot_from_json(j)),
              ElementsAre("instances[1]: weight 300 is out of range 0..256",
                          "instances[2]: expected an object, got a string",
                          "routes[0]: targets: at least one target is needed"));
}

TEST(ClientRead, EventProblems) {
  EXPECT_THAT(
      problems_of(event_from_json(json::parse(R"({"revision":1,"type":"nope","service":"s"})"))),
      ElementsAre("type \"nope\" is invalid: must be one of instance_put, instance_delete, "
                  "route_put, route_delete, policy_put, policy_delete"));
  EXPECT_THAT(problems_of(event_from_json(
                  json::parse(R"({"revision":1,"type":"instance_put","service":"s"})"))),
              ElementsAre("missing field \"id\"", "missing field \"instance\""));
  EXPECT_THAT(problems_of(event_from_json(json::parse(
                  R"({"revision":1,"type":"instance_put","service":"s","id":"i","instance":[]})"))),
              ElementsAre("instance: expected an object, got an array"));
  json bad_weight = {{"revision", 1},
                     {"type", "instance_put"},
                     {"service", "barker.internal"},
                     {"id", "10.0.0.1:8080"},
                     {"instance", to_json(sample_instance())}};
  bad_weight["instance"]["weight"] = -5;
  EXPECT_THAT(problems_of(event_from_json(bad_weight)),
              ElementsAre("instance: weight -5 is out of range 0..256"));
  EXPECT_THAT(problems_of(event_from_json(json::parse(
                  R"({"revision":1,"type":"route_delete","service":"s","consumer":"Bad"})"))),
              ElementsAre(std::string("consumer \"Bad\" is invalid: ") + kNameRule));
}

TEST(ClientRead, EventBodyMustMatchTheEvent) {
  json j = {{"revision", 1},
            {"type", "instance_put"},
            {"service", "other"},
            {"id", "x"},
            {"instance", to_json(sample_instance())}};
  EXPECT_THAT(problems_of(event_from_json(j)),
              ElementsAre("instance.service \"barker.internal\" differs from service \"other\"",
                          "instance.id \"10.0.0.1:8080\" differs from id \"x\""));
  json r = {{"revision", 1},
            {"type", "route_put"},
            {"service", "barker"},
            {"route", to_json(sample_route("web"))}};
  EXPECT_THAT(problems_of(event_from_json(r)),
              ElementsAre("route.consumer \"web\" differs from consumer \"\""));
}

TEST(ClientRead, NumbersOutOfRange) {
  json h = to_json(DirectoryHealth{"ok", 1, "e", true});
  h["revision"] = 1.5;
  EXPECT_THAT(problems_of(health_from_json(h)),
              ElementsAre("revision: expected an integer, got a floating-point number"));
  h = json::parse(R"({"status":"ok","revision":184467440737095516150,"epoch":"e","synced":1})");
  EXPECT_THAT(problems_of(health_from_json(h)),
              ElementsAre("revision: expected an integer, got a floating-point number",
                          "synced: expected a boolean, got an integer"));
  EXPECT_THAT(problems_of(lease_from_json(json::parse(R"({"id":"a","ttl":2147483648})"))),
              ElementsAre("ttl 2147483648 is out of range 1..2147483647"));
}

// Every parser, fed anything at all, answers with problems and never throws.
TEST(Adversarial, GarbageNeverThrows) {
  const std::vector<json> garbage = {
      json(nullptr),
      json(true),
      json(0),
      json(-1),
      json(UINT64_MAX),
      json(INT64_MIN),
      json(1e308),
      json("string"),
      json(std::string("\xff\x00\n", 3)),
      json::array(),
      json::array({1, "a", nullptr}),
      json::object(),
      json::parse(R"({"a":{"b":{"c":[[[[{}]]]]}}})"),
      json::binary({1, 2, 3}),
      json(json::value_t::discarded),
  };
  const std::vector<json> shapes = {
      to_json(sample_instance()),
      to_json(sample_route("web")),
      to_json(Snapshot{1, "e", true, {sample_instance()}, {sample_route()}}),
      to_json(DirectoryHealth{"ok", 1, "e", true}),
      to_json(Lease{"a", std::chrono::seconds(1), "o"}),
      json{{"revision", 1},
           {"type", "instance_put"},
           {"service", "s"},
           {"id", "i"},
           {"instance", to_json(sample_instance())}},
      json{{"revision", 1},
           {"type", "route_put"},
           {"service", "barker"},
           {"route", to_json(sample_route())}},
      json{{"targets", json::array({{{"version", "1"}, {"weight", 1}}})}}};
  std::vector<json> inputs = garbage;
  // Each field of each known shape, one level down too, replaced by each piece of garbage.
  for (const auto& shape : shapes) {
    for (const auto& [key, value] : shape.items()) {
      for (const auto& g : garbage) {
        json copy = shape;
        copy[key] = g;
        inputs.push_back(copy);
        if (value.is_object()) {
          for (const auto& [inner, unused] : value.items()) {
            json deeper = shape;
            deeper[key][inner] = g;
            inputs.push_back(deeper);
          }
        } else if (value.is_array() && !value.empty()) {
          json deeper = shape;
          deeper[key][0] = g;
          inputs.push_back(deeper);
          if (value[0].is_object()) {
            for (const auto& [inner, unused] : value[0].items()) {
              json deepest = shape;
              deepest[key][0][inner] = g;
              inputs.push_back(deepest);
            }
          }
        }
      }
    }
  }
  std::size_t refused = 0;
  for (const auto& in : inputs) {
    ASSERT_NO_THROW({
      refused += instance_from_json(in).index();
      refused += route_from_json(in).index();
      refused += snapshot_from_json(in).index();
      refused += event_from_json(in).index();
      refused += health_from_json(in).index();
      refused += lease_from_json(in).index();
      refused += instance_from_request(in, "s", "i").index();
      refused += route_from_request(in, "s", "").index();
    }) << in.dump(-1, ' ', true, json::error_handler_t::replace);
  }
  // Every input is garbage for at least 7 of the 8 parsers.
  EXPECT_GE(refused, inputs.size() * 7);
}

TEST(Adversarial, ProblemsAreSafeToPrint) {
  json body = {{"lease", std::string("\x01\n", 2)}, {"url", std::string(100000, '"')}};
  for (const auto& p : problems_of(instance_from_request(body, "s", "i"))) {
    EXPECT_EQ(p.find('\n'), std::string::npos) << p;
    EXPECT_LT(p.size(), 400u) << p;
  }
}

}  // namespace
}  // namespace dstack::model
