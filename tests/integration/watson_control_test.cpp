// SPDX-License-Identifier: Apache-2.0
// What an operator does to a running watson, against the real directory: service files added,
// changed, broken and removed (inotify and SIGHUP), maintenance through `watson maint` and the
// local API, and the command line's checks and exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "watson_test.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;

class WatsonControl : public WatsonTest {};

// ---- reload -----------------------------------------------------------------------------

TEST_F(WatsonControl, NewServiceFileIsPickedUpWithoutASignal) {
  TestService svc;
  auto& w = start({});
  EXPECT_EQ(dig(w.status(), {"services"}), json::array());
  w.write_service("emitter.yaml", http_service("emitter", svc));
  EXPECT_TRUE(registered("emitter", id_of(svc)));
}

TEST_F(WatsonControl, ChangedFileUpdatesTheDirectoryAndRemovedFileDeregisters) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  w.overwrite_service("emitter.yaml", http_service("emitter", svc, {.extra = "weight: 7\n"}));
  EXPECT_TRUE(poll_until(5s, [&] { return instance(dir_, "emitter", id_of(svc))["weight"] == 7; }));
  w.remove_service("emitter.yaml");
  EXPECT_TRUE(gone("emitter", id_of(svc)));
  EXPECT_TRUE(poll_until(2s, [&] { return w.service("emitter").is_null(); }));
}

TEST_F(WatsonControl, BrokenFileOnSighupIsReportedAndThePreviousDefinitionStays) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  LineStream events(dir_.port(), "/v1/watch");
  ASSERT_EQ(events.head().status, 200);

  // Written so that inotify does not tell: only the SIGHUP makes watson read it.
  const auto path = w.services_dir() / "emitter.yaml";
  w.overwrite_service_unwatched("emitter.yaml",
                                http_service("emitter", svc, {.extra = "weight: heavy\n"}));
  w.sighup();
  const std::string problem = path.string() + ":3:9: weight: expected an integer, got \"heavy\"";
  ASSERT_TRUE(poll_until(5s, [&] { return w.has_problem(problem); })) << w.status().dump(2);
  EXPECT_EQ(instance(dir_, "emitter", id_of(svc))["weight"], 100);
  EXPECT_EQ(w.service("emitter")["file"], path.string());
  auto e = next_event(events, "emitter", 300ms);
  EXPECT_TRUE(e.is_null()) << "the instance moved: " << e.dump();

  // Fixed: the problem goes, the new definition applies.
  w.write_service("emitter.yaml", http_service("emitter", svc, {.extra = "weight: 5\n"}));
  EXPECT_TRUE(poll_until(5s, [&] { return instance(dir_, "emitter", id_of(svc))["weight"] == 5; }));
  EXPECT_EQ(dig(w.status(), {"problems"}), json::array());
}

TEST_F(WatsonControl, SecondFileWithTheSameServiceAndIdIsRefused) {
  TestService svc;
  WatsonOptions options{
      .services = {{"a.yaml", http_service("dup", svc)},
                   {"b.yaml", http_service("dup", svc, {.extra = "weight: 5\n"})}}};
  auto& w = start(options);
  ASSERT_TRUE(registered("dup", id_of(svc)));
  const auto a = (w.services_dir() / "a.yaml").string();
  const auto b = (w.services_dir() / "b.yaml").string();
  EXPECT_TRUE(w.has_problem(b + ":1:10: service: \"dup\" with id \"" + id_of(svc) +
                            "\" is already defined in " + a))
      << w.status().dump(2);
  EXPECT_EQ(instance(dir_, "dup", id_of(svc))["weight"], 100);
  int entries = 0;
  for (auto& s : dig(w.status(), {"services"})) entries += s["service"] == "dup";
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(w.service("dup")["file"], a);
}

// ---- maintenance ------------------------------------------------------------------------

TEST_F(WatsonControl, MaintOnDrainsThenDeregistersAndOffRestores) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc, {.drain = "1s"})}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  LineStream events(dir_.port(), "/v1/watch");
  ASSERT_EQ(events.head().status, 200);

  auto on = w.maint_cli("emitter", "on", "deploy 42");
  EXPECT_EQ(on.status, 0) << on.err;
  auto put = next_event(events, "emitter");
  EXPECT_EQ(put["type"], "instance_put");
  EXPECT_EQ(dig(put, {"instance", "health"}), "maintenance") << put.dump();
  auto st = w.service("emitter");
  EXPECT_EQ(st["maintenance"], true);
  EXPECT_EQ(st["reason"], "deploy 42");
  EXPECT_EQ(st["health"], "maintenance");
  EXPECT_EQ(st["routable"], false);
  const auto maintenance_at = Clock::now();
  auto del = next_event(events, "emitter");
  EXPECT_EQ(del["type"], "instance_delete") << del.dump();
  // Deleted after the drain (1 s); the slack covers delivery on loopback.
  EXPECT_GE(Clock::now() - maintenance_at, 700ms);

  // Checks keep running in maintenance.
  const auto n = svc.requests();
  EXPECT_TRUE(poll_until(2s, [&] { return svc.requests() > n + 2; }));

  auto off = w.maint_cli("emitter", "off");
  EXPECT_EQ(off.status, 0) << off.err;
  auto back = next_event(events, "emitter");
  EXPECT_EQ(back["type"], "instance_put");
  EXPECT_EQ(dig(back, {"instance", "health"}), "passing") << back.dump();
  EXPECT_EQ(w.service("emitter")["maintenance"], false);
}

TEST_F(WatsonControl, MaintCommandRefusesAnUnknownServiceAndBadUsage) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  auto r = w.maint_cli("nosuch", "on");
  EXPECT_EQ(r.status, 65);
  EXPECT_THAT(r.err, HasSubstr("nosuch"));
  r = w.maint_cli("emitter", "maybe");
  EXPECT_EQ(r.status, 64) << r.err;
  r = run_to_end({watson_binary(), "maint"}, w.dir().path());
  EXPECT_EQ(r.status, 64) << r.err;
}

// Something else on --api's address: an answer of the wrong shape is reported, not thrown (it
// used to end watson maint with an uncaught nlohmann type_error).
TEST_F(WatsonControl, MaintCommandReportsAnAnswerThatIsNotWatsons) {
  TestService impostor;
  TempDir logs;
  const auto maint = [&] {
    return run_to_end({watson_binary(), "maint", "emitter", "on", "--api",
                       "127.0.0.1:" + std::to_string(impostor.port())},
                      logs.path());
  };
  for (const std::string body :
       {R"({"service": "emitter", "maintenance": "yes", "instances": 1})",
        R"({"service": 7, "maintenance": true, "instances": 1})",
        R"({"service": "emitter", "maintenance": true, "instances": -1})", R"([1, 2])", "ok"}) {
    impostor.set_ok_body(body);
    auto r = maint();
    EXPECT_EQ(r.status, 69) << body << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("answered 200 without service, maintenance and instances: " +
                                 body))
        << body;
  }
  impostor.set_ok_body(R"({"service": "emitter", "maintenance": true, "instances": 2})");
  auto r = maint();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("emitter: maintenance on for 2 instance(s)"));
}

TEST_F(WatsonControl, MaintCommandFindsTheApiThroughTheConfig) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  // No --api: the address is `listen` in the watson.yaml given with -c.
  auto r = run_to_end({watson_binary(), "maint", "emitter", "on", "-c", w.config_path().string()},
                      w.dir().path());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(w.service("emitter")["maintenance"], true);
  EXPECT_TRUE(gone("emitter", id_of(svc)));  // drain 0s
}

TEST_F(WatsonControl, MaintenanceApiValidatesItsInput) {
  TestService svc;
  auto& w = start({.services = {{"emitter.yaml", http_service("emitter", svc)}}});
  ASSERT_TRUE(registered("emitter", id_of(svc)));
  EXPECT_EQ(w.maint_api("emitter", "enable=maybe").status, 400);
  EXPECT_EQ(w.maint_api("emitter", "reason=x").status, 400);  // enable missing
  EXPECT_EQ(w.maint_api("emitter", "enable=true&reason=a%0Ab").status, 400);
  EXPECT_EQ(w.maint_api("emitter", "enable=true&reason=" + std::string(257, 'r')).status, 400);
  EXPECT_EQ(w.maint_api("nosuch", "enable=true").status, 404);
  EXPECT_EQ(w.service("emitter")["maintenance"], false);  // nothing above changed anything

  auto r = w.maint_api("emitter", "enable=true&reason=x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_json(r), json({{"service", "emitter"}, {"maintenance", true}, {"instances", 1}}));
  r = w.maint_api("emitter", "enable=false");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_json(r)["maintenance"], false);
}

// ---- configuration ----------------------------------------------------------------------

TEST(WatsonCommandLine, CheckConfigPassesAGoodConfig) {
  TestService svc;
  Watson w({.directories = {"http://127.0.0.1:1"},
            .services = {{"emitter.yaml", http_service("emitter", svc)}}});
  auto r = w.run({"--check-config"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(WatsonCommandLine, BadWatsonYamlIsRefusedByCheckAndAtStart) {
  Watson w({.directories = {"http://127.0.0.1:1"}, .extra_config = "lease_tll: 5s\n"});
  // Lines 1-6 are the fixture's (directories takes two); the typo is on line 7.
  const std::string line = w.config_path().string() + ":7:1: lease_tll: unknown key";
  auto r = w.run({"--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_THAT(r.err, HasSubstr(line));
  r = w.run({});
  EXPECT_EQ(r.status, 78);
  EXPECT_THAT(r.err, HasSubstr(line));
}

TEST(WatsonCommandLine, BadServiceFileFailsTheCheckButNotTheStart) {
  TestService svc;
  Watson w(
      {.directories = {"http://127.0.0.1:1"},
       .services = {{"emitter.yaml", http_service("emitter", svc, {.extra = "weight: heavy\n"})}}});
  const std::string line = (w.services_dir() / "emitter.yaml").string() +
                           ":3:9: weight: expected an integer, got \"heavy\"";
  auto r = w.run({"--check-config"});
  EXPECT_EQ(r.status, 78);
  EXPECT_THAT(r.err, HasSubstr(line));
  w.start();  // reported and skipped, not fatal
  EXPECT_TRUE(w.has_problem(line)) << w.status().dump(2);
}

TEST(WatsonCommandLine, MissingExplicitConfigAndUsageErrors) {
  TempDir logs;
  auto r = run_to_end({watson_binary(), "-c", (logs.path() / "nope.yaml").string()}, logs.path());
  EXPECT_EQ(r.status, 78) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nope.yaml"));
  r = run_to_end({watson_binary(), "--no-such-flag"}, logs.path());
  EXPECT_EQ(r.status, 64) << r.err;
  r = run_to_end({watson_binary(), "-d", "http://127.0.0.1:1", "emitter"}, logs.path());
  EXPECT_EQ(r.status, 64) << r.err;  // quick mode without a URL
}

}  // namespace
}  // namespace dstack::test
