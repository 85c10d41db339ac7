// SPDX-License-Identifier: Apache-2.0
// The etcd backend where it differs from the directory: etcd validates nothing, so values
// written behind dstack's back are validated on reading; revisions are compacted away; a
// cluster has members that die; a cluster may require a user and password, and TLS.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "etcd_fixture.hpp"
#include "registry_runner.hpp"

namespace dstack::test {
namespace {

using model::Event;
using nlohmann::json;

std::string instance_json(const std::string& url, const std::string& lease = "7") {
  json j{{"url", url},          {"version", "1"},        {"weight", 100},
         {"health", "passing"}, {"tags", json::array()}, {"meta", json::object()}};
  if (!lease.empty()) j["lease"] = lease;
  return j.dump();
}

// Up to 128 puts in one transaction (etcd's default --max-txn-ops).
void put_many(EtcdCluster& etcd, const std::vector<std::pair<std::string, std::string>>& kvs) {
  for (std::size_t i = 0; i < kvs.size(); i += 128) {
    json ops = json::array();
    for (std::size_t k = i; k < std::min(kvs.size(), i + 128); ++k)
      ops.push_back({{"request_put",
                      {{"key", EtcdCluster::b64(kvs[k].first)},
                       {"value", EtcdCluster::b64(kvs[k].second)}}}});
    etcd.call("/v3/kv/txn", {{"success", ops}});
  }
}

class EtcdBackend : public ::testing::Test {
 protected:
  void SetUp() override { etcd.start(); }
  EtcdCluster etcd{1};
};

TEST_F(EtcdBackend, ValuesWrittenBehindItsBackAreValidatedAndTheBadOnesIgnored) {
  RegistryRunner reg(etcd.address());
  etcd.put("/dstack/instances/emitter/good", instance_json("http://127.0.0.1:9001/emitter"));
  etcd.put("/dstack/instances/emitter/not-json", "{nope");
  etcd.put("/dstack/instances/emitter/evil",
           instance_json("http://127.0.0.1:9001/x\n    server evil 10.6.6.6:80"));
  etcd.put("/dstack/instances/emitter/unknown-key",
           R"({"url":"http://127.0.0.1:9002/emitter","wieght":5})");
  etcd.put("/dstack/instances/Bad Service/a", instance_json("http://127.0.0.1:9003/a"));
  etcd.put("/dstack/routes/emitter", R"({"targets":[{"version":"1","weight":500}]})");
  etcd.put("/dstack/something-else/x", "not ours");  // other keys under the prefix: left alone
  etcd.put("/dstackother/instances/emitter/b", instance_json("http://127.0.0.1:9004/emitter"));

  auto snap = reg.run(reg->snapshot());
  ASSERT_TRUE(snap) << snap.error().message;
  ASSERT_EQ(snap->instances.size(), 1u);
  EXPECT_EQ(snap->instances[0].id, "good");
  EXPECT_TRUE(snap->routes.empty());

  // A valid instance overwritten with garbage leaves: the watch says it was deleted.
  auto w = reg.run(reg->watch(snap->revision, snap->epoch));
  ASSERT_TRUE(w) << w.error().message;
  etcd.put("/dstack/instances/emitter/good", "garbage");
  auto e = reg.run((*w)->next());
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->type, Event::Type::instance_delete);
  EXPECT_EQ(e->id, "good");
}

TEST_F(EtcdBackend, AWatchFromACompactedRevisionIsStale) {
  RegistryRunner reg(etcd.address());
  auto snap = reg.run(reg->snapshot());
  ASSERT_TRUE(snap);
  etcd.put("/dstack/routes/emitter", R"({"targets":[{"version":"1","weight":100}]})");
  etcd.put("/dstack/routes/emitter", R"({"targets":[{"version":"2","weight":100}]})");
  etcd.compact(etcd.revision());
  auto w = reg.run(reg->watch(snap->revision, snap->epoch));
  Error why;
  if (w) {
    auto e = reg.run((*w)->next());
    ASSERT_FALSE(e);
    why = e.error();
  } else {
    why = w.error();
  }
  EXPECT_EQ(why.kind, ErrorKind::stale) << why.message;
  EXPECT_THAT(why.message, ::testing::HasSubstr("compacted"));
}

TEST_F(EtcdBackend, ASnapshotLargerThanOnePageIsWholeAndAtOneRevision) {
  std::vector<std::pair<std::string, std::string>> kvs;
  for (int i = 0; i < 2500; ++i)
    kvs.emplace_back("/dstack/instances/svc" + std::to_string(i % 7) + "/i" + std::to_string(i),
                     instance_json("http://127.0.0.1:9001/svc"));
  put_many(etcd, kvs);
  RegistryRunner reg(etcd.address());
  auto snap = reg.run(reg->snapshot());
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->instances.size(), 2500u);
  EXPECT_EQ(snap->revision, etcd.revision());
}

TEST_F(EtcdBackend, AClusterWithNoMemberAnsweringIsUnreachable) {
  RegistryRunner reg(etcd.address());
  etcd.kill(0);
  auto h = reg.run(reg->health());
  ASSERT_EQ(failure_kind(h), ErrorKind::unreachable);
  EXPECT_THAT(h.error().message, ::testing::HasSubstr(std::to_string(etcd.client_port(0))));
}

TEST(EtcdCluster3, CallsAndAnOpenWatchGoOnWhenAMemberDies) {
  EtcdCluster etcd(3);
  etcd.start();
  RegistryRunner reg(etcd.address());  // member 0 first: it is the one asked and watched
  auto lease = reg.run(reg->grant_lease(std::chrono::seconds(30), "vm101"));
  ASSERT_TRUE(lease) << lease.error().message;
  auto snap = reg.run(reg->snapshot());
  ASSERT_TRUE(snap);
  auto w = reg.run(reg->watch(snap->revision, snap->epoch));
  ASSERT_TRUE(w);

  model::Instance in;
  in.service = "emitter";
  in.id = "vm101";
  in.lease = lease->id;
  in.url = "http://127.0.0.1:9001/emitter";
  ASSERT_TRUE(reg.run(reg->put_instance(in)));
  auto first = reg.run((*w)->next());
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, "vm101");

  etcd.kill(0);
  // Writes, keepalives and the watch all move to the members left; no event is lost.
  in.id = "vm102";
  auto put = reg.run(reg->put_instance(in));
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_TRUE(reg.run(reg->keepalive(lease->id)));
  ASSERT_TRUE(reg.run(reg->delete_instance("emitter", "vm101")));
  auto second = reg.run((*w)->next());
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->type, Event::Type::instance_put);
  EXPECT_EQ(second->id, "vm102");
  auto third = reg.run((*w)->next());
  ASSERT_TRUE(third) << third.error().message;
  EXPECT_EQ(third->type, Event::Type::instance_delete);
  EXPECT_EQ(third->id, "vm101");
  EXPECT_EQ(third->revision, second->revision + 1);
}

// A member that accepts connections but never answers (stopped, say) holds a call up for one
// member timeout, well under a third of a lease TTL, then the next member answers.
TEST(EtcdCluster3, AHungMemberDelaysACallByOneMemberTimeoutAtMost) {
  EtcdCluster etcd(3);
  etcd.start();
  RegistryRunner reg(etcd.address());
  auto lease = reg.run(reg->grant_lease(std::chrono::seconds(10), "vm101"));
  ASSERT_TRUE(lease) << lease.error().message;
  etcd.signal(0, SIGSTOP);
  const auto start = Clock::now();
  auto kept = reg.run(reg->keepalive(lease->id));
  const auto took = Clock::now() - start;
  etcd.signal(0, SIGCONT);
  EXPECT_TRUE(kept) << kept.error().message;
  EXPECT_LT(took, 3333ms) << "keepalives go every TTL/3: one this late risks a 10 s lease";
}

TEST_F(EtcdBackend, AClusterWithAuthTakesAUserAndPasswordAndRefusesOthers) {
  etcd.call("/v3/auth/user/add", {{"name", "root"}, {"password", "s3cret"}});
  etcd.call("/v3/auth/role/add", {{"name", "root"}});
  etcd.call("/v3/auth/user/grant", {{"user", "root"}, {"role", "root"}});
  etcd.call("/v3/auth/enable", json::object());

  RegistryRunner good(etcd.address(), "root:s3cret");
  model::Route r;
  r.service = "emitter";
  r.targets = {{"1", 100}};
  auto put = good.run(good->put_route(r));
  ASSERT_TRUE(put) << put.error().message;
  auto listed = good.run(good->routes(std::nullopt));
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 1u);

  RegistryRunner wrong(etcd.address(), "root:guess");
  auto refused = wrong.run(wrong->routes(std::nullopt));
  ASSERT_EQ(failure_kind(refused), ErrorKind::unauthorized);
  EXPECT_THAT(refused.error().message, ::testing::HasSubstr("authenticate as root"));

  RegistryRunner anonymous(etcd.address());
  auto no_token = anonymous.run(anonymous->routes(std::nullopt));
  ASSERT_EQ(failure_kind(no_token), ErrorKind::unauthorized);
  EXPECT_THAT(no_token.error().message, ::testing::HasSubstr("USER:PASSWORD"));

  EXPECT_THROW(RegistryRunner(etcd.address(), "just-a-token"), std::runtime_error);
}

// docs/etcd.md#policies-as-etcd-roles: each policy as an etcd role with key-prefix
// permissions, set up here through etcd's API exactly as the documented etcdctl lines do. A
// watson user limited to emitter's instances registers emitter and cannot register payments; a
// reader reads and cannot write; a deployer limited to emitter's routes sets emitter's and not
// emitterx's.
TEST_F(EtcdBackend, RolesLimitEachUserToItsPolicysKeys) {
  auto prefix_end = [](std::string prefix) {
    ++prefix.back();
    return prefix;
  };
  auto grant = [&](const std::string& role, const std::string& type, const std::string& key,
                   bool prefix) {
    json perm{{"permType", type}, {"key", EtcdCluster::b64(key)}};
    if (prefix) perm["range_end"] = EtcdCluster::b64(prefix_end(key));
    etcd.call("/v3/auth/role/grant", {{"name", role}, {"perm", perm}});
  };
  auto user = [&](const std::string& name, const std::string& role) {
    etcd.call("/v3/auth/user/add", {{"name", name}, {"password", "pw-" + name}});
    if (!role.empty()) etcd.call("/v3/auth/role/add", {{"name", role}});
    etcd.call("/v3/auth/user/grant", {{"user", name}, {"role", role}});
  };
  user("root", "root");
  user("vm101", "dstack-register-emitter");  // register:emitter
  grant("dstack-register-emitter", "READWRITE", "/dstack/instances/emitter/", true);
  user("sherlock", "dstack-read");  // read
  grant("dstack-read", "READ", "/dstack/", true);
  user("deployer", "dstack-routes-emitter");  // routes:emitter
  grant("dstack-routes-emitter", "READWRITE", "/dstack/routes/emitter", false);
  grant("dstack-routes-emitter", "READWRITE", "/dstack/routes/emitter/", true);
  etcd.call("/v3/auth/enable", json::object());

  RegistryRunner vm101(etcd.address(), "vm101:pw-vm101");
  auto lease = vm101.run(vm101->grant_lease(std::chrono::seconds(10), "vm101"));
  ASSERT_TRUE(lease) << lease.error().message;
  model::Instance in;
  in.service = "emitter";
  in.id = "vm101";
  in.lease = lease->id;
  in.url = "http://10.0.0.1:8080";
  auto mine = vm101.run(vm101->put_instance(in));
  EXPECT_TRUE(mine) << mine.error().message;
  in.service = "payments";
  auto theirs = vm101.run(vm101->put_instance(in));
  ASSERT_FALSE(theirs);
  EXPECT_EQ(theirs.error().kind, ErrorKind::unauthorized) << theirs.error().message;
  EXPECT_THAT(theirs.error().message, ::testing::HasSubstr("permission denied"));
  model::Route route;
  route.service = "emitter";
  route.targets = {{"1", 100}};
  EXPECT_FALSE(vm101.run(vm101->put_route(route)));

  RegistryRunner sherlock(etcd.address(), "sherlock:pw-sherlock");
  auto snapshot = sherlock.run(sherlock->snapshot());
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  ASSERT_EQ(snapshot->instances.size(), 1u);
  EXPECT_EQ(snapshot->instances[0].service, "emitter");
  EXPECT_FALSE(sherlock.run(sherlock->put_route(route)));

  RegistryRunner deployer(etcd.address(), "deployer:pw-deployer");
  auto set = deployer.run(deployer->put_route(route));
  EXPECT_TRUE(set) << set.error().message;
  route.consumer = "monolith";
  auto per_consumer = deployer.run(deployer->put_route(route));
  EXPECT_TRUE(per_consumer) << per_consumer.error().message;
  route.service = "emitterx";
  route.consumer = "";
  EXPECT_FALSE(deployer.run(deployer->put_route(route)));
}

// dw watch on etcd: a compacted revision is said by the watch's first answer, not when it opens;
// dw must carry on from the present then, as it does when the directory forgets its revision.
TEST(EtcdCluster3, DwWatchCarriesOnAfterCompaction) {
  EtcdCluster etcd(3);
  etcd.start();
  TempDir logs;
  Process dw({DSTACK_DW_BIN, "-d", etcd.address(), "watch"}, logs.path());
  auto route = [](const std::string& version) {
    return json{{"targets", {{{"version", version}, {"weight", 100}}}}}.dump();
  };
  // The watch is open once a change made now shows up.
  ASSERT_TRUE(poll_until(
      10s,
      [&] {
        etcd.put("/dstack/routes/emitter", route("1"));
        return dw.stdout_text().find("route_put") != std::string::npos;
      },
      200ms))
      << dw.stderr_text();
  // dw away while the member it watches dies and the history it would resume from is compacted.
  dw.kill(SIGSTOP);
  etcd.kill(0);
  etcd.put("/dstack/routes/emitter", route("2"));
  etcd.put("/dstack/routes/emitter", route("1"));
  etcd.compact(etcd.revision());
  dw.kill(SIGCONT);
  ASSERT_TRUE(poll_until(10s, [&] {
    return dw.stderr_text().find("history lost") != std::string::npos;
  })) << dw.stderr_text();
  etcd.put("/dstack/routes/emitter", route("3"));
  EXPECT_TRUE(poll_until(10s, [&] { return dw.stdout_text().find("3=100%") != std::string::npos; }))
      << dw.stdout_text() << dw.stderr_text();
}

// Runs a command line and returns its exit status, with its output in `out`.
int run(const std::string& command, std::string& out) {
  auto [text, status] = shell(command);
  out += text;
  return status;
}

TEST(EtcdTls, EtcdsSpeaksTlsAndChecksTheCertificate) {
  TempDir tmp;
  const auto cert = tmp.path() / "cert.pem", key = tmp.path() / "key.pem";
  std::string out;
  ASSERT_EQ(run("timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                "-nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
                    key.string() + " -out " + cert.string(),
                out),
            0)
      << out;
  const auto client = free_port(), peer = free_port();
  const std::string client_url = "https://127.0.0.1:" + std::to_string(client);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
  Process etcd({"/usr/bin/etcd", "--name=tls", "--data-dir=" + (tmp.path() / "data").string(),
                "--listen-client-urls=" + client_url, "--advertise-client-urls=" + client_url,
                "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
                "--initial-cluster=tls=" + peer_url, "--cert-file=" + cert.string(),
                "--key-file=" + key.string(), "--logger=zap", "--log-level=warn"},
               tmp.path());
  const std::string address = "etcds://127.0.0.1:" + std::to_string(client);
  RegistryRunner trusting(address, "", cert.string());
  ASSERT_TRUE(poll_until(
      30s, [&] { return static_cast<bool>(trusting.run(trusting->health())); }, 100ms))
      << etcd.stderr_text();

  RegistryRunner untrusting(address);  // the system CAs do not know this certificate
  auto refused = untrusting.run(untrusting->health());
  EXPECT_EQ(failure_kind(refused), ErrorKind::unreachable);

  RegistryRunner plain("etcd://127.0.0.1:" + std::to_string(client));
  EXPECT_FALSE(plain.run(plain->health()));
}

// docs/security.md#client-certificates: an etcds:// cluster with --client-cert-auth accepts
// the client certificate its CA signed, presented as watson and sherlock do (tls_cert,
// tls_key), and refuses a client without one.
TEST(EtcdTls, ClientCertificatesReachAClusterThatRequiresThem) {
  TempDir tmp;
  const TestCa ca(tmp.path(), "ca");
  const auto server = ca.issue("etcd"), client = ca.issue("vm101");
  const auto port = free_port(), peer = free_port();
  const std::string client_url = "https://127.0.0.1:" + std::to_string(port);
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer);
  Process etcd({"/usr/bin/etcd", "--name=mtls", "--data-dir=" + (tmp.path() / "data").string(),
                "--listen-client-urls=" + client_url, "--advertise-client-urls=" + client_url,
                "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
                "--initial-cluster=mtls=" + peer_url, "--cert-file=" + server.cert.string(),
                "--key-file=" + server.key.string(), "--client-cert-auth",
                "--trusted-ca-file=" + ca.cert().string(), "--logger=zap", "--log-level=warn"},
               tmp.path());
  const std::string address = "etcds://127.0.0.1:" + std::to_string(port);
  RegistryRunner with(address, "", ca.cert().string(), client.cert.string(), client.key.string());
  ASSERT_TRUE(poll_until(
      30s, [&] { return static_cast<bool>(with.run(with->health())); }, 100ms))
      << etcd.stderr_text();
  model::Route r;
  r.service = "emitter";
  r.targets = {{"1", 100}};
  auto put = with.run(with->put_route(r));
  EXPECT_TRUE(put) << put.error().message;

  RegistryRunner without(address, "", ca.cert().string());
  EXPECT_FALSE(without.run(without->health()));
}

}  // namespace
}  // namespace dstack::test
