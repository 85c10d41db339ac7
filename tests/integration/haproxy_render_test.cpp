// SPDX-License-Identifier: Apache-2.0
// sherlock's rendered HAProxy configs against the real haproxy: `haproxy -c` accepts every
// shape a plan can take (with zero warnings), and a running haproxy routes as
// docs/sherlock.md#routing says.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "sherlock/haproxy_config.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

namespace fs = std::filesystem;
using sherlock::Plan;
using sherlock::PlannedBackend;
using sherlock::PlannedServer;
using sherlock::RenderedConfig;
using sherlock::RuntimePaths;
using sherlock::ServiceView;
using sherlock::SherlockConfig;

// On PATH, else where Debian puts it (/usr/sbin is not on every user's PATH). Empty: absent.
std::string find_program(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::istringstream in(path);
    for (std::string dir; std::getline(in, dir, ':');)
      if (!dir.empty()) dirs.push_back(dir);
  }
  dirs.push_back("/usr/sbin");
  dirs.push_back("/usr/bin");
  for (const auto& dir : dirs) {
    const auto candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

model::Instance inst(std::string service, std::string id, std::string url, int weight = 100) {
  model::Instance i;
  i.service = std::move(service);
  i.id = std::move(id);
  i.lease = "lease1";
  i.url = std::move(url);
  i.weight = weight;
  return i;
}

class HaproxyRender : public ::testing::Test {
 protected:
  void SetUp() override {
    haproxy_ = find_program("haproxy");
    if (haproxy_.empty()) GTEST_SKIP() << "haproxy is not installed (scripts/install-deps)";
    cfg_.haproxy.run_dir = dir_.path().string();
    cfg_.proxy = {"127.0.0.1", free_port()};
    paths_ = sherlock::runtime_paths(cfg_);
  }

  // The files sherlock writes into run_dir. The state file is what `show servers state` dumps
  // (a version line at least); without it haproxy warns, and these checks allow no warning.
  fs::path write(const RenderedConfig& r) {
    dir_.write("path.map", r.path_map);
    dir_.write("host.map", r.host_map);
    dir_.write("pin.map", r.pin_map);
    fs::create_directories(fs::path(paths_.state_file).parent_path());
    std::ofstream(paths_.state_file) << "1\n";
    return dir_.write("haproxy.cfg", r.haproxy_cfg);
  }

  // `haproxy -c -dW`: rc 0 and no warning, else the test fails with haproxy's words and the text.
  void expect_valid(const Plan& plan) {
    const auto r = sherlock::render_haproxy_config(plan, cfg_, paths_);
    const auto file = write(r);
    Process check({haproxy_, "-c", "-dW", "-f", file.string()}, dir_.path());
    const auto rc = check.wait(30s);
    ASSERT_TRUE(rc.has_value()) << "haproxy -c did not finish";
    EXPECT_EQ(*rc, 0) << check.stderr_text() << "\n" << r.haproxy_cfg;
    EXPECT_NE(check.stdout_text().find("Configuration file is valid"), std::string::npos);
  }

  Plan plan(const std::map<std::string, ServiceView>& services,
            const std::map<std::string, std::string>& addresses = {}) {
    auto p = sherlock::make_plan(services, cfg_, addresses);
    EXPECT_TRUE(p.problems.empty()) << p.problems.front();
    return p;
  }

  std::string haproxy_;
  TempDir dir_;
  SherlockConfig cfg_;
  RuntimePaths paths_;
};

TEST_F(HaproxyRender, EmptyPlan) {
  expect_valid(Plan{});
}

TEST_F(HaproxyRender, HttpServicesWithRootAndNonRootBasePaths) {
  std::map<std::string, ServiceView> s;
  s["api"].instances = {inst("api", "a1", "http://127.0.0.1:9001"),
                        inst("api", "a2", "http://vm2.test:9002/")};
  s["emitter"].instances = {inst("emitter", "vm101:80", "http://127.0.0.1/emitter"),
                            inst("emitter", "vm102:80", "http://127.0.0.2/emitter/")};
  s["barker.internal"].instances = {inst("barker.internal", "b1", "http://10.0.0.1/a%20b/c")};
  s["routes-only"].routes = {{"routes-only", "", {{"2", 10}}, 1}};
  auto p = plan(s, {{"vm2.test", "127.0.0.3"}});
  ASSERT_EQ(p.backends.size(), 4u);
  expect_valid(p);
}

TEST_F(HaproxyRender, TlsServersWithAnExplicitCaFile) {
  const auto openssl = find_program("openssl");
  ASSERT_FALSE(openssl.empty()) << "openssl is needed to make the test CA";
  const auto ca = dir_.path() / "test-ca.pem";
  Process gen({openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-nodes", "-keyout", (dir_.path() / "test-ca.key").string(), "-out", ca.string(),
               "-days", "2", "-subj", "/CN=dstack test CA"},
              dir_.path());
  ASSERT_EQ(gen.wait(30s), std::optional<int>(0)) << gen.stderr_text();
  paths_.ca_file = ca.string();
  std::map<std::string, ServiceView> s;
  s["secure"].instances = {inst("secure", "s1", "https://vm1.test:8443/secure"),
                           inst("secure", "s2", "https://[::1]:8443/secure"),
                           inst("secure", "s3", "http://127.0.0.1:8080/secure")};
  auto p = plan(s, {{"vm1.test", "127.0.0.1"}});
  ASSERT_EQ(p.backends.at(0).servers.size(), 3u);
  EXPECT_TRUE(p.backends[0].servers[0].tls);
  expect_valid(p);
}

// http2 and grpc services: `proto h2` in the clear, `alpn h2` over TLS
// (docs/sherlock.md#protocols).
TEST_F(HaproxyRender, Http2AndGrpcServers) {
  std::map<std::string, ServiceView> s;
  auto h2 = [](std::string service, std::string id, std::string url, model::Protocol protocol) {
    auto i = inst(service, std::move(id), std::move(url));
    i.protocol = protocol;
    return i;
  };
  s["greeter"].instances = {h2("greeter", "g1", "http://127.0.0.1:50051", model::Protocol::grpc),
                            h2("greeter", "g2", "https://vm1.test:8443", model::Protocol::grpc)};
  s["pages"].instances = {h2("pages", "p1", "http://[::1]:8080", model::Protocol::http2)};
  auto p = plan(s, {{"vm1.test", "127.0.0.1"}});
  ASSERT_EQ(p.backends.at(0).servers.size(), 2u);
  EXPECT_TRUE(p.backends[0].servers[1].h2);
  expect_valid(p);
}

TEST_F(HaproxyRender, Ipv6ServersAndAnIpv6Proxy) {
  cfg_.proxy = {"::1", free_port()};
  std::map<std::string, ServiceView> s;
  s["v6"].instances = {inst("v6", "i1", "http://[::1]:9000"),
                       inst("v6", "i2", "http://[fd00::1:2]:9000"),
                       inst("v6", "i3", "http://vm6.test:9000")};
  expect_valid(plan(s, {{"vm6.test", "2001:db8::7"}}));
}

TEST_F(HaproxyRender, TcpListenerBesideHttp) {
  cfg_.tcp = {{"mongo", free_port()}, {"idle", free_port()}};
  std::map<std::string, ServiceView> s;
  s["mongo"].instances = {inst("mongo", "m1", "tcp://127.0.0.1:27017"),
                          inst("mongo", "m2", "tcp://[::1]:27018")};
  s["idle"].routes = {{"idle", "", {{"1", 100}}, 1}};
  s["web"].instances = {inst("web", "w1", "http://127.0.0.1:8080")};
  auto p = plan(s);
  EXPECT_EQ(p.backends.at(0).mode, PlannedBackend::Mode::tcp);
  expect_valid(p);
}

TEST_F(HaproxyRender, AllWeightsZero) {
  std::map<std::string, ServiceView> s;
  s["drained"].instances = {inst("drained", "d1", "http://127.0.0.1:9001", 0),
                            inst("drained", "d2", "http://127.0.0.1:9002", 0)};
  auto p = plan(s);
  for (const auto& server : p.backends.at(0).servers) EXPECT_EQ(server.weight, 0);
  expect_valid(p);
}

TEST_F(HaproxyRender, OperatorSettingsAndAnAwkwardRunDir) {
  cfg_.haproxy.extra_global = {"maxconn 2000", "tune.bufsize 32768"};
  cfg_.haproxy.extra_defaults = {"option dontlognull", "timeout http-request 5s"};
  cfg_.haproxy.retries = 0;
  cfg_.haproxy.health_check_interval = 250ms;
  // Spaces, quotes, '#' and '$' in run_dir must stay inside their words.
  cfg_.haproxy.run_dir = (dir_.path() / "run dir 'a' \"b\" #c $d").string();
  fs::create_directories(cfg_.haproxy.run_dir);
  paths_ = sherlock::runtime_paths(cfg_);
  std::map<std::string, ServiceView> s;
  s["api"].instances = {inst("api", "a1", "http://127.0.0.1:9001")};
  auto p = plan(s);
  const auto r = sherlock::render_haproxy_config(p, cfg_, paths_);
  const auto file = dir_.write("haproxy.cfg", r.haproxy_cfg);
  std::ofstream(paths_.path_map) << r.path_map;
  std::ofstream(paths_.host_map) << r.host_map;
  std::ofstream(paths_.pin_map) << r.pin_map;
  std::ofstream(paths_.state_file) << "1\n";
  Process check({haproxy_, "-c", "-dW", "-f", file.string()}, dir_.path());
  ASSERT_EQ(check.wait(30s), std::optional<int>(0)) << check.stderr_text() << r.haproxy_cfg;
}

// The checks above mean something only if -c does refuse a bad config.
TEST_F(HaproxyRender, CheckRefusesABadExtraLine) {
  cfg_.haproxy.extra_defaults = {"bogus_keyword 1"};
  const auto file = write(sherlock::render_haproxy_config(Plan{}, cfg_, paths_));
  Process check({haproxy_, "-c", "-f", file.string()}, dir_.path());
  ASSERT_EQ(check.wait(30s), std::optional<int>(1));
  EXPECT_NE(check.stderr_text().find("bogus_keyword"), std::string::npos);
}

// ---- a running haproxy -----------------------------------------------------------------------

// haproxy as sherlock runs it: master-worker in the foreground. Stopped with SIGTERM (a hard
// stop: the master ends its worker and exits); Process SIGKILLs it if that takes too long.
class RunningHaproxy {
 public:
  RunningHaproxy(const std::string& binary, const fs::path& dir, const fs::path& cfg)
      : process_(
            {binary, "-W", "-S", (dir / "master.sock").string() + ",mode,600", "-f", cfg.string()},
            dir) {}
  ~RunningHaproxy() {
    process_.kill(SIGTERM);
    process_.wait(10s);
  }
  Process& process() { return process_; }

 private:
  Process process_;
};

// One request with the Host header a client chose (http() always sends 127.0.0.1:port).
Response get_with_host(std::uint16_t port, const std::string& target, const std::string& host) {
  Conn c = Conn::connect(port);
  if (!c.ok() ||
      !c.send("GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"))
    return {};
  return parse_response(c.read_all(5s));
}

TEST_F(HaproxyRender, RoutesByPathAndHostWith404And503) {
  TestService root;     // svc, base path "" (the root)
  TestService emitter;  // emitter, base path /emitter
  std::map<std::string, ServiceView> s;
  s["svc"].instances = {inst("svc", "r1", root.url("/"))};
  s["emitter"].instances = {inst("emitter", "e1", emitter.url("/emitter"))};
  s["empty"].routes = {{"empty", "", {{"1", 100}}, 1}};
  const auto file = write(sherlock::render_haproxy_config(plan(s), cfg_, paths_));
  RunningHaproxy haproxy(haproxy_, dir_.path(), file);
  const auto port = cfg_.proxy.port;

  ASSERT_TRUE(poll_until(10s, [&] {
    return haproxy.process().running() && http(port, "GET", "/svc/ready").status == 200;
  })) << haproxy.process().stderr_text();

  // /<svc>[/rest] reaches the instance as <base>[/rest], the query kept.
  auto r = http(port, "GET", "/svc/x?q=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(root.last_path(), "/x?q=1");
  http(port, "GET", "/svc");
  EXPECT_EQ(root.last_path(), "/");
  http(port, "GET", "/emitter/x?q=1");
  EXPECT_EQ(emitter.last_path(), "/emitter/x?q=1");
  http(port, "GET", "/emitter");
  EXPECT_EQ(emitter.last_path(), "/emitter");
  EXPECT_EQ(http(port, "POST", "/emitter/post", "body").status, 200);
  EXPECT_EQ(emitter.last_path(), "/emitter/post");

  // Host: <svc>[:port] wins and keeps the whole path; the proxy's own name does not route.
  r = get_with_host(port, "/emitter/keep?q=1", "svc:" + std::to_string(port));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(root.last_path(), "/emitter/keep?q=1");
  r = get_with_host(port, "/svc/z", "localhost:" + std::to_string(port));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(root.last_path(), "/z");

  // Unknown: 404 naming only a sanitised segment; /svcx is not svc.
  r = http(port, "GET", "/svcx/y");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "unknown service: svcx\n");
  r = http(port, "GET", "/%3Cscript%3Ealert(1)%3C/x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "unknown service: _3Cscript_3Ealert_1__3C\n");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");

  // Known but without an instance: 503, not 404.
  r = http(port, "GET", "/empty/x");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no available instance of service empty\n");

  haproxy.process().kill(SIGTERM);
  EXPECT_TRUE(haproxy.process().wait(10s).has_value());
}

}  // namespace
}  // namespace dstack::test
