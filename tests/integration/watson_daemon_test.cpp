// SPDX-License-Identifier: Apache-2.0
// watson, the binary, against the real directory and test services that misbehave on demand:
// rise and fall, exec health, hostile targets, directory restarts, two directories, the SIGTERM
// drain and quick mode. Every wait is a poll with a deadline; intervals are 150-300 ms and lease
// TTLs 2 s, so each test takes a second or two.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "watson_test.hpp"

namespace dstack::test {
namespace {

using Mode = TestService::Mode;

class WatsonDaemon : public WatsonTest {};

// ---- health thresholds ------------------------------------------------------------------

// What watson may hold while hostile targets flood it: a normal build stays near 10 MB; under
// AddressSanitizer the shadow memory and the quarantine of freed blocks add well over 100 MB.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssBoundKiB = 512 * 1024;
#else
constexpr long kRssBoundKiB = 64 * 1024;
#endif

TEST_F(WatsonDaemon, RegistersOnlyAfterRisePasses) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml",
                                 http_service("emitter", svc, {.rise = 3, .interval = "200ms"})}}});
  bool saw_rising = false;
  ASSERT_TRUE(poll_until(
      10s,
      [&] {
        auto st = w.service("emitter");  // read before the directory: see below
        const bool present = !instance(dir_, "emitter", id_of(svc)).is_null();
        // Registration needs three passes, hence three requests, whatever the timing.
        EXPECT_TRUE(!present || svc.requests() >= 3) << svc.requests();
        const auto n = dig(st, {"check", "checks"});
        const int checks = n.is_number() ? n.get<int>() : 0;
        if (!present && checks >= 1 && checks < 3) {
          // One or two passes seen, and the directory read after that still has nothing.
          saw_rising = true;
          EXPECT_EQ(dig(st, {"routable"}), false) << st.dump();
          EXPECT_NE(dig(st, {"registration", url_of(dir_)}), "registered") << st.dump();
        }
        return present;
      },
      20ms));
  EXPECT_TRUE(saw_rising) << "never saw the instance unregistered after its first pass";

  auto in = instance(dir_, "emitter", id_of(svc));
  EXPECT_EQ(in["health"], "passing");
  EXPECT_EQ(in["url"], svc.url("/emitter"));
  EXPECT_EQ(in["weight"], 100);
  EXPECT_EQ(in["version"], "1");
  auto st = w.service("emitter");
  EXPECT_EQ(st["health"], "passing");
  EXPECT_EQ(st["routable"], true);
  EXPECT_EQ(st["check"]["kind"], "http");
  EXPECT_EQ(st["check"]["status"], "passing");
  EXPECT_EQ(st["check"]["output"], "HTTP 200\nok");
  EXPECT_EQ(st["registration"][url_of(dir_)], "registered");
  EXPECT_EQ(st["file"], (w.services_dir() / "emitter.yaml").string());
  EXPECT_EQ(svc.last_path(), "/emitter/health");
}

TEST_F(WatsonDaemon, DeregistersAfterFallFailuresAndReturns) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc, {.fall = 3})}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  const auto before = svc.requests();  // read first: every failure comes after it
  svc.set_mode(Mode::fail);
  ASSERT_TRUE(gone("emitter", id_of(svc)));
  EXPECT_GE(svc.requests() - before, 3u) << "deregistered before three failures";
  auto st = w.service("emitter");
  EXPECT_EQ(st["health"], "critical");
  EXPECT_EQ(st["routable"], false);
  EXPECT_EQ(st["check"]["status"], "critical");
  EXPECT_EQ(st["check"]["output"], "HTTP 503, expected 2xx\ndown");
  EXPECT_EQ(st["registration"][url_of(dir_)], "absent");
  const std::string labels = "{service=\"emitter\",id=\"" + id_of(svc) + "\"";
  EXPECT_EQ(w.metric("dstack_watson_service_routable" + labels + "}"), 0);
  EXPECT_GE(w.metric("dstack_watson_checks_total" + labels + ",status=\"critical\"}"), 3);
  EXPECT_EQ(w.metric("dstack_watson_directory_connected{directory=\"" + url_of(dir_) + "\"}"), 1);

  svc.set_mode(Mode::ok);
  EXPECT_TRUE(registered("emitter", id_of(svc)));
  EXPECT_EQ(w.metric("dstack_watson_service_routable" + labels + "}"), 1);
}

TEST_F(WatsonDaemon, ServiceThatStopsListeningIsDeregisteredAndReturns) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  svc.set_mode(Mode::stopped);
  ASSERT_TRUE(gone("emitter", id_of(svc)));
  EXPECT_EQ(w.output("emitter"), "connection refused");
  svc.set_mode(Mode::ok);  // the same port again
  EXPECT_TRUE(registered("emitter", id_of(svc)));
}

TEST_F(WatsonDaemon, ExecWarningIsRegisteredAsWarningAndExitTwoIsNot) {
  auto& w = start({.services = {{"warn.yaml", exec_service("warn", 9, "exit 1")},
                                {"crit.yaml", exec_service("crit", 10, "exit 2")}}});
  // A forked shell can miss its timeout on a loaded machine (a critical "timed out" verdict),
  // so each assertion is on a status read in one piece once the script's own verdict is in.
  json warn;
  ASSERT_TRUE(poll_until(10s, [&] {
    warn = w.service("warn");
    return warn["check"]["output"] == "exit 1" &&
           instance(dir_, "warn", "127.0.0.1:9")["health"] == "warning";
  })) << warn.dump(2);
  EXPECT_EQ(warn["health"], "warning");
  EXPECT_EQ(warn["routable"], true);
  EXPECT_EQ(warn["check"]["kind"], "exec");

  // Three critical verdicts, the last the script's own; the directory (read after) still has no
  // such instance.
  json crit;
  ASSERT_TRUE(poll_until(10s, [&] {
    crit = w.service("crit");
    const auto checks = dig(crit, {"check", "checks"});
    return checks.is_number() && checks.get<int>() >= 3 && crit["check"]["output"] == "exit 2";
  })) << crit.dump(2);
  EXPECT_TRUE(instance(dir_, "crit", "127.0.0.1:10").is_null());
  EXPECT_EQ(crit["health"], "critical");
  EXPECT_EQ(crit["registration"][url_of(dir_)], "absent");
}

// ---- hostile targets --------------------------------------------------------------------

TEST_F(WatsonDaemon, HostileTargetsFailTheirChecksAndDisturbNothingElse) {
  TestService steady, hang(Mode::hang), reset(Mode::reset), closes(Mode::close), slow(Mode::slow),
      big(Mode::big);
  slow.set_delay(5s);
  const Tuning t{.interval = "300ms", .timeout = "300ms"};
  const std::map<std::string, TestService*> bad{
      {"hang", &hang}, {"reset", &reset}, {"close", &closes}, {"slow", &slow}, {"big", &big}};
  WatsonOptions options{.services = {{"steady.yaml", http_service("steady", steady, t)}}};
  for (auto& [name, s] : bad) options.services[name + ".yaml"] = http_service(name, *s, t);
  auto& w = start(options);
  ASSERT_TRUE(registered("steady", id_of(steady)));

  LineStream events(dir_.port(), "/v1/watch");
  ASSERT_EQ(events.head().status, 200);
  const auto steady_before = steady.requests();
  long max_rss = 0;
  const bool all_failed_thrice = poll_until(
      20s,
      [&] {
        max_rss = std::max(max_rss, w.rss_kib());
        for (auto& [name, s] : bad) {
          if (w.checks(name) < 3) return false;
        }
        // Meanwhile the healthy service keeps being checked (its own phase, same interval).
        return steady.requests() - steady_before >= 3;
      },
      100ms);
  ASSERT_TRUE(all_failed_thrice) << w.status().dump(2);

  for (auto& [name, s] : bad) {
    SCOPED_TRACE(name);
    auto st = w.service(name);
    EXPECT_EQ(st["check"]["status"], "critical");
    EXPECT_EQ(st["health"], "critical");
    EXPECT_TRUE(instance(dir_, name, id_of(*s)).is_null());
  }
  EXPECT_EQ(w.output("hang"), "timed out after 300ms");
  EXPECT_EQ(w.output("slow"), "timed out after 300ms");
  EXPECT_EQ(w.output("big"), "body over 64 KiB");
  EXPECT_EQ(w.output("reset"), id_of(reset) + ": GET /reset/health: Connection reset by peer");
  EXPECT_EQ(w.output("close"),
            id_of(closes) + ": GET /close/health: connection closed without an answer");

  // watson gave up on the flood rather than reading 100 MiB per check.
  EXPECT_LT(big.big_bytes_sent(), big.requests() * TestService::kBigBody / 2);
  EXPECT_GT(max_rss, 0);
  EXPECT_LT(max_rss, kRssBoundKiB) << "VmRSS in KiB";

  // The healthy service kept being checked (the poll above waited for 3), and its
  // registration never moved.
  EXPECT_EQ(instance(dir_, "steady", id_of(steady))["health"], "passing");
  auto e = next_event(events, "steady", 300ms);
  EXPECT_TRUE(e.is_null()) << "steady changed: " << e.dump();
  EXPECT_EQ(w.service("steady")["registration"][url_of(dir_)], "registered");
}

// ---- directories ------------------------------------------------------------------------

TEST_F(WatsonDaemon, ReRegistersWithinALeaseTtlAfterTheDirectoryRestarts) {
  TestService svc;
  auto& w = start({.lease_ttl = 2, .services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  const auto old_lease = instance(dir_, "emitter", id_of(svc))["lease"];

  dir_.kill9();
  EXPECT_TRUE(poll_until(5s, [&] {
    return w.directory(url_of(dir_)).value("connected", true) == false;
  })) << "watson does not report the lost directory";
  EXPECT_NE(w.directory(url_of(dir_)).value("last_error", ""), "");

  dir_.start();  // same port; leases and instances are gone
  // Keepalive every TTL/3 gets a 404, then a new lease and a re-registration: one TTL + margin.
  ASSERT_TRUE(registered("emitter", id_of(svc), 2s + 2s)) << w.stderr_text();
  EXPECT_NE(instance(dir_, "emitter", id_of(svc))["lease"], old_lease);
  EXPECT_TRUE(poll_until(3s, [&] {
    auto d = w.directory(url_of(dir_));
    return d.value("connected", false) && d.value("registered", 0) == 1;
  }));
}

TEST_F(WatsonDaemon, OneDirectoryDownDoesNotStopTheOtherBeingUpdated) {
  Directory other;
  other.start();
  TestService svc;
  auto& w = start({.directories = {url_of(dir_), url_of(other)},
                   .services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  ASSERT_TRUE(poll_until(5s, [&] { return !instance(other, "emitter", id_of(svc)).is_null(); }));

  other.kill9();
  w.write_service("emitter.yaml", http_service("emitter", svc, {.extra = "weight: 7\n"}));
  EXPECT_TRUE(poll_until(5s, [&] { return instance(dir_, "emitter", id_of(svc))["weight"] == 7; }));
  EXPECT_TRUE(poll_until(5s, [&] {
    return w.directory(url_of(other)).value("connected", true) == false;
  })) << w.status().dump(2);
  EXPECT_EQ(w.directory(url_of(dir_)).value("connected", false), true);

  other.start();  // it comes back empty, and gets the current definition
  EXPECT_TRUE(
      poll_until(4s, [&] { return instance(other, "emitter", id_of(svc))["weight"] == 7; }));
}

// ---- shutdown ---------------------------------------------------------------------------

TEST_F(WatsonDaemon, SigtermDrainsDeregistersRevokesAndExits) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc, {.drain = "1s"})}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  const auto lease = w.directory(url_of(dir_)).value("lease", "");
  ASSERT_FALSE(lease.empty());
  LineStream events(dir_.port(), "/v1/watch");
  ASSERT_EQ(events.head().status, 200);

  w.sigterm();
  auto put = next_event(events, "emitter");
  const auto maintenance_at = Clock::now();
  EXPECT_EQ(put["type"], "instance_put");
  EXPECT_EQ(dig(put, {"instance", "health"}), "maintenance") << put.dump();
  auto del = next_event(events, "emitter");
  EXPECT_EQ(del["type"], "instance_delete") << del.dump();
  // It waited out the drain (1 s) before deleting; the slack covers delivery on loopback.
  EXPECT_GE(Clock::now() - maintenance_at, 700ms);
  EXPECT_EQ(w.process().wait(1s + 3s), 0) << w.stderr_text();
  // Revoked, not left to expire: a keepalive finds no lease.
  EXPECT_EQ(dir_.put("/v1/leases/" + lease).status, 404);
  EXPECT_GE(dir_.metric("dstack_directory_leases_revoked_total"), 1);
}

TEST_F(WatsonDaemon, SecondSigtermDuringADrainExitsAtOnce) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc, {.drain = "60s"})}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  LineStream events(dir_.port(), "/v1/watch");
  ASSERT_EQ(events.head().status, 200);
  w.sigterm();
  ASSERT_EQ(dig(next_event(events, "emitter"), {"instance", "health"}), "maintenance");
  w.sigterm();
  EXPECT_EQ(w.process().wait(3s), 0) << w.stderr_text();
}

// ---- quick mode -------------------------------------------------------------------------

TEST_F(WatsonDaemon, QuickModeChecksLivenessCheckAndRegisters) {
  TestService svc;
  auto& w =
      start({.quick_args = {"-d", url_of(dir_), "//services/emitter", svc.url("/emitter"), "1"}});
  ASSERT_TRUE(registered("emitter", id_of(svc), 10s)) << w.stderr_text();
  EXPECT_EQ(instance(dir_, "emitter", id_of(svc))["url"], svc.url("/emitter"));
  EXPECT_THAT(svc.paths(), ::testing::Contains("/emitter/liveness_check"));
  EXPECT_EQ(w.service("emitter")["check"]["kind"], "http");
}

// docs/security.md#client-certificates: watson presents tls_cert and tls_key to a directory
// whose tls.client_ca signed them, and registers; the same directory refuses a client without.
TEST(WatsonClientCertificate, RegistersWithADirectoryThatRequiresOne) {
  TempDir certs;
  const TestCa ca(certs.path(), "ca");
  const auto server = ca.issue("directory"), client = ca.issue("vm101");
  Directory d({.config = "tls:\n  cert: " + server.cert.string() + "\n  key: " +
                         server.key.string() + "\n  client_ca: " + ca.cert().string() + "\n",
               .tls = true});
  d.start();
  const std::string url = "https://127.0.0.1:" + std::to_string(d.port());
  TestService svc;
  Watson w({.directories = {url},
            .extra_config = "directory_ca_file: " + ca.cert().string() + "\ntls_cert: " +
                            client.cert.string() + "\ntls_key: " + client.key.string() + "\n",
            .services = {{"emitter.yaml", http_service("emitter", svc)}}});
  w.start();
  const std::string curl = "curl -sS --max-time 10 --cacert " + ca.cert().string() + " --cert " +
                           client.cert.string() + " --key " + client.key.string() + " " + url +
                           "/v1/services/emitter";
  std::string answer;
  EXPECT_TRUE(poll_until(10s, [&] {
    answer = shell(curl).first;
    return answer.find(svc.url("/emitter")) != std::string::npos;
  })) << answer;

  // Without the certificate watson's config still loads, but the directory refuses it.
  Watson without(
      {.directories = {url}, .extra_config = "directory_ca_file: " + ca.cert().string() + "\n"});
  without.start();
  EXPECT_TRUE(poll_until(10s, [&] {
    const auto dir = without.status()["directories"][0];
    return dir["connected"] == false && !dir["last_error"].get<std::string>().empty();
  })) << without.status().dump();
  EXPECT_EQ(w.status()["directories"][0]["connected"], true) << w.status().dump();
}

}  // namespace
}  // namespace dstack::test
