// SPDX-License-Identifier: Apache-2.0
// sherlock's plan: which backends and servers HAProxy gets from the directory's view, what is
// left out and why, and which changes need a reload. No sockets, no clock.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "sherlock/haproxy_config.hpp"
#include "sherlock/plan.hpp"
#include "sherlock/weights.hpp"

namespace dstack::sherlock {

void PrintTo(const PlannedServer& s, std::ostream* os) {
  *os << s.name << "@" << s.address << ":" << s.port << (s.tls ? " tls " : " ") << s.host << " w"
      << s.weight << (s.h2 ? " h2" : "") << " v" << s.version;
}

namespace {

using model::Health;
using model::Instance;
using model::Route;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Services = std::map<std::string, ServiceView>;
using Addresses = std::map<std::string, std::string>;

Instance inst(std::string service, std::string id, std::string url, std::string version = "1",
              int weight = 100, Health health = Health::passing) {
  Instance i;
  i.service = std::move(service);
  i.id = std::move(id);
  i.lease = "lease1";
  i.url = std::move(url);
  i.version = std::move(version);
  i.weight = weight;
  i.health = health;
  return i;
}

std::vector<std::string> names(const PlannedBackend& be) {
  std::vector<std::string> out;
  for (const auto& s : be.servers) out.push_back(s.name);
  return out;
}

std::vector<std::string> services(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& be : p.backends) out.push_back(be.service);
  return out;
}

const PlannedBackend& backend(const Plan& p, const std::string& service) {
  for (const auto& be : p.backends)
    if (be.service == service) return be;
  throw std::runtime_error("no backend " + service);
}

Plan plan(const Services& s, const SherlockConfig& cfg = {}, const Addresses& a = {}) {
  return make_plan(s, cfg, a);
}

TEST(Plan, HttpServiceWithLiteralAddressesNeedsNoLookup) {
  Services s;
  s["emitter"].instances = {inst("emitter", "b", "http://10.0.0.2:8080/emitter"),
                            inst("emitter", "a", "https://[2001:db8::1]/emitter/")};
  auto p = plan(s);
  EXPECT_THAT(p.problems, IsEmpty());
  ASSERT_EQ(p.backends.size(), 1u);
  const auto& be = p.backends[0];
  EXPECT_EQ(be.service, "emitter");
  EXPECT_EQ(be.mode, PlannedBackend::Mode::http);
  EXPECT_EQ(be.base_path, "/emitter");
  EXPECT_EQ(be.tcp_port, 0);
  ASSERT_THAT(names(be), ElementsAre("a", "b"));  // by name, not as listed
  EXPECT_EQ(be.servers[0],
            (PlannedServer{"a", "2001:db8::1", 443, true, "2001:db8::1", 256, false, "1"}));
  EXPECT_EQ(be.servers[1],
            (PlannedServer{"b", "10.0.0.2", 8080, false, "10.0.0.2", 256, false, "1"}));
}

// Header pinning's map needs each server's version, but only of instances that may take traffic:
// a pinned request never reaches one unhealthy or at weight 0.
TEST(Plan, OnlyInstancesThatMayTakeTrafficCarryTheirVersionForPinning) {
  Services s;
  s["emitter"].instances = {inst("emitter", "a", "http://10.0.0.1:80/"),
                            inst("emitter", "b", "http://10.0.0.2:80/", "2"),
                            inst("emitter", "c", "http://10.0.0.3:80/", "2", 100, Health::critical),
                            inst("emitter", "d", "http://10.0.0.4:80/", "3", 0)};
  const auto p = plan(s);
  const auto& be = backend(p, "emitter");
  std::vector<std::string> versions;
  for (const auto& srv : be.servers) versions.push_back(srv.name + "=" + srv.version);
  EXPECT_THAT(versions, ElementsAre("a=1", "b=2", "c=", "d="));
  EXPECT_EQ(version_pins(be), (std::map<std::string, std::string>{{"1", "a"}, {"2", "b"}}));
}

TEST(Plan, HostNamesAreLookedUpAsWrittenInTheUrl) {
  Services s;
  s["api"].instances = {inst("api", "a", "https://vm101.example:8443"),
                        inst("api", "b", "http://vm102"), inst("api", "c", "http://vm103")};
  auto p = plan(s, {}, {{"vm101.example", "10.1.1.1"}, {"vm102", "fd00::0:2"}});
  const auto& be = backend(p, "api");
  EXPECT_EQ(be.base_path, "");
  ASSERT_THAT(names(be), ElementsAre("a", "b"));
  EXPECT_EQ(be.servers[0],
            (PlannedServer{"a", "10.1.1.1", 8443, true, "vm101.example", 256, false, "1"}));
  EXPECT_EQ(be.servers[1].address, "fd00::2");  // written canonically
  EXPECT_EQ(be.servers[1].port, 80);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0],
            "service \"api\", instance \"c\": left out: host \"vm103\" does not resolve (yet)");
}

TEST(Plan, ALookupThatIsNotANumericAddressIsRefused) {
  Services s;
  s["api"].instances = {inst("api", "a", "http://vm101")};
  auto p = plan(s, {}, {{"vm101", "1.2.3.4\n  server evil 6.6.6.6:80"}});
  EXPECT_THAT(backend(p, "api").servers, IsEmpty());
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0],
            "service \"api\", instance \"a\": left out: host \"vm101\" resolved to "
            "\"1.2.3.4\\x0a  server evil 6.6.6.6:80\", not a numeric IP address");
}

TEST(Plan, BasePathIsWhatMostInstancesHave) {
  Services s;
  s["svc"].instances = {
      inst("svc", "a", "http://10.0.0.1/v2"), inst("svc", "b", "http://10.0.0.2/v1"),
      inst("svc", "c", "http://10.0.0.3/v1/"), inst("svc", "d", "http://10.0.0.4/v1")};
  auto p = plan(s);
  const auto& be = backend(p, "svc");
  EXPECT_EQ(be.base_path, "/v1");
  EXPECT_THAT(names(be), ElementsAre("b", "c", "d"));
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0],
            "service \"svc\", instance \"a\": left out: its base path \"/v2\" differs from the "
            "service's \"/v1\" (the one most instances have)");
}

// docs/sherlock.md#protocols: one protocol per service, as with the base path.
TEST(Plan, ProtocolIsWhatMostInstancesSpeakAndHttp2ServersSayH2) {
  Services s;
  auto grpc = [](std::string id, std::string url) {
    Instance i = inst("svc", std::move(id), std::move(url));
    i.protocol = model::Protocol::grpc;
    return i;
  };
  s["svc"].instances = {grpc("a", "http://10.0.0.1:50051"), grpc("b", "https://10.0.0.2:50051"),
                        inst("svc", "c", "http://10.0.0.3:8080")};
  auto p = plan(s);
  const auto& be = backend(p, "svc");
  EXPECT_EQ(be.protocol, model::Protocol::grpc);
  ASSERT_THAT(names(be), ElementsAre("a", "b"));
  EXPECT_TRUE(be.servers[0].h2);
  EXPECT_TRUE(be.servers[1].h2);
  EXPECT_TRUE(be.servers[1].tls);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0],
            "service \"svc\", instance \"c\": left out: its protocol http differs from the "
            "service's grpc (the one most instances speak)");

  // A tie goes to http; an instance that says http explicitly is the same as one that is silent.
  s["svc"].instances = {grpc("a", "http://10.0.0.1:50051"), inst("svc", "c", "http://10.0.0.3")};
  s["svc"].instances[1].protocol = model::Protocol::http;
  p = plan(s);
  EXPECT_EQ(backend(p, "svc").protocol, model::Protocol::http);
  EXPECT_THAT(names(backend(p, "svc")), ElementsAre("c"));
  EXPECT_FALSE(backend(p, "svc").servers[0].h2);
}

TEST(Plan, BasePathTiesGoToTheShorterThenTheSmaller) {
  const auto base = [](std::vector<std::string> paths) {
    Services s;
    int n = 0;
    for (const auto& path : paths) {
      ++n;
      s["svc"].instances.push_back(
          inst("svc", "i" + std::to_string(n), "http://10.0.0." + std::to_string(n) + path));
    }
    return backend(plan(s), "svc").base_path;
  };
  EXPECT_EQ(base({"/long", "/b"}), "/b");
  EXPECT_EQ(base({"/b", "/a"}), "/a");
  EXPECT_EQ(base({"/a", ""}), "");
  EXPECT_EQ(base({"/a", "/a", "", "/bb", "/bb"}), "/a");
  // The root is reported as "/".
  Services s;
  s["svc"].instances = {inst("svc", "a", "http://10.0.0.1/x"), inst("svc", "b", "http://10.0.0.2")};
  EXPECT_THAT(plan(s).problems,
              ElementsAre(HasSubstr("base path \"/x\" differs from the service's \"/\"")));
}

TEST(Plan, UnresolvedInstancesStillCountForTheBasePath) {
  // A name that stops resolving for a while must not move the base path (a reload).
  Services s;
  s["svc"].instances = {inst("svc", "a", "http://vm1/x"), inst("svc", "b", "http://vm2/x"),
                        inst("svc", "c", "http://10.0.0.3/y")};
  auto p = plan(s);
  EXPECT_EQ(backend(p, "svc").base_path, "/x");
  EXPECT_THAT(backend(p, "svc").servers, IsEmpty());
  EXPECT_EQ(p.problems.size(), 3u);
}

TEST(Plan, TcpServicesNeedAPortUnderTcp) {
  SherlockConfig cfg;
  cfg.tcp = {{"mongo", 27017}};
  Services s;
  s["mongo"].instances = {inst("mongo", "m1", "tcp://10.0.0.1:27017"),
                          inst("mongo", "m2", "http://10.0.0.2:80")};
  s["redis"].instances = {inst("redis", "r1", "tcp://10.0.0.3:6379")};
  s["web"].instances = {inst("web", "w1", "http://10.0.0.4"),
                        inst("web", "w2", "tcp://10.0.0.5:1")};
  auto p = plan(s, cfg);
  EXPECT_THAT(services(p), ElementsAre("mongo", "web"));
  const auto& mongo = backend(p, "mongo");
  EXPECT_EQ(mongo.mode, PlannedBackend::Mode::tcp);
  EXPECT_EQ(mongo.tcp_port, 27017);
  EXPECT_EQ(mongo.base_path, "");
  EXPECT_THAT(names(mongo), ElementsAre("m1"));
  EXPECT_EQ(mongo.servers[0].port, 27017);
  EXPECT_FALSE(mongo.servers[0].tls);
  EXPECT_THAT(names(backend(p, "web")), ElementsAre("w1"));
  EXPECT_THAT(
      p.problems,
      ElementsAre("service \"mongo\", instance \"m2\": left out: url \"http://10.0.0.2:80\" is not "
                  "tcp:// but the service has a TCP listener (port 27017 under tcp: in "
                  "sherlock.yaml)",
                  "service \"redis\": not served: its instances are tcp:// and sherlock.yaml "
                  "gives it no port under tcp:",
                  "service \"web\", instance \"w2\": left out: url \"tcp://10.0.0.5:1\" is tcp:// "
                  "but sherlock.yaml gives the service no port under tcp:"));
}

TEST(Plan, AServiceWithNothingUsableStillGetsABackend) {
  Services s;
  s["routed"].routes = {Route{"routed", "", {{"2", 10}}, 1}};
  s["down"].instances = {inst("down", "d1", "http://unresolved")};
  auto p = plan(s);
  EXPECT_THAT(services(p), ElementsAre("down", "routed"));
  EXPECT_THAT(backend(p, "routed").servers, IsEmpty());
  EXPECT_THAT(backend(p, "down").servers, IsEmpty());
}

TEST(Plan, WeightsComeFromTheWeightRulesWithoutLeftOutInstances) {
  Services s;
  auto& v = s["svc"];
  v.instances = {inst("svc", "a", "http://10.0.0.1", "1", 100),
                 inst("svc", "b", "http://10.0.0.2", "1", 50),
                 inst("svc", "c", "http://10.0.0.3", "2", 100),
                 inst("svc", "sick", "http://10.0.0.4", "1", 100, Health::critical),
                 inst("svc", "drained", "http://10.0.0.5", "2", 0),
                 inst("svc", "gone", "http://nowhere", "2", 100)};
  v.routes = {Route{"svc", "", {{"2", 10}}, 1}, Route{"svc", "edge", {{"2", 50}}, 2}};
  SherlockConfig cfg;
  cfg.consumer = "edge";
  auto p = plan(s, cfg);
  std::vector<Instance> usable(v.instances.begin(), v.instances.end() - 1);
  const auto want = server_weights(usable, v.routes, "edge");
  const auto& be = backend(p, "svc");
  ASSERT_EQ(be.servers.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(be.servers[i].name, want[i].id);
    EXPECT_EQ(be.servers[i].weight, want[i].weight) << want[i].id;
  }
  // Unhealthy and drained instances stay servers, at weight 0: no add/del on a flap.
  EXPECT_THAT(names(be), ElementsAre("a", "b", "c", "drained", "sick"));
  EXPECT_EQ(be.servers[3].weight, 0);
  EXPECT_EQ(be.servers[4].weight, 0);
  // edge's route: v2 (only c takes traffic) gets half, v1 the rest, a:b = 100:50.
  EXPECT_EQ(be.servers[0].weight, 2 * be.servers[1].weight);
  EXPECT_EQ(be.servers[2].weight, 3 * be.servers[1].weight);
}

TEST(Plan, InvalidRoutesAreLeftOutAndTheOthersApply) {
  Services s;
  s["svc"].instances = {inst("svc", "a", "http://10.0.0.1", "1"),
                        inst("svc", "b", "http://10.0.0.2", "2")};
  s["svc"].routes = {Route{"svc", "", {{"2", 120}}, 1}, Route{"other", "", {{"2", 0}}, 2}};
  auto p = plan(s);
  EXPECT_THAT(p.problems,
              ElementsAre("service \"svc\", route for everyone: left out: targets[0].weight 120 is "
                          "out of range 0..100",
                          "service \"svc\", route for everyone: left out: it names service "
                          "\"other\""));
  const auto& be = backend(p, "svc");
  EXPECT_EQ(be.servers[0].weight, be.servers[1].weight);  // no route applies
}

TEST(Plan, BackendsAreSortedByServiceAndServersByName) {
  Services s;
  for (std::string svc : {"zeta", "alpha", "mid"}) {
    s[svc].instances = {inst(svc, "z", "http://10.0.0.1"), inst(svc, "A", "http://10.0.0.2"),
                        inst(svc, "m:1", "http://10.0.0.3")};
  }
  auto p = plan(s);
  EXPECT_THAT(services(p), ElementsAre("alpha", "mid", "zeta"));
  for (const auto& be : p.backends) EXPECT_THAT(names(be), ElementsAre("A", "m:1", "z"));
}

TEST(Plan, ARepeatedIdKeepsTheFirst) {
  Services s;
  s["svc"].instances = {inst("svc", "a", "http://10.0.0.1"), inst("svc", "a", "http://10.0.0.2")};
  auto p = plan(s);
  ASSERT_EQ(backend(p, "svc").servers.size(), 1u);
  EXPECT_EQ(backend(p, "svc").servers[0].address, "10.0.0.1");
  EXPECT_THAT(p.problems, ElementsAre("service \"svc\", instance \"a\": left out: its id is "
                                      "listed twice; the first is kept"));
}

// A directory (an etcd backend has no server-side validation) that lies: every field that could
// reach the config carries a newline or HAProxy syntax. Each such instance is left out, named
// printably in one problem line.
TEST(Plan, ALyingDirectoryIsLeftOutAndReported) {
  const std::string evil = "\n  server evil 1.2.3.4:80";
  Services s;
  auto& v = s["svc"];
  v.instances = {inst("svc", "ok", "http://10.0.0.1/p"),
                 inst("svc", "id" + evil, "http://10.0.0.2/p"),
                 inst("svc", "path", "http://10.0.0.3/p" + evil),
                 inst("svc", "version", "http://10.0.0.4/p", "1" + evil),
                 inst("svc", "weight", "http://10.0.0.5/p", "1", 257),
                 inst("svc", "health", "http://10.0.0.6/p", "1", 100, static_cast<Health>(9)),
                 inst("other", "service", "http://10.0.0.7/p"),
                 inst("svc", "host", "http://vm1" + evil + "/p")};
  v.instances.push_back(inst("svc", "tag", "http://10.0.0.8/p"));
  v.instances.back().tags = {"fine", "t" + evil};
  v.instances.push_back(inst("svc", "metakey", "http://10.0.0.9/p"));
  v.instances.back().meta = {{"k" + evil, "v"}};
  v.instances.push_back(inst("svc", "lease", "http://10.0.0.10/p"));
  v.instances.back().lease = "l" + evil;
  // Printable meta values are valid, and harmless: meta never reaches the config.
  v.instances.push_back(inst("svc", "meta", "http://10.0.0.11/p"));
  v.instances.back().meta = {{"haproxy", "server evil 1.2.3.4:80 backup"}};
  auto p = plan(s);
  EXPECT_THAT(names(backend(p, "svc")), ElementsAre("meta", "ok"));
  const std::string printed = "\\x0a  server evil 1.2.3.4:80";
  EXPECT_THAT(
      p.problems,
      ElementsAre(
          "service \"svc\", instance \"health\": left out: health 9 is not one of passing, "
          "warning, critical, maintenance",
          "service \"svc\", instance \"host\": left out: url \"http://vm1" + printed +
              "/p\" is invalid: host may hold only letters, digits, '-' and '.'",
          "service \"svc\", instance \"id" + printed + "\": left out: id \"id" + printed +
              "\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$",
          "service \"svc\", instance \"lease\": left out: lease \"l" + printed +
              "\" is invalid: must match ^[A-Za-z0-9]{1,64}$",
          "service \"svc\", instance \"metakey\": left out: meta key \"k" + printed +
              "\" is invalid: must match ^[A-Za-z0-9_-]{1,128}$",
          "service \"svc\", instance \"path\": left out: url \"http://10.0.0.3/p" + printed +
              "\" is invalid: path may hold only letters, digits and -._~!&()*+,;=:@/%",
          "service \"svc\", instance \"service\": left out: it names service \"other\"",
          "service \"svc\", instance \"tag\": left out: tags[1] \"t" + printed +
              "\" is invalid: must match ^[A-Za-z0-9._-]{1,64}$",
          "service \"svc\", instance \"version\": left out: version \"1" + printed +
              "\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$",
          "service \"svc\", instance \"weight\": left out: weight 257 is out of range 0..256"));
  for (const auto& line : p.problems) EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Plan, AnInvalidServiceNameIsLeftOutWhole) {
  Services s;
  s["Bad\n  server evil"].instances = {inst("bad", "a", "http://10.0.0.1")};
  s["good"].instances = {inst("good", "a", "http://10.0.0.1")};
  auto p = plan(s);
  EXPECT_THAT(services(p), ElementsAre("good"));
  EXPECT_THAT(p.problems,
              ElementsAre(AllOf(HasSubstr("service \"Bad\\x0a  server evil\": left out: service "),
                                HasSubstr("is invalid: must match"))));
}

// ---- needs_reload ----------------------------------------------------------------------------

Plan two_services() {
  Services s;
  s["api"].instances = {inst("api", "a", "http://10.0.0.1"), inst("api", "b", "http://10.0.0.2")};
  s["emitter"].instances = {inst("emitter", "e", "http://10.0.0.3/emitter")};
  return plan(s);
}

// The service's policy rides on its backend, checked again and without service and revision;
// one that fails, or one of a tcp service, is ignored and reported; a policy alone is no backend.
TEST(Plan, TrafficPolicyIsCarriedCheckedAndReported) {
  Services s;
  s["api"].instances = {inst("api", "a", "http://10.0.0.1:8080")};
  model::TrafficPolicy p;
  p.service = "api";
  p.retries = 3;
  p.max_conn = 10;
  p.revision = 42;
  s["api"].policy = p;
  s["lonely"].policy = p;
  s["lonely"].policy->service = "lonely";
  SherlockConfig cfg;
  cfg.tcp = {{"mongo", 27017}};
  s["mongo"].instances = {inst("mongo", "m", "tcp://10.0.0.2:27017")};
  s["mongo"].policy = p;
  s["mongo"].policy->service = "mongo";

  auto pl = plan(s, cfg);
  EXPECT_THAT(services(pl), ElementsAre("api", "mongo"));
  model::TrafficPolicy carried = p;
  carried.service.clear();
  carried.revision = 0;
  EXPECT_EQ(backend(pl, "api").policy, carried);
  EXPECT_EQ(backend(pl, "mongo").policy, model::TrafficPolicy{});
  EXPECT_THAT(pl.problems, ElementsAre("service \"mongo\": traffic policy ignored: it applies to "
                                       "HTTP services, and this one is served over TCP"));

  // Only what the policy says matters: a new revision of the same policy is the same plan.
  s["api"].policy->revision = 43;
  EXPECT_EQ(backend(plan(s, cfg), "api"), backend(pl, "api"));

  s["api"].policy->retries = 11;  // a directory that did not check
  s["api"].policy->balance = model::Balance{model::Balance::Kind::header, "X User"};
  auto bad = plan(s, cfg);
  EXPECT_EQ(backend(bad, "api").policy, model::TrafficPolicy{});
  EXPECT_THAT(bad.problems,
              ::testing::Contains(AllOf(HasSubstr("service \"api\": traffic policy ignored: "),
                                        HasSubstr("retries 11 is out of range 0..10"),
                                        HasSubstr("the header name must match"))));

  // One the reader could not take (a newer directory's value): ignored the same way.
  model::TrafficPolicy unreadable;
  unreadable.service = "api";
  unreadable.unreadable = {"retry_on[0] \"429\" is invalid"};
  s["api"].policy = unreadable;
  auto newer = plan(s, cfg);
  EXPECT_EQ(backend(newer, "api").policy, model::TrafficPolicy{});
  EXPECT_THAT(newer.problems, ::testing::Contains("service \"api\": traffic policy ignored: could "
                                                  "not be read: retry_on[0] \"429\" is invalid"));
}

TEST(NeedsReload, NotForServerChanges) {
  const Plan a = two_services();
  EXPECT_FALSE(needs_reload(a, a));
  Plan b = a;
  b.backends[0].servers.edit()[0].weight = 7;
  b.backends[0].servers.edit()[1].address = "10.9.9.9";
  b.backends[0].servers.edit()[1].port = 99;
  b.backends[0].servers.edit()[1].tls = true;
  b.backends[0].servers.edit().push_back({"c", "10.0.0.4", 80, false, "10.0.0.4", 1});
  b.backends[1].servers.edit().clear();
  b.problems.push_back("something");
  EXPECT_FALSE(needs_reload(a, b));
}

TEST(NeedsReload, ForServicesAddedOrRemovedAndTheirShape) {
  const Plan a = two_services();
  Plan added = a;
  added.backends.push_back({"zeta", PlannedBackend::Mode::http, "", 0, {}});
  EXPECT_TRUE(needs_reload(a, added));
  EXPECT_TRUE(needs_reload(added, a));
  Plan removed = a;
  removed.backends.pop_back();
  EXPECT_TRUE(needs_reload(a, removed));
  EXPECT_TRUE(needs_reload(a, Plan{}));
  EXPECT_FALSE(needs_reload(Plan{}, Plan{}));
  Plan path = a;
  path.backends[1].base_path = "/v2";
  EXPECT_TRUE(needs_reload(a, path));
  Plan mode = a;
  mode.backends[0].mode = PlannedBackend::Mode::tcp;
  mode.backends[0].tcp_port = 9000;
  EXPECT_TRUE(needs_reload(a, mode));
  Plan port = mode;
  port.backends[0].tcp_port = 9001;
  EXPECT_TRUE(needs_reload(mode, port));
  Plan renamed = a;
  renamed.backends[0].service = "apx";
  EXPECT_TRUE(needs_reload(a, renamed));
  Plan protocol = a;
  protocol.backends[0].protocol = model::Protocol::grpc;
  EXPECT_TRUE(needs_reload(a, protocol));
}

TEST(NeedsReload, FollowsTheDirectory) {
  Services s;
  s["api"].instances = {inst("api", "a", "http://10.0.0.1/x")};
  const Plan before = plan(s);
  s["api"].instances.push_back(inst("api", "b", "http://10.0.0.2/x"));
  s["api"].instances[0].weight = 3;
  EXPECT_FALSE(needs_reload(before, plan(s)));
  s["api"].instances.push_back(inst("api", "c", "http://10.0.0.3/y"));
  s["api"].instances.push_back(inst("api", "d", "http://10.0.0.4/y"));
  s["api"].instances.push_back(inst("api", "e", "http://10.0.0.5/y"));
  EXPECT_TRUE(needs_reload(before, plan(s)));  // most instances moved to /y
}

}  // namespace
}  // namespace dstack::sherlock
