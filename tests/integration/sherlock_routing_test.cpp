// SPDX-License-Identifier: Apache-2.0
// sherlock end to end: the real directory, the real sherlock binary and the real HAProxy it
// starts, and loopback test services as instances. Routing forms, 404/503, TCP listeners, and
// which changes go through the runtime API (no reload) and which reload.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;

struct SherlockRouting : SherlockTest {};

TEST_F(SherlockRouting, PathRoutingReplacesThePrefixAndKeepsTheQuery) {
  TestService emitter;
  put("emitter", "vm101", emitter.url("/emitter"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1)) << sherlock->stderr_text();

  auto r = sherlock->get("/emitter/x?y=1&z=%2F");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(emitter.last_path(), "/emitter/x?y=1&z=%2F");
  EXPECT_EQ(sherlock->get("/emitter").status, 200);
  EXPECT_EQ(emitter.last_path(), "/emitter");

  auto unknown = sherlock->get("/emitterx/x");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "unknown service: emitterx\n");
}

TEST_F(SherlockRouting, RootBasePathAndHostRouting) {
  TestService api;
  put("api", "a1", api.url("/"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1));

  EXPECT_EQ(sherlock->get("/api/v1/q?a=b").status, 200);
  EXPECT_EQ(api.last_path(), "/v1/q?a=b");
  EXPECT_EQ(sherlock->get("/anything/else?k=v", {{"Host", "api:8000"}}).status, 200);
  EXPECT_EQ(api.last_path(), "/anything/else?k=v");  // Host routing keeps the whole path
}

TEST_F(SherlockRouting, KnownServiceWithoutInstancesIs503) {
  TestService emitter;
  put("emitter", "vm101", emitter.url("/emitter"));
  // A route makes `ghost` known; it has no instance.
  ASSERT_EQ(
      directory.put("/v1/routes/ghost", json{{"targets", {{{"version", "2"}, {"weight", 10}}}}})
          .status,
      200);
  start();
  ASSERT_TRUE(sherlock->wait_applied("ghost", 0, 10s, true));
  auto r = sherlock->get("/ghost/x");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no available instance of service ghost\n");
}

TEST_F(SherlockRouting, InstancesComeAndGoWithoutAReload) {
  TestService a, b;
  put("emitter", "a", a.url("/emitter"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  const pid_t worker = sherlock->haproxy_worker_pid();
  ASSERT_GT(worker, 0);

  put("emitter", "b", b.url("/emitter"));
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GE(a.requests(), 5u);
  EXPECT_GE(b.requests(), 5u);

  ASSERT_EQ(directory.del("/v1/services/emitter/instances/a").status, 200);
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const auto before = a.requests();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_EQ(a.requests(), before);

  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);
  EXPECT_EQ(sherlock->haproxy_worker_pid(), worker);
  EXPECT_GE(sherlock->metric("dstack_sherlock_runtime_updates_total"), 5);
}

TEST_F(SherlockRouting, ANewServiceReloadsAndIsRouted) {
  TestService a, t;
  put("emitter", "a", a.url("/emitter"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  put("transform", "t1", t.url("/"));
  ASSERT_TRUE(sherlock->wait_applied("transform", 1));
  EXPECT_EQ(sherlock->get("/transform/go").status, 200);
  EXPECT_EQ(t.last_path(), "/go");
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads + 1);
  auto s = sherlock->status();
  EXPECT_EQ(s["haproxy"]["last_reload"]["ok"], true);
}

TEST_F(SherlockRouting, TcpListenerForATcpService) {
  TestService db;
  const auto port = free_port();
  put("mongo", "m1", "tcp://127.0.0.1:" + std::to_string(db.port()));
  SherlockOptions o;
  o.tcp = {{"mongo", port}};
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("mongo", 1));
  // The test service speaks HTTP; through a TCP listener the bytes pass unchanged.
  auto r = http(port, "GET", "/raw?x=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(db.last_path(), "/raw?x=1");
}

// manage: external: HAProxy runs under the host's own unit; sherlock writes the config, runs
// reload_command for structural changes and still applies instance changes at runtime. The
// script stands in for `systemctl reload haproxy` (it starts HAProxy the first time).
TEST_F(SherlockRouting, ExternalHaproxyIsReloadedByTheCommand) {
  TempDir scripts;
  const auto reload =
      scripts.write("reload-haproxy",
                    "#!/bin/sh\n"
                    "# $1: sherlock's run_dir\n"
                    "set -e\n"
                    "cd \"$1\"\n"
                    "echo reload >> reloads.log\n"
                    "if [ -s haproxy.pid ] && kill -0 \"$(cat haproxy.pid)\"; then\n"
                    "  kill -USR2 \"$(cat haproxy.pid)\"; exit 0\n"
                    "fi\n"
                    "exec /usr/sbin/haproxy -W -D -f haproxy.cfg -p haproxy.pid\n");
  std::filesystem::permissions(reload, std::filesystem::perms::owner_all);
  TestService a, b, t;
  put("emitter", "a", a.url("/emitter"));
  sherlock = std::make_unique<Sherlock>(options());
  sherlock->options().haproxy_extra = "  manage: external\n  reload_command: " + reload.string() +
                                      " " + sherlock->run_dir().string() + "\n";
  sherlock->start();
  ASSERT_TRUE(poll_until(10s, [&] { return sherlock->get("/emitter/").status == 200; }));
  const pid_t master = sherlock->haproxy_pid();
  ASSERT_GT(master, 0);
  const auto runs = [&] { return read_file(sherlock->run_dir() / "reloads.log").size(); };
  const auto after_start = runs();

  put("emitter", "b", b.url("/emitter"));  // an instance: runtime API, no command
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 5u);
  EXPECT_EQ(runs(), after_start);

  put("transform", "t1", t.url("/"));  // a service: a new config and the command
  ASSERT_TRUE(sherlock->wait_applied("transform", 1));
  ASSERT_TRUE(poll_until(10s, [&] { return sherlock->get("/transform/x").status == 200; }));
  EXPECT_GT(runs(), after_start);
  EXPECT_EQ(sherlock->haproxy_pid(), master);  // reloaded, not restarted
  EXPECT_EQ(sherlock->status()["haproxy"]["manage"], "external");
}

// https instances: TLS to the instance, its certificate verified with the URL's host name against
// haproxy.ca_file, else the system CAs; an instance that does not verify gets no traffic. The
// instance is a real HAProxy terminating TLS with a throwaway certificate for `localhost`.
TEST_F(SherlockRouting, HttpsInstancesAreVerified) {
  TempDir tls;
  const auto cert = tls.path() / "cert.pem", key = tls.path() / "key.pem";
  Process gen(
      {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
       "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key.string(), "-out", cert.string(),
       "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"},
      tls.path());
  ASSERT_EQ(gen.wait(30s), std::optional<int>(0)) << gen.stderr_text();
  const auto pem = tls.write("server.pem", read_file(cert) + read_file(key));
  const auto port = free_port();
  const auto cfg = tls.write(
      "tls.cfg",
      "global\n    maxconn 100\ndefaults\n    mode http\n    timeout client 10s\n"
      "    timeout server 10s\n    timeout connect 2s\nfrontend tls\n    bind 127.0.0.1:" +
          std::to_string(port) + " ssl crt " + pem.string() +
          "\n    http-request return status 200 content-type text/plain "
          "lf-string \"secure %[path]\\n\"\n");
  Process server({"/usr/sbin/haproxy", "-db", "-f", cfg.string()}, tls.path());
  ASSERT_TRUE(poll_until(10s, [&] { return Conn::connect(port, 200ms).ok(); }))
      << server.stderr_text();
  put("secure", "s1", "https://localhost:" + std::to_string(port) + "/app");

  SherlockOptions trusting;
  trusting.haproxy_extra = "  ca_file: " + cert.string() + "\n";
  start(trusting);
  ASSERT_TRUE(sherlock->wait_applied("secure", 1));
  EXPECT_EQ(sherlock->status()["services"]["secure"]["servers"][0]["tls"], true);
  auto r = sherlock->get("/secure/x?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secure /app/x\n");

  // The system CAs do not know the throwaway certificate: no request reaches the instance.
  sherlock.reset();
  start();
  ASSERT_TRUE(sherlock->wait_applied("secure", 1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(sherlock->get("/secure/x").status, 503);
}

// One command on HAProxy's admin socket, its whole answer.
std::string admin(const std::filesystem::path& socket_path, const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  return out;
}

// `show servers state` field 6 (srv_op_state) of one server: 0 stopped, 2 running.
int op_state(const std::string& state, const std::string& server) {
  std::istringstream lines(state);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string be_id, be, srv_id, name, addr;
    int op = -1;
    if (f >> be_id >> be >> srv_id >> name >> addr >> op && name == server) return op;
  }
  return -1;
}

// A reload starts a new worker; the servers' state comes with it from the state file, so a
// server HAProxy found dead does not come back up and take requests until checked again.
TEST_F(SherlockRouting, ServerStateSurvivesAReload) {
  TestService a, dead, t;
  dead.set_mode(TestService::Mode::stopped);
  put("emitter", "a", a.url("/emitter"));
  put("emitter", "dead", dead.url("/emitter"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  const auto socket = sherlock->run_dir() / "admin.sock";
  ASSERT_TRUE(poll_until(
      10s, [&] { return op_state(admin(socket, "show servers state be_emitter"), "dead") == 0; }));
  const pid_t worker = sherlock->haproxy_worker_pid();
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");

  put("transform", "t1", t.url("/"));  // a reload
  ASSERT_TRUE(
      poll_until(10s, [&] { return sherlock->metric("dstack_sherlock_reloads_total") > reloads; }));
  // At once: the new worker's own checks (every 500 ms, down after 2) cannot have run yet.
  const auto state = admin(socket, "show servers state be_emitter");
  EXPECT_NE(sherlock->haproxy_worker_pid(), worker);
  EXPECT_EQ(op_state(state, "dead"), 0) << state;
  EXPECT_EQ(op_state(state, "a"), 2) << state;
}

TEST_F(SherlockRouting, StatusAndMetricsDescribeWhatIsApplied) {
  TestService a;
  put("emitter", "a", a.url("/emitter"), json{{"weight", 40}});
  start();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  auto s = sherlock->status();
  EXPECT_EQ(s["directory"]["connected"], true);
  EXPECT_EQ(s["directory"]["revision"], directory.revision());
  EXPECT_EQ(s["services"]["emitter"]["base_path"], "/emitter");
  EXPECT_EQ(s["services"]["emitter"]["servers"][0]["id"], "a");
  EXPECT_EQ(s["services"]["emitter"]["servers"][0]["port"], a.port());
  EXPECT_EQ(sherlock->metric("dstack_sherlock_directory_connected"), 1);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_haproxy_serving"), 1);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_services"), 1);
  EXPECT_EQ(http(sherlock->api_port(), "POST", "/v1/status").status, 405);
  EXPECT_EQ(http(sherlock->api_port(), "GET", "/v1/nothing").status, 404);
}

TEST_F(SherlockRouting, RenderPrintsTheConfigItWouldRun) {
  TestService a;
  put("emitter", "a", a.url("/emitter"));
  Sherlock s(options());
  auto r = s.run({"--render"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("backend be_emitter"));
  EXPECT_THAT(r.out, HasSubstr("server a 127.0.0.1:" + std::to_string(a.port())));
  EXPECT_THAT(r.out, HasSubstr("#   emitter be_emitter"));
}

TEST_F(SherlockRouting, CheckConfigRunsHaproxyOnTheSettings) {
  Sherlock good;
  auto ok = good.run({"--check-config"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("valid"));

  SherlockOptions o;
  o.extra_config = "haproxy_extra_placeholder: 1\n";
  Sherlock unknown_key(o);
  auto bad = unknown_key.run({"--check-config"});
  EXPECT_EQ(bad.status, 78);

  SherlockOptions o2;
  o2.haproxy_extra = "  extra_global:\n    - \"bogus_keyword on\"\n";
  Sherlock refused(o2);
  auto no = refused.run({"--check-config"});
  EXPECT_EQ(no.status, 78);
  EXPECT_THAT(no.err, HasSubstr("bogus_keyword"));
}

// docs/security.md#client-certificates: sherlock presents tls_cert and tls_key to a directory
// whose tls.client_ca signed them, and routes what it reads there.
TEST(SherlockClientCertificate, FollowsADirectoryThatRequiresOne) {
  TempDir certs;
  const TestCa ca(certs.path(), "ca");
  const auto server = ca.issue("directory"), client = ca.issue("web1");
  Directory d({.config = "tls:\n  cert: " + server.cert.string() + "\n  key: " +
                         server.key.string() + "\n  client_ca: " + ca.cert().string() + "\n",
               .tls = true});
  d.start();
  const std::string url = "https://127.0.0.1:" + std::to_string(d.port());
  const std::string curl = "curl -sS --max-time 10 --cacert " + ca.cert().string() + " --cert " +
                           client.cert.string() + " --key " + client.key.string() + " ";
  auto [granted, granted_status] = shell(curl + "-X POST -d '{\"ttl\":60}' " + url + "/v1/leases");
  ASSERT_EQ(granted_status, 0) << granted;
  const std::string lease = json::parse(granted)["id"];
  TestService emitter;
  auto [put, put_status] =
      shell(curl + "-X PUT -d '" + json{{"lease", lease}, {"url", emitter.url("/emitter")}}.dump() +
            "' " + url + "/v1/services/emitter/instances/vm101");
  ASSERT_EQ(put_status, 0) << put;

  Sherlock sherlock({.directories = {url},
                     .extra_config = "directory_ca_file: " + ca.cert().string() +
                                     "\ntls_cert: " + client.cert.string() +
                                     "\ntls_key: " + client.key.string() + "\n"});
  sherlock.start();
  ASSERT_TRUE(sherlock.wait_applied("emitter", 1)) << sherlock.stderr_text();
  EXPECT_EQ(sherlock.get("/emitter/").status, 200);
}

}  // namespace
}  // namespace dstack::test
