// SPDX-License-Identifier: Apache-2.0
// sherlock when things go wrong: hostile registrations, configs HAProxy refuses, the directory
// gone, sherlock restarted during the outage, HAProxy's worker killed, sherlock itself killed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "sherlock_probes.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct SherlockSafety : SherlockTest {
  std::string config_text() const { return read_file(sherlock->run_dir() / "haproxy.cfg"); }
};

TEST_F(SherlockSafety, HostileRegistrationsAddNoLine) {
  TestService a;
  put("emitter", "a", a.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const std::string before = config_text();

  // The directory refuses line breaks in names, tags and URLs...
  auto tag = directory.put(
      "/v1/services/emitter/instances/b",
      json{{"lease", lease}, {"url", a.url("/emitter")}, {"tags", {"x\nserver evil 10.6.6.6:80"}}});
  EXPECT_EQ(tag.status, 400);
  auto url = directory.put(
      "/v1/services/emitter/instances/c",
      json{{"lease", lease}, {"url", a.url("/emitter\n    server evil 10.6.6.6:80")}});
  EXPECT_EQ(url.status, 400);
  // ...and what it lets through (escapes, keywords as plain words) stays inside one word.
  put("emitter", "d", a.url("/emitter"));
  directory.put_instance("emitter", "e", lease,
                         json{{"url", a.url("/emitter")},
                              {"tags", {"server", "backend", "use_backend"}},
                              {"meta", {{"x", "server evil 10.6.6.6:80 # \\ \""}}}});
  ASSERT_TRUE(sherlock->wait_applied("emitter", 3));
  // Instances arrive through the runtime API; a new service makes sherlock write the file.
  put("other", "o", a.url("/other"));
  ASSERT_TRUE(sherlock->wait_applied("other", 1));
  const std::string after = config_text();
  EXPECT_NE(after, before);
  EXPECT_THAT(after, Not(HasSubstr("evil")));
  EXPECT_THAT(after, Not(HasSubstr("10.6.6.6")));
  // Four instances, and the request log ring's one server (docs/insight.md).
  EXPECT_EQ(occurrences(after, "\n    server "), 5);
  EXPECT_EQ(occurrences(after, "\n    server sherlock unix@"), 1);
  EXPECT_EQ(sherlock->get("/emitter/").status, 200);
}

TEST_F(SherlockSafety, ConfigHaproxyRefusesIsNeverLoaded) {
  auto o = options();
  o.haproxy_extra = "  extra_global:\n    - \"bogus_keyword on\"\n";
  sherlock = std::make_unique<Sherlock>(o);
  // run() writes sherlock.yaml; --check-config reports the refusal.
  auto check = sherlock->run({"--check-config"});
  EXPECT_EQ(check.status, 78);
  // start() waits for HAProxy to serve, which it must not: start the daemon by hand.
  Process daemon({sherlock_binary(), "-c", sherlock->config_path().string()},
                 sherlock->dir().path());
  ASSERT_TRUE(poll_until(20s, [&] {
    return sherlock->metric("dstack_sherlock_failed_validations_total") >= 1;
  })) << daemon.stderr_text();
  EXPECT_EQ(sherlock->metric("dstack_sherlock_haproxy_serving"), 0);
  EXPECT_THAT(daemon.stderr_text(), HasSubstr("bogus_keyword"));
  EXPECT_FALSE(std::filesystem::exists(sherlock->run_dir() / "haproxy.cfg"));
  EXPECT_EQ(sherlock->get("/x", {}, 1s).status, 0);  // nothing listens
  daemon.kill(SIGKILL);
}

TEST_F(SherlockSafety, ReloadHaproxyRefusesKeepsTheRunningConfig) {
  TestService a, db;
  put("emitter", "a", a.url("/emitter"));
  // A TCP listener on a port something else holds: haproxy -c passes, the reload fails to bind.
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len);
  auto o = options();
  o.tcp = {{"mongo", ntohs(addr.sin_port)}};
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const std::string good = config_text();

  put("mongo", "m1", "tcp://127.0.0.1:" + std::to_string(db.port()));
  ASSERT_TRUE(poll_until(20s, [&] {
    return sherlock->metric("dstack_sherlock_reload_failures_total") >= 1;
  })) << sherlock->stderr_text();
  EXPECT_EQ(config_text(), good);  // the refused config is not left for a restart to pick up
  EXPECT_EQ(sherlock->status()["haproxy"]["last_reload"]["ok"], false);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  ::close(holder);
}

TEST_F(SherlockSafety, DirectoryKilledRoutingUnchanged) {
  TestService a, b;
  put("emitter", "a", a.url("/emitter"));
  put("emitter", "b", b.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  directory.kill9();
  ASSERT_TRUE(
      poll_until(30s, [&] { return sherlock->status()["directory"]["connected"] == false; }));
  for (int i = 0; i < 40; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GE(a.requests(), 10u);
  EXPECT_GE(b.requests(), 10u);
  EXPECT_EQ(sherlock->weights("emitter").size(), 2u);
}

// A directory just started (its grace not over) may not yet know every instance: sherlock
// removes nothing it reports gone until it is synced.
TEST_F(SherlockSafety, NothingRemovedWhileTheDirectoryIsNotSynced) {
  Directory fresh;  // default grace: 2 x the longest TTL, far longer than this test
  fresh.start();
  const std::string fresh_lease = fresh.grant(60);
  TestService a, b;
  fresh.put_instance("emitter", "a", fresh_lease, json{{"url", a.url("/emitter")}});
  fresh.put_instance("emitter", "b", fresh_lease, json{{"url", b.url("/emitter")}});
  SherlockOptions o;
  o.directories = {"http://127.0.0.1:" + std::to_string(fresh.port())};
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));

  ASSERT_EQ(fresh.del("/v1/services/emitter/instances/b").status, 200);
  const auto revision = json::parse(fresh.get("/v1/health").body)["revision"].get<long>();
  ASSERT_TRUE(poll_until(
      10s, [&] { return sherlock->status()["directory"]["revision"].get<long>() >= revision; }));
  EXPECT_EQ(sherlock->status()["directory"]["synced"], false);
  EXPECT_EQ(sherlock->weights("emitter").size(), 2u);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 5u);
}

TEST_F(SherlockSafety, RestartDuringAnOutageServesTheSavedView) {
  TestService a;
  put("emitter", "a", a.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  ASSERT_TRUE(poll_until(
      10s, [&] { return std::filesystem::exists(sherlock->state_dir() / "snapshot.json"); }));
  directory.kill9();
  sherlock->sigterm();
  ASSERT_EQ(sherlock->wait(30s), 0) << sherlock->stderr_text();
  EXPECT_EQ(sherlock->get("/emitter/", {}, 1s).status, 0);  // HAProxy stopped with it

  sherlock->start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  EXPECT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(sherlock->status()["directory"]["connected"], false);
  EXPECT_THAT(sherlock->stderr_text(), HasSubstr("serving the saved view"));
}

// sherlock holds the proxy's listening socket and hands it to HAProxy
// (docs/sherlock.md#the-proxys-listening-socket): while HAProxy dies and starts again,
// connections wait in its backlog. Only the request the dying worker was serving can fail; none
// is refused.
TEST_F(SherlockSafety, KilledWorkerIsReplacedWithNoConnectionRefused) {
  TestService a;
  put("emitter", "a", a.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const pid_t worker = sherlock->haproxy_worker_pid();
  ASSERT_GT(worker, 0);
  ClientLoop client(sherlock->proxy_port(), "/emitter/");
  ASSERT_TRUE(poll_until(5s, [&] { return client.ok() >= 20; }));
  ::kill(worker, SIGKILL);
  ASSERT_TRUE(poll_until(20s, [&] {
    return sherlock->metric("dstack_sherlock_haproxy_exits_total") == 1 &&
           sherlock->metric("dstack_sherlock_haproxy_serving") == 1;
  })) << sherlock->stderr_text();
  const auto served_before = client.ok();
  ASSERT_TRUE(poll_until(5s, [&] { return client.ok() >= served_before + 20; }));
  client.stop();
  EXPECT_EQ(client.refused(), 0u) << client.first_failure();
  EXPECT_LE(client.failed(), 1u) << client.first_failure();
  EXPECT_NE(sherlock->haproxy_worker_pid(), worker);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_haproxy_starts_total"), 2);
}

TEST_F(SherlockSafety, KilledSherlockLeavesHaproxyServingAndTakesItOver) {
  TestService a, b;
  put("emitter", "a", a.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const pid_t master = sherlock->haproxy_pid();
  sherlock->kill9();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);

  put("emitter", "b", b.url("/emitter"));
  sherlock->start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  EXPECT_EQ(sherlock->haproxy_pid(), master);  // the same HAProxy, reloaded
  EXPECT_THAT(sherlock->stderr_text(), HasSubstr("taking over HAProxy"));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 5u);
}

}  // namespace
}  // namespace dstack::test
