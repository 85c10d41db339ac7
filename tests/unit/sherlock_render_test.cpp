// SPDX-License-Identifier: Apache-2.0
// The HAProxy configuration sherlock renders from a plan: the lines that carry each tested
// recommendation (docs/notes/haproxy-2.6.md), the maps, determinism, and that nothing a
// directory says can add a line. Whether HAProxy accepts the text is tested against the real
// binary in tests/integration/haproxy_render_test.cpp.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "sherlock/haproxy_config.hpp"
#include "sherlock/request_log.hpp"

namespace dstack::sherlock {
namespace {

using model::Instance;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The lines of one section: from its header line to the next blank line.
std::vector<std::string> section(const std::string& text, const std::string& header) {
  auto all = lines(text);
  auto start = std::find(all.begin(), all.end(), header);
  if (start == all.end()) return {};
  auto end = std::find(start, all.end(), "");
  return {start, end};
}

Instance inst(std::string service, std::string id, std::string url, std::string version = "1") {
  Instance i;
  i.service = std::move(service);
  i.id = std::move(id);
  i.lease = "lease1";
  i.url = std::move(url);
  i.version = std::move(version);
  return i;
}

// Insight off: the request log lines are tested apart (AccessLogSendsEachRequestToTheLogSocket).
SherlockConfig config() {
  SherlockConfig cfg;
  cfg.tcp = {{"mongo", 27017}};
  cfg.insight = false;
  return cfg;
}

std::map<std::string, ServiceView> example_services() {
  std::map<std::string, ServiceView> s;
  s["emitter"].instances = {inst("emitter", "vm101:8080", "http://10.0.0.5:8080/emitter"),
                            inst("emitter", "vm102:443", "https://vm102.example/emitter", "2"),
                            inst("emitter", "v6", "http://[fd00::7]:9000/emitter")};
  s["emitter"].routes = {{"emitter", "", {{"2", 10}}, 1}};
  s["barker.internal"].instances = {inst("barker.internal", "b1", "http://10.0.0.8")};
  s["empty"].routes = {{"empty", "", {{"1", 100}}, 1}};
  s["mongo"].instances = {inst("mongo", "db1", "tcp://10.0.0.9:27017")};
  return s;
}

Plan example_plan(const SherlockConfig& cfg = config()) {
  return make_plan(example_services(), cfg, {{"vm102.example", "10.0.0.6"}});
}

RenderedConfig render(const Plan& plan, const SherlockConfig& cfg = config()) {
  return render_haproxy_config(plan, cfg, runtime_paths(cfg));
}

TEST(Render, RuntimePathsAreInRunDir) {
  SherlockConfig cfg;
  cfg.haproxy.run_dir = "/var/run/sh//";
  const auto p = runtime_paths(cfg);
  EXPECT_EQ(p.path_map, "/var/run/sh/path.map");
  EXPECT_EQ(p.host_map, "/var/run/sh/host.map");
  EXPECT_EQ(p.admin_socket, "/var/run/sh/admin.sock");
  EXPECT_EQ(p.state_file, "/var/run/sh/server-state");
  EXPECT_EQ(p.ca_file, "@system-ca");
  EXPECT_EQ(backend_name("barker.internal"), "be_barker.internal");
}

TEST(Render, GlobalAndDefaultsCarryTheTestedSettings) {
  auto cfg = config();
  cfg.haproxy.retries = 4;
  cfg.haproxy.timeouts = {1500ms, 31s, 32s, 3s, 2h};
  cfg.haproxy.extra_global = {"maxconn 4096", "tune.bufsize 32768"};
  cfg.haproxy.extra_defaults = {"option dontlognull"};
  const auto text = render(example_plan(cfg), cfg).haproxy_cfg;
  EXPECT_THAT(
      section(text, "global"),
      ElementsAre("global", "    stats socket /run/sherlock/admin.sock mode 600 level admin",
                  "    stats timeout 1h", "    server-state-file /run/sherlock/server-state",
                  "    hard-stop-after 30s", "    maxconn 4096", "    tune.bufsize 32768"));
  EXPECT_THAT(section(text, "defaults"),
              ElementsAre("defaults", "    mode http", "    timeout connect 1500ms",
                          "    timeout client 31000ms", "    timeout server 32000ms",
                          "    timeout check 3000ms", "    timeout tunnel 7200000ms",
                          "    retries 4", "    option redispatch 1",
                          "    retry-on conn-failure empty-response response-timeout",
                          "    option idle-close-on-response",
                          "    load-server-state-from-file global", "    option dontlognull"));
  // sherlock runs the master in the foreground: -W on the command line, never `daemon`.
  EXPECT_THAT(text, Not(HasSubstr("daemon")));
  EXPECT_THAT(text, Not(HasSubstr("shutdown-sessions")));
}

TEST(Render, FrontendRoutesByHostThenExactFirstSegment) {
  auto cfg = config();
  cfg.proxy = {"::1", 8000};
  EXPECT_THAT(
      section(render(example_plan(cfg), cfg).haproxy_cfg, "frontend fe_proxy"),
      ElementsAre(
          "frontend fe_proxy", "    bind [::1]:8000", "    option http-no-delay",
          "    http-request set-header X-Request-ID %[uuid] unless { req.hdr_cnt(x-request-id) eq "
          "1 "
          "} { req.hdr(x-request-id) -m reg ^[A-Za-z0-9+/=._:-]{1,200}$ }",
          "    http-request set-var(txn.be) "
          "req.hdr(host),host_only,map_str(/run/sherlock/host.map)",
          "    http-request set-var(txn.route) str(host) if { var(txn.be) -m found }",
          "    http-request set-var(txn.be) path,field(2,/),map_str(/run/sherlock/path.map) "
          "unless { var(txn.be) -m found }",
          "    http-request set-var(txn.route) str(path) if { var(txn.be) -m found } "
          "!{ var(txn.route) -m found }",
          "    http-request return status 404 content-type text/plain lf-string \"unknown "
          "service: %[path,field(2,/),regsub([^A-Za-z0-9._-],_,g),bytes(0,64)]\\n\" hdr "
          "X-Content-Type-Options nosniff unless { var(txn.be) -m found }",
          "    use_backend %[var(txn.be)]"));
}

TEST(Render, HttpBackendRewritesOnlyWhatWasRoutedByPath) {
  const auto text = render(example_plan()).haproxy_cfg;
  EXPECT_THAT(
      section(text, "backend be_emitter"),
      ElementsAre(
          "backend be_emitter", "    balance roundrobin",
          "    http-request disable-l7-retry unless METH_GET || METH_OPTIONS",
          "    http-request replace-path ^/emitter(/.*)?$ /emitter\\1 if { var(txn.route) -m str "
          "path }",
          "    http-error status 503 content-type text/plain string \"no available instance of "
          "service emitter\\n\"",
          "    use-server %[req.hdr(X-Dstack-Version),concat(/,txn.be),map_str(/run/sherlock/"
          "pin.map)] if { req.hdr(X-Dstack-Version) -m found }",
          "    server v6 [fd00::7]:9000 weight 252 check inter 2000ms fall 2 rise 2 observe "
          "layer4 error-limit 1 on-error mark-down",
          "    server vm101:8080 10.0.0.5:8080 weight 252 check inter 2000ms fall 2 rise 2 "
          "observe layer4 error-limit 1 on-error mark-down",
          "    server vm102:443 10.0.0.6:443 weight 56 ssl verify required ca-file @system-ca sni "
          "str(vm102.example) verifyhost vm102.example check check-ssl check-sni vm102.example "
          "inter 2000ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down"));
  // Root base path: /barker.internal, /barker.internal/ and /barker.internal/x become /, /, /x;
  // the '.' of the name is literal in the regex.
  EXPECT_THAT(section(text, "backend be_barker.internal"),
              Contains("    http-request replace-path ^/barker\\.internal/?(.*)$ /\\1 if "
                       "{ var(txn.route) -m str path }"));
  // No instance: the backend exists, so its requests get this 503 and not the 404.
  EXPECT_THAT(section(text, "backend be_empty"),
              ElementsAre("backend be_empty", "    balance roundrobin",
                          "    http-request disable-l7-retry unless METH_GET || METH_OPTIONS",
                          "    http-request replace-path ^/empty/?(.*)$ /\\1 if { var(txn.route) "
                          "-m str path }",
                          "    http-error status 503 content-type text/plain string \"no "
                          "available instance of service empty\\n\"",
                          "    use-server %[req.hdr(X-Dstack-Version),concat(/,txn.be),map_str(/"
                          "run/sherlock/pin.map)] if { req.hdr(X-Dstack-Version) -m found }"));
}

TEST(Render, TcpServiceGetsItsOwnListener) {
  EXPECT_THAT(section(render(example_plan()).haproxy_cfg, "listen be_mongo"),
              ElementsAre("listen be_mongo", "    mode tcp", "    bind 127.0.0.1:27017",
                          "    no option idle-close-on-response", "    balance roundrobin",
                          "    timeout client 3600000ms", "    timeout server 3600000ms",
                          "    server db1 10.0.0.9:27017 weight 256 check inter 2000ms fall 2 "
                          "rise 2 observe layer4 error-limit 1 on-error mark-down"));
}

TEST(Render, ServerArgumentsMatchTheConfigLine) {
  auto cfg = config();
  cfg.haproxy.health_check_interval = 750ms;
  auto paths = runtime_paths(cfg);
  paths.ca_file = "/etc/ssl/my ca.pem";
  const PlannedServer tls{"i1", "2001:db8::5", 8443, true, "vm1.test", 300};
  EXPECT_EQ(server_arguments(tls, {}, cfg, paths),
            "[2001:db8::5]:8443 weight 256 ssl verify required ca-file /etc/ssl/my\\ ca.pem sni "
            "str(vm1.test) verifyhost vm1.test check check-ssl check-sni vm1.test inter 750ms "
            "fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down");
  Plan plan;
  plan.backends.push_back({"svc", PlannedBackend::Mode::http, "", 0, {tls}});
  EXPECT_THAT(lines(render_haproxy_config(plan, cfg, paths).haproxy_cfg),
              Contains("    server i1 " + server_arguments(tls, {}, cfg, paths)));
}

// http2 and grpc services are spoken to over HTTP/2 (docs/sherlock.md#protocols): h2c in the
// clear, h2 by ALPN over TLS; the arguments are those `add server` gets too.
TEST(Render, Http2ServersSpeakH2) {
  auto cfg = config();
  auto paths = runtime_paths(cfg);
  PlannedServer clear{"g1", "10.0.0.1", 50051, false, "10.0.0.1", 100, true};
  EXPECT_EQ(server_arguments(clear, {}, cfg, paths),
            "10.0.0.1:50051 weight 100 proto h2 check inter 2000ms fall 2 rise 2 observe layer4 "
            "error-limit 1 on-error mark-down");
  PlannedServer tls{"g2", "10.0.0.2", 443, true, "g.test", 100, true};
  EXPECT_THAT(server_arguments(tls, {}, cfg, paths),
              HasSubstr(" ssl verify required ca-file @system-ca sni str(g.test) verifyhost "
                        "g.test alpn h2 check check-ssl"));
  clear.h2 = false;
  EXPECT_THAT(server_arguments(clear, {}, cfg, paths), Not(HasSubstr("h2")));
}

// docs/sherlock.md#traffic-policies: each field's HAProxy line, in the backend and on each
// server line (and so in `add server`).
TEST(Render, TrafficPolicyBecomesBackendAndServerSettings) {
  auto services = example_services();
  model::TrafficPolicy p;
  p.service = "barker.internal";
  p.retries = 3;
  p.retry_on = {"conn-failure", "503"};
  p.timeout = 2s;
  p.max_conn = 50;
  p.queue_timeout = 0ms;
  p.eject_5xx = 5;
  p.balance = model::Balance{model::Balance::Kind::header, "X-User"};
  services["barker.internal"].policy = p;
  const auto cfg = config();
  const auto plan = make_plan(services, cfg, {});
  const auto text = render(plan, cfg).haproxy_cfg;
  EXPECT_THAT(section(text, "backend be_barker.internal"),
              ::testing::IsSupersetOf({"    balance hdr(X-User)", "    hash-type consistent",
                                       "    retries 3", "    retry-on conn-failure 503",
                                       "    timeout server 2000ms", "    timeout queue 1ms"}));
  const auto& server = plan.backends[0].servers[0];
  const auto args = server_arguments(server, plan.backends[0].policy, cfg, runtime_paths(cfg));
  EXPECT_THAT(args, HasSubstr(" observe layer7 error-limit 5 on-error mark-down"));
  EXPECT_THAT(args, Not(HasSubstr("layer4")));
  EXPECT_THAT(args, ::testing::EndsWith(" maxconn 50"));
  EXPECT_THAT(section(text, "backend be_barker.internal"), Contains("    server b1 " + args));

  p.balance = model::Balance{model::Balance::Kind::cookie, "session"};
  services["barker.internal"].policy = p;
  EXPECT_THAT(
      section(render(make_plan(services, cfg, {}), cfg).haproxy_cfg, "backend be_barker.internal"),
      Contains("    balance hash req.cook(session)"));
  p.balance = model::Balance{model::Balance::Kind::leastconn, ""};
  services["barker.internal"].policy = p;
  EXPECT_THAT(
      section(render(make_plan(services, cfg, {}), cfg).haproxy_cfg, "backend be_barker.internal"),
      Contains("    balance leastconn"));
  // Without a policy: round robin and sherlock.yaml's settings, nothing more.
  EXPECT_THAT(section(text, "backend be_emitter"),
              AllOf(Contains("    balance roundrobin"), Not(Contains(HasSubstr("retries"))),
                    Not(Contains(HasSubstr("timeout")))));
}

// docs/sherlock.md#access-log, docs/insight.md: with access_log or insight (the default),
// HAProxy sends one line per request to run_dir's log socket; without both, nothing is logged.
TEST(Render, AccessLogSendsEachRequestToTheLogSocket) {
  auto cfg = config();
  const auto off = render(example_plan(cfg), cfg).haproxy_cfg;
  EXPECT_THAT(off, AllOf(Not(HasSubstr("    log ")), Not(HasSubstr("log-format"))));
  auto insight = config();
  insight.insight = true;
  const auto counting = render(example_plan(insight), insight).haproxy_cfg;
  EXPECT_THAT(counting, HasSubstr("    log ring@requests "));
  // Insight alone: the short format, and no request id kept for a log that is not written.
  EXPECT_THAT(section(counting, "frontend fe_proxy"),
              Contains("    log-format \"" + std::string(kCountFormat) + "\""));
  EXPECT_THAT(counting, Not(HasSubstr("set-var(txn.rid)")));
  cfg.access_log = "/var/log/sherlock/access.log";
  const auto on = render(example_plan(cfg), cfg).haproxy_cfg;
  EXPECT_THAT(section(on, "global"),
              Contains("    log ring@requests len 4096 format raw local0 info"));
  EXPECT_THAT(section(on, "ring requests"),
              Contains("    server sherlock unix@" + runtime_paths(cfg).log_socket));
  EXPECT_EQ(runtime_paths(cfg).log_socket, cfg.haproxy.run_dir + "/log.sock");
  EXPECT_THAT(section(on, "frontend fe_proxy"),
              ::testing::IsSupersetOf(std::vector<std::string>{
                  "    log global", "    log-format \"" + std::string(kLogFormat) + "\"",
                  "    http-request set-var(txn.rid) req.hdr(x-request-id)"}));
}

// The socket sherlock holds is handed to HAProxy (docs/sherlock.md#the-proxys-listening-socket).
TEST(Render, FrontendBindsTheSocketSherlockHandsOver) {
  auto cfg = config();
  auto paths = runtime_paths(cfg);
  EXPECT_EQ(paths.proxy_bind, cfg.proxy.to_string());
  paths.proxy_bind = "fd@7";
  EXPECT_THAT(section(render_haproxy_config(example_plan(cfg), cfg, paths).haproxy_cfg,
                      "frontend fe_proxy"),
              Contains("    bind fd@7"));
}

TEST(Render, MapsListHttpServicesAndHostMapSkipsTheProxysOwnNames) {
  auto cfg = config();
  cfg.proxy = {"Gateway.Local", 8000};
  auto services = example_services();
  for (std::string svc : {"localhost", "127.0.0.1", "gateway.local", "emitter.service.dstack"}) {
    services[svc].instances = {inst(svc, "a", "http://10.0.0.1")};
  }
  const auto r = render(make_plan(services, cfg, {}), cfg);
  EXPECT_EQ(r.path_map,
            "127.0.0.1 be_127.0.0.1\nbarker.internal be_barker.internal\nemitter be_emitter\n"
            "emitter.service.dstack be_emitter.service.dstack\n"
            "empty be_empty\ngateway.local be_gateway.local\nlocalhost be_localhost\n");
  // Every http service is also there as <service>.service.dstack, the proxy's own names too;
  // a service named like emitter's alias does not take it.
  EXPECT_EQ(r.host_map,
            "127.0.0.1.service.dstack be_127.0.0.1\nbarker.internal be_barker.internal\n"
            "barker.internal.service.dstack be_barker.internal\nemitter be_emitter\n"
            "emitter.service.dstack be_emitter\n"
            "emitter.service.dstack.service.dstack be_emitter.service.dstack\n"
            "empty be_empty\nempty.service.dstack be_empty\n"
            "gateway.local.service.dstack be_gateway.local\n"
            "localhost.service.dstack be_localhost\n");
}

TEST(Render, SameInputSameBytes) {
  const auto a = render(example_plan());
  const auto b = render(example_plan());
  EXPECT_EQ(a.haproxy_cfg, b.haproxy_cfg);
  EXPECT_EQ(a.path_map, b.path_map);
  EXPECT_EQ(a.host_map, b.host_map);
  // The directory's order does not matter either.
  auto services = example_services();
  for (auto& [name, view] : services) std::reverse(view.instances.begin(), view.instances.end());
  EXPECT_EQ(render(make_plan(services, config(), {{"vm102.example", "10.0.0.6"}})).haproxy_cfg,
            a.haproxy_cfg);
}

TEST(Render, OperatorPathsAndPercentsAreEscapedForHaproxy) {
  auto cfg = config();
  cfg.haproxy.run_dir = "/run/my dir#1";
  Plan plan;
  plan.backends.push_back({"svc", PlannedBackend::Mode::http, "/a%20b", 0, {}});
  const auto text = render(plan, cfg).haproxy_cfg;
  EXPECT_THAT(lines(text), Contains("    stats socket /run/my\\ dir\\#1/admin.sock mode 600 level "
                                    "admin"));
  EXPECT_THAT(text, HasSubstr("map_str(\\\"/run/my\\ dir\\#1/host.map\\\")"));
  // replace-path's replacement is a log-format: '%' must be doubled.
  EXPECT_THAT(text, HasSubstr("replace-path ^/svc(/.*)?$ /a%%20b\\1 if"));
}

TEST(Render, APlanMakePlanCouldNotProduceIsNotTrusted) {
  Plan plan;
  const std::string evil = "\n    server evil 6.6.6.6:80";
  plan.backends.push_back({"bad" + evil, PlannedBackend::Mode::http, "", 0, {}});
  plan.backends.push_back({"svc", PlannedBackend::Mode::http, "/p" + evil, 0, {}});
  plan.backends.push_back({"ok",
                           PlannedBackend::Mode::http,
                           "",
                           0,
                           {{"a" + evil, "10.0.0.1", 80, false, "h", 1},
                            {"b", "10.0.0.1" + evil, 80, false, "h", 1},
                            {"c", "10.0.0.1", 80, true, "h" + evil, 1},
                            {"d", "10.0.0.1", 80, false, "h", 1}}});
  const auto r = render(plan);
  EXPECT_THAT(r.haproxy_cfg, Not(HasSubstr("evil")));
  EXPECT_EQ(r.path_map, "ok be_ok\n");
  EXPECT_THAT(section(r.haproxy_cfg, "backend be_ok"), Contains(HasSubstr("    server d ")));
  EXPECT_EQ(server_arguments(plan.backends[2].servers[2], {}, config(), runtime_paths(config())),
            "");
}

// ---- injection -------------------------------------------------------------------------------

// Random bytes, or a valid value with a payload spliced in, in every string field that reaches
// make_plan (and the host lookups). However the values land, the text has exactly the lines of
// the same plan with benign values, and never the payload.
class Injector {
 public:
  explicit Injector(unsigned seed) : rng_(seed) {}

  void field(std::string& value) {
    // Rare enough per field that most instances keep every other field valid and get rendered.
    switch (pick(16)) {
      case 0:
        value = random_bytes();
        break;
      case 1:
        value.insert(pick(value.size() + 1), payload());
        break;
      default:  // left valid, so the plan keeps most instances and renders them
        break;
    }
  }

  std::map<std::string, ServiceView> services() {
    std::map<std::string, ServiceView> out;
    for (std::string svc : {"alpha", "beta.x", "mongo"}) {
      std::string key = svc;
      field(key);
      auto& view = out[key];
      for (int n = 0; n < 4; ++n) {
        Instance i = inst(svc, "i" + std::to_string(n), url(svc, n), n % 2 ? "2" : "1");
        i.tags = {"t1", "t2"};
        i.meta = {{"k", "v"}, {"haproxy", "server x 1.2.3.4:80"}};
        for (auto* f : {&i.service, &i.id, &i.lease, &i.url, &i.version, &i.tags[0], &i.tags[1]})
          field(*f);
        std::map<std::string, std::string> meta;
        for (const auto& [key, value] : i.meta) {
          std::string k = key, v = value;
          field(k);
          field(v);
          meta[k] = v;
        }
        i.meta = meta;
        view.instances.push_back(i);
      }
      model::Route r{svc, "edge", {{"2", 30}}, 1};
      for (auto* f : {&r.service, &r.consumer, &r.targets[0].version}) field(*f);
      view.routes.push_back(r);
      model::TrafficPolicy p;
      p.service = svc;
      p.retries = static_cast<int>(pick(12));
      p.retry_on = {"conn-failure", "503"};
      p.max_conn = static_cast<int>(pick(3)) * 50 + 1;
      p.eject_5xx = 3;
      p.balance = model::Balance{
          pick(2) ? model::Balance::Kind::header : model::Balance::Kind::cookie, "X-User"};
      for (auto* f : {&p.service, &p.retry_on[0], &p.retry_on[1], &p.balance->name}) field(*f);
      view.policy = p;
    }
    return out;
  }

  std::map<std::string, std::string> addresses() {
    std::map<std::string, std::string> out = {{"vm1.test", "10.1.1.1"}, {"vm2", "fd00::1"}};
    for (auto& [k, v] : out) field(v);
    return out;
  }

  static bool has_payload(const std::string& text) {
    return text.find("evil") != std::string::npos;
  }

 private:
  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  std::string random_bytes() {
    std::string out(pick(40), '\0');
    for (char& c : out) c = static_cast<char>(pick(256));
    return out;
  }

  std::string payload() {
    static const std::vector<std::string> payloads = {"\n    server evil 6.6.6.6:80",
                                                      "\r\n  server evil 6.6.6.6:80 backup",
                                                      " evil\" # '",
                                                      "\nbackend evil\n",
                                                      "%[evil]\\n$HOME",
                                                      "  server evil 6.6.6.6:80"};
    return payloads[pick(payloads.size())];
  }

  static std::string url(const std::string& svc, int n) {
    if (svc == "mongo") return "tcp://10.0.0." + std::to_string(n + 1) + ":27017";
    const std::vector<std::string> hosts = {"10.0.0.1", "vm1.test", "[fd00::9]", "vm2"};
    return (n == 1 ? "https://" : "http://") + hosts[n] + (svc == "alpha" ? "/a" : "");
  }

  std::mt19937 rng_;
};

// The same plan with every value replaced by a benign one of the same shape.
Plan benign(Plan plan) {
  int n = 0;
  for (auto& be : plan.backends) {
    be.service = "svc" + std::to_string(n++);
    if (!be.base_path.empty()) be.base_path = "/b";
    for (auto& s : be.servers.edit()) {
      s.name = "s" + std::to_string(n++);
      s.address = "10.0.0.1";
      s.host = "h.test";
    }
  }
  return plan;
}

TEST(Render, NoValueFromTheDirectoryAddsALineOrReachesTheText) {
  const auto cfg = config();
  int servers = 0, policies = 0;
  for (unsigned seed = 1; seed <= 2000; ++seed) {
    Injector inj(seed);
    const auto services = inj.services();
    const auto plan = make_plan(services, cfg, inj.addresses());
    const auto r = render(plan, cfg);
    const auto safe = render(benign(plan), cfg);
    ASSERT_EQ(lines(r.haproxy_cfg).size(), lines(safe.haproxy_cfg).size()) << "seed " << seed;
    ASSERT_EQ(lines(r.path_map).size(), lines(safe.path_map).size()) << "seed " << seed;
    ASSERT_FALSE(Injector::has_payload(r.haproxy_cfg + r.path_map + r.host_map))
        << "seed " << seed << "\n"
        << r.haproxy_cfg;
    for (const auto& p : plan.problems) ASSERT_EQ(p.find('\n'), std::string::npos) << p;
    for (const auto& be : plan.backends) {
      servers += static_cast<int>(be.servers.size());
      policies += be.policy.balance.has_value();
    }
  }
  // The property says something only if many values got through.
  EXPECT_GT(servers, 2000);
  EXPECT_GT(policies, 1000);
}

}  // namespace
}  // namespace dstack::sherlock
