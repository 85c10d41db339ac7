// SPDX-License-Identifier: Apache-2.0
// Rollouts end to end (docs/rollouts.md): the real directory runs them on what a real sherlock
// reports of the requests a real client (h2load) sends through the real HAProxy to the
// walkthrough's emitters. A good version is promoted step by step; a failing or slow one is
// aborted in its first step, the route back at 100 % stable; too little traffic pauses; a person's
// route change pauses; bad requests are refused naming field, value and rule; and a directory
// killed with SIGKILL at any moment resumes each rollout where it was.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "emitter_process.hpp"
#include "sherlock_fixture.hpp"

namespace dstack::test {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// A route's targets as "2:10 1:90".
std::string targets_text(const json& targets) {
  std::string out;
  for (const auto& t : targets)
    out += (out.empty() ? "" : " ") + t["version"].get<std::string>() + ":" +
           std::to_string(t["weight"].get<int>());
  return out;
}

struct Rollouts : SherlockTest {
  // emitter version 1 on `a`, version 2 on `b`, the route 100 % version 1, and sherlock
  // routing it and reporting every second.
  void SetUp() override {
    SherlockTest::SetUp();
    put_versions();
    ASSERT_EQ(
        directory
            .put("/v1/routes/emitter", json{{"targets", {{{"version", "1"}, {"weight", 100}}}}})
            .status,
        200);
    auto o = options();
    o.extra_config = "consumer: web\nreport_interval: 1s\n";
    start(o);
    ASSERT_TRUE(sherlock->wait_applied("emitter", 2, 10s, true));
  }

  void put_versions() {
    put("emitter", "a", a.url(), json{{"version", "1"}});
    put("emitter", "b", b.url(), json{{"version", "2"}});
  }

  // Requests through sherlock at about `rps` a second for `seconds`, in the background, from
  // `clients` connections (each waits for its answer before it asks again).
  std::unique_ptr<Process> traffic(int rps, int seconds = 60, int clients = 2) {
    return std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/h2load", "--h1", "-c", std::to_string(clients), "--rps",
            std::to_string(std::max(1, rps / clients)), "-D", std::to_string(seconds),
            "http://127.0.0.1:" + std::to_string(sherlock->proxy_port()) + "/emitter/"},
        logs.path());
  }

  Response start_rollout(json body) { return directory.put("/v1/rollouts/emitter", body); }

  json rollout() const {
    return json::parse(directory.get("/v1/rollouts/emitter").body, nullptr, false);
  }

  // The rollout once its phase is `phase` (within `timeout`), else as it was last.
  json wait_phase(const std::string& phase, Clock::duration timeout) {
    json r;
    poll_until(
        timeout,
        [&] {
          r = rollout();
          return r.is_object() && r["phase"] == phase;
        },
        50ms);
    return r;
  }

  // The route as "2:10 1:90".
  std::string route() const {
    auto r = json::parse(directory.get("/v1/routes/emitter").body, nullptr, false);
    if (!r.is_object() || !r.contains("targets")) return "none";
    return targets_text(r["targets"]);
  }

  // Every route the directory set for emitter after `since` (its watch history), in order.
  std::vector<std::string> routes_since(std::uint64_t since) const {
    LineStream s(directory.port(),
                 "/v1/watch?since=" + std::to_string(since) + "&epoch=" + directory.epoch());
    std::vector<std::string> out;
    while (auto line = s.next_line(300ms)) {
      auto e = json::parse(*line, nullptr, false);
      if (!e.is_object() || e["type"] != "route_put" || e["service"] != "emitter") continue;
      out.push_back(targets_text(e["route"]["targets"]));
    }
    return out;
  }

  struct DwRun {
    std::optional<int> code;
    std::string out, err;
  };
  DwRun dw(const std::vector<std::string>& args) {
    std::vector<std::string> argv{DSTACK_DW_BIN, "-d", directory_url()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, logs.path());
    auto code = p.wait(10s);
    return {code, p.stdout_text(), p.stderr_text()};
  }

  Emitter a{"a"}, b{"b"};
  TempDir logs;
};

json quick(json extra = json::object()) {
  json body{{"to", "2"}, {"steps", {10, 50, 100}}, {"interval", "2s"}, {"min_requests", 20}};
  for (auto& [k, v] : extra.items()) body[k] = v;
  return body;
}

TEST_F(Rollouts, AGoodVersionIsPromotedThroughEveryStep) {
  const auto since = directory.revision();
  auto load = traffic(200);
  const auto started = start_rollout(quick());
  ASSERT_EQ(started.status, 201) << started.body;
  const json r0 = json::parse(started.body);
  EXPECT_EQ(r0["spec"]["from"], "1");  // the stable version: the route's
  EXPECT_EQ(r0["step"], 0);
  EXPECT_EQ(route(), "2:10 1:90");

  const json done = wait_phase("succeeded", 30s);
  ASSERT_EQ(done["phase"], "succeeded") << done.dump();
  EXPECT_EQ(done["reason"], "every step passed");
  EXPECT_EQ(route(), "2:100");
  // Each step's route once, in order, none skipped.
  EXPECT_THAT(routes_since(since), ElementsAre("2:10 1:90", "2:50 1:50", "2:100"));
  // The last step was judged on evidence: the canary's requests, none failed.
  EXPECT_GE(done["last"]["canary"]["requests"].get<int>(), 20) << done.dump();
  EXPECT_EQ(done["last"]["canary"]["errors"], 0);
}

TEST_F(Rollouts, AFailingVersionIsAbortedInItsFirstStepAndTheRouteIsBackToStable) {
  ASSERT_EQ(b.set_mode("fail"), 200);
  auto load = traffic(200);
  const auto t0 = Clock::now();
  ASSERT_EQ(start_rollout(quick()).status, 201);
  const json done = wait_phase("aborted", 20s);
  const auto took = Clock::now() - t0;
  ASSERT_EQ(done["phase"], "aborted") << done.dump();
  EXPECT_EQ(done["step"], 0);
  EXPECT_THAT(done["reason"].get<std::string>(), HasSubstr("at 10%: error ratio 100.00%"));
  EXPECT_THAT(done["reason"].get<std::string>(), HasSubstr("over max_error_ratio 1.00%"));
  EXPECT_EQ(route(), "1:100");
  // Within one interval and one report (1 s), with a second for the tick and the start.
  EXPECT_LT(took, 4s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
}

// With a one-minute interval: once min_requests are in and so many were slow that the rest of
// the interval cannot bring the p99 under max_p99, the rollout aborts, long before the minute.
TEST_F(Rollouts, ASlowVersionIsAbortedOnItsP99WithoutWaitingForTheInterval) {
  ASSERT_EQ(b.set_mode("slow&delay=300ms"), 200);
  auto load = traffic(200, 60, 20);  // enough clients that the slow answers hold few up
  const auto t0 = Clock::now();
  ASSERT_EQ(
      start_rollout(quick({{"steps", {50, 100}}, {"max_p99", "100ms"}, {"interval", "1m"}})).status,
      201);
  const json done = wait_phase("aborted", 20s);
  const auto took = Clock::now() - t0;
  ASSERT_EQ(done["phase"], "aborted") << done.dump();
  EXPECT_THAT(done["reason"].get<std::string>(), HasSubstr("over max_p99 100.0 ms, "));
  EXPECT_THAT(done["reason"].get<std::string>(),
              HasSubstr(" into the interval: too many slow requests for the interval to pass"));
  EXPECT_EQ(route(), "1:100");
  EXPECT_LT(took, 15s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                       << " ms";
}

// Both versions of four services answer 503 to 0.5 % of requests, under the 1 % bound: twenty
// rollouts (five rounds of four at once), forty judgements, not one abort.
TEST_F(Rollouts, NoFalseAbortInTwentyGoodRolloutsWithTheStableVersionsOwnNoise) {
  const std::vector<std::string> services{"emitter", "e2", "e3", "e4"};
  std::vector<std::unique_ptr<Emitter>> more;  // versions 1 and 2 of e2..e4
  for (std::size_t k = 1; k < services.size(); ++k) {
    for (const char* version : {"1", "2"}) {
      more.push_back(std::make_unique<Emitter>(services[k] + "-" + version));
      put(services[k], services[k] + "-" + version, more.back()->url(), json{{"version", version}});
    }
    ASSERT_EQ(directory
                  .put("/v1/routes/" + services[k],
                       json{{"targets", {{{"version", "1"}, {"weight", 100}}}}})
                  .status,
              200);
  }
  for (const auto& s : services) ASSERT_TRUE(sherlock->wait_applied(s, 2, 10s, true)) << s;
  ASSERT_EQ(a.set_mode("ok&errors=0.005"), 200);
  ASSERT_EQ(b.set_mode("ok&errors=0.005"), 200);
  for (auto& e : more) ASSERT_EQ(e->set_mode("ok&errors=0.005"), 200);
  std::vector<std::string> argv{"/usr/bin/h2load", "--h1", "-c", "4", "--rps", "200", "-D", "120"};
  for (const auto& s : services)
    argv.push_back("http://127.0.0.1:" + std::to_string(sherlock->proxy_port()) + "/" + s + "/");
  Process load(argv, logs.path());
  int canary_errors = 0;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round + 1));
    const std::string to = round % 2 ? "1" : "2";  // back and forth between the two
    for (const auto& s : services) {
      directory.del("/v1/rollouts/" + s);
      // 2 s intervals: about 200 canary requests each at 50 %, twice min_requests, so that a
      // slow machine (the thread sanitizer's) still brings evidence before three waits.
      const auto started = directory.put(
          "/v1/rollouts/" + s,
          quick({{"to", to}, {"steps", {50, 100}}, {"interval", "2s"}, {"min_requests", 100}}));
      ASSERT_EQ(started.status, 201) << s << ": " << started.body;
    }
    for (const auto& s : services) {
      json done;
      poll_until(40s, [&] {
        done = json::parse(directory.get("/v1/rollouts/" + s).body, nullptr, false);
        return done.is_object() && done["phase"] != "running";
      });
      ASSERT_EQ(done["phase"], "succeeded") << s << ": " << done.dump();
      canary_errors += done["last"]["canary"]["errors"].get<int>();
    }
  }
  EXPECT_GT(canary_errors, 0) << "no noise: the test proves nothing";
}

TEST_F(Rollouts, TooLittleTrafficWaitsThenPausesWithoutPromoting) {
  auto load = traffic(10);  // ~1 canary request a second at 10 %, against min_requests 20
  ASSERT_EQ(start_rollout(quick({{"interval", "1s"}})).status, 201);
  const json paused = wait_phase("paused", 20s);
  ASSERT_EQ(paused["phase"], "paused") << paused.dump();
  EXPECT_EQ(paused["step"], 0);
  EXPECT_THAT(paused["reason"].get<std::string>(), HasSubstr("too little traffic: "));
  EXPECT_THAT(paused["reason"].get<std::string>(), HasSubstr("fewer than min_requests 20"));
  EXPECT_EQ(route(), "2:10 1:90");  // where it was: no promotion without evidence
}

TEST_F(Rollouts, APersonsRouteChangePausesTheRolloutAndResumeSetsTheStepAgain) {
  ASSERT_EQ(start_rollout(quick({{"interval", "1h"}})).status, 201);
  ASSERT_EQ(
      directory.put("/v1/routes/emitter", json{{"targets", {{{"version", "1"}, {"weight", 100}}}}})
          .status,
      200);
  const json paused = rollout();
  EXPECT_EQ(paused["phase"], "paused");
  EXPECT_THAT(paused["reason"].get<std::string>(),
              HasSubstr("paused for a route change by a request without a token"));
  EXPECT_EQ(route(), "1:100");  // the person's route stands
  const auto resumed = directory.post("/v1/rollouts/emitter/resume", json::object());
  ASSERT_EQ(resumed.status, 200) << resumed.body;
  EXPECT_EQ(json::parse(resumed.body)["phase"], "running");
  EXPECT_EQ(route(), "2:10 1:90");
  // Abort: 100 % stable at once; an ended rollout takes no more commands, and may go.
  const auto aborted = directory.post("/v1/rollouts/emitter/abort", json::object());
  ASSERT_EQ(aborted.status, 200) << aborted.body;
  EXPECT_EQ(route(), "1:100");
  const auto again = directory.post("/v1/rollouts/emitter/pause", json::object());
  EXPECT_EQ(again.status, 409);
  EXPECT_THAT(again.body, HasSubstr("the rollout of emitter was aborted"));
  EXPECT_EQ(directory.del("/v1/rollouts/emitter").status, 200);
  EXPECT_EQ(directory.get("/v1/rollouts/emitter").status, 404);
}

TEST_F(Rollouts, BadRequestsAreRefusedNamingFieldValueAndRule) {
  const auto refused = [&](json body, const std::string& expected) {
    const auto r = start_rollout(body);
    EXPECT_EQ(r.status, 400) << body.dump();
    EXPECT_THAT(r.body, HasSubstr(expected)) << body.dump();
  };
  refused(quick({{"to", "3"}}),
          "to \\\"3\\\": no instance of emitter has this version (versions with instances: 1, 2)");
  refused(quick({{"from", "7"}}), "from \\\"7\\\": no instance of emitter has this version");
  refused(quick({{"steps", {50, 20}}}), "steps[1] 20 is not above the step before it (50)");
  refused(quick({{"steps", {50, 120}}}), "steps[1] 120 is out of range 1..100");
  refused(quick({{"interval", "500ms"}}),
          "interval \\\"500ms\\\" is invalid: must be from 1s to 24h");
  refused(quick({{"interval", "25h"}}), "must be from 1s to 24h");
  refused(quick({{"max_p99_ratio", 0.5}}), "max_p99_ratio \\\"0.5\\\" is invalid");
  refused(quick({{"color", "blue"}}), "color");
  EXPECT_EQ(route(), "1:100");  // nothing changed
  EXPECT_EQ(directory.get("/v1/rollouts/emitter").status, 404);

  ASSERT_EQ(start_rollout(quick({{"interval", "1h"}})).status, 201);
  const auto second = start_rollout(quick());
  EXPECT_EQ(second.status, 409);
  EXPECT_THAT(second.body, HasSubstr("service emitter already has a rollout running (to version "
                                     "2, step 1 of 3 (10%)): abort or promote it first"));
  const auto with_body = directory.post("/v1/rollouts/emitter/abort", json{{"reason", "x"}});
  EXPECT_EQ(with_body.status, 400);
  EXPECT_THAT(with_body.body, HasSubstr("body: abort takes no body (or {}), got"));
  EXPECT_EQ(rollout()["phase"], "running");
  const auto forget = directory.del("/v1/rollouts/emitter");
  EXPECT_EQ(forget.status, 409);
  EXPECT_THAT(forget.body, HasSubstr("abort or promote it first"));
}

TEST_F(Rollouts, DwStartsShowsAndSteersARollout) {
  auto bad = dw(
      {"rollout", "start", "emitter", "--to", "2", "--steps", "5,x", "--max-error-ratio", "lots"});
  EXPECT_EQ(bad.code, 65);
  EXPECT_THAT(bad.err, HasSubstr("--steps \"5,x\" is invalid: must be percents separated by "
                                 "commas, such as 5,25,50,100"));
  EXPECT_THAT(bad.err, HasSubstr("--max-error-ratio \"lots\" is invalid"));
  EXPECT_EQ(directory.get("/v1/rollouts/emitter").status, 404);

  auto started = dw({"rollout", "start", "emitter", "--to", "2", "--steps", "10,50,100",
                     "--interval", "1h", "--max-error-ratio", "2%", "--max-p99", "250ms"});
  ASSERT_EQ(started.code, 0) << started.err;
  EXPECT_THAT(started.out,
              HasSubstr("rollout of emitter: version 2 replacing 1, everyone's route"));
  EXPECT_THAT(started.out, HasSubstr("phase     running at step 1 of 3"));
  EXPECT_THAT(started.out, HasSubstr("steps     10% now, 50%, 100%"));
  EXPECT_THAT(started.out, HasSubstr("2.00% or less"));
  EXPECT_THAT(started.out, HasSubstr("250.0 ms or less"));
  EXPECT_THAT(started.out, HasSubstr("next      in 1h: within the bounds, 50% to 2"));
  EXPECT_EQ(route(), "2:10 1:90");

  auto paused = dw({"rollout", "pause", "emitter"});
  ASSERT_EQ(paused.code, 0) << paused.err;
  EXPECT_THAT(paused.out, HasSubstr("phase     paused at step 1 of 3: paused by a request "
                                    "without a token at step 1 of 3 (10%)"));
  EXPECT_THAT(paused.out, HasSubstr("dw rollout resume emitter"));
  auto listed = dw({"rollout", "list"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("emitter  2   1     everyone  paused  1/3 (10%)"));
  auto aborted = dw({"rollout", "abort", "emitter"});
  ASSERT_EQ(aborted.code, 0) << aborted.err;
  EXPECT_THAT(aborted.out, HasSubstr("steps     10% aborted, 50%, 100%"));
  EXPECT_THAT(aborted.out, HasSubstr("route     100% to 1"));
  EXPECT_EQ(route(), "1:100");
  auto again = dw({"rollout", "resume", "emitter"});
  EXPECT_EQ(again.code, 65) << again.err;
  EXPECT_THAT(again.err, HasSubstr("only a paused one can be told to resume"));
  auto json_status = dw({"--json", "rollout", "status", "emitter"});
  ASSERT_EQ(json_status.code, 0) << json_status.err;
  EXPECT_EQ(json::parse(json_status.out)["phase"], "aborted");
}

// Header pinning (docs/sherlock.md#header-pinning), with curl: a request that names a version
// with an instance up goes to it, though the route gives it nothing; one naming a version with
// none takes the split; a version that comes later is pinned to without a reload.
TEST_F(Rollouts, AVersionHeaderPinsARequestToThatVersionWhenItHasAnInstance) {
  const auto ids = [&](const std::string& header, int n) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> argv{"/usr/bin/curl", "-s", "--max-time", "5"};
      if (!header.empty()) argv.insert(argv.end(), {"-H", header});
      argv.push_back("http://127.0.0.1:" + std::to_string(sherlock->proxy_port()) + "/emitter/");
      Process curl(argv, logs.path());
      curl.wait(10s);
      auto j = json::parse(curl.stdout_text(), nullptr, false);
      ++seen[j.is_object() ? j.value("id", "?") : "?"];
    }
    return seen;
  };
  using Seen = std::map<std::string, int>;
  EXPECT_EQ(ids("", 10), (Seen{{"a", 10}}));  // the route: 1=100
  EXPECT_EQ(ids("X-Dstack-Version: 2", 10), (Seen{{"b", 10}}));
  EXPECT_EQ(ids("X-Dstack-Version: 9", 5), (Seen{{"a", 5}}));  // no such version: the split
  // b unhealthy: no instance of version 2 to pin to, so the split.
  directory.put_instance("emitter", "b", lease,
                         json{{"url", b.url()}, {"version", "2"}, {"health", "critical"}});
  EXPECT_TRUE(poll_until(5s, [&] { return ids("X-Dstack-Version: 2", 1) == Seen{{"a", 1}}; }));
  EXPECT_EQ(ids("X-Dstack-Version: 2", 5), (Seen{{"a", 5}}));
  // A version that comes later, through the runtime API: pinned to at once, no reload.
  const auto reloads = sherlock->metric("dstack_sherlock_reloads_total");
  Emitter c("c");
  put("emitter", "c", c.url(), json{{"version", "3"}});
  EXPECT_TRUE(poll_until(5s, [&] { return ids("X-Dstack-Version: 3", 1) == Seen{{"c", 1}}; }));
  EXPECT_EQ(ids("X-Dstack-Version: 3", 5), (Seen{{"c", 5}}));
  EXPECT_EQ(ids("", 5), (Seen{{"a", 5}}));
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);
}

// SIGKILL at random moments while rollouts run: each resumes at the step it was on; the routes
// it set go forward one step at a time, a step's possibly set again but never skipped or undone;
// the route the directory serves after a restart is the last one it acknowledged, or the next.
TEST_F(Rollouts, ADirectoryKilledAtAnyMomentResumesEachRolloutWhereItWas) {
  auto load = traffic(300, 120);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> life_ms(0, 2500);
  const std::vector<std::string> order{"1:100", "2:10 1:90", "2:30 1:70", "2:60 1:40", "2:100"};
  // Four rounds of three kills here; scripts/soak-rollouts runs as many as it is told.
  const char* asked = std::getenv("DSTACK_ROLLOUT_KILL_ROUNDS");
  const int rounds = asked ? std::max(1, std::atoi(asked)) : 4;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(
        directory
            .put("/v1/routes/emitter", json{{"targets", {{{"version", "1"}, {"weight", 100}}}}})
            .status,
        200);
    directory.del("/v1/rollouts/emitter");
    std::vector<std::string> seen{route()};  // every route served, in order, over the lives
    auto events = std::make_unique<LineStream>(directory.port(), "/v1/watch");
    const auto started = start_rollout(quick({{"steps", {10, 30, 60, 100}}, {"interval", "1s"}}));
    ASSERT_EQ(started.status, 201) << started.body;
    // One life: the routes the directory set, read from its stream until the kill.
    const auto live = [&](Clock::duration how_long) {
      const auto until = Clock::now() + how_long;
      while (Clock::now() < until) {
        auto line = events->next_line(until - Clock::now());
        if (!line) continue;
        auto e = json::parse(*line, nullptr, false);
        if (!e.is_object() || e["type"] != "route_put" || e["service"] != "emitter") continue;
        seen.push_back(targets_text(e["route"]["targets"]));
      }
    };
    for (int kill = 0; kill < 3; ++kill) {
      live(std::chrono::milliseconds(life_ms(rng)));
      const json before = rollout();
      directory.kill9();
      directory.start();
      lease = directory.grant(60);
      put_versions();  // as watson would, again
      const json after = rollout();
      ASSERT_TRUE(after.is_object() && after.contains("step")) << "the rollout was lost";
      // The step it was on, or the next (a judgement kept just before the kill).
      if (before.is_object() && before.contains("step")) {
        EXPECT_GE(after["step"].get<int>(), before["step"].get<int>());
      }
      seen.push_back(route());
      events = std::make_unique<LineStream>(directory.port(), "/v1/watch");
    }
    const json done = wait_phase("succeeded", 40s);
    live(500ms);
    ASSERT_EQ(done["phase"], "succeeded") << done.dump();
    seen.push_back(route());
    std::string all;
    for (const auto& r : seen) all += "[" + r + "] ";
    std::size_t at = 0;
    for (const auto& r : seen) {
      auto it = std::find(order.begin(), order.end(), r);
      ASSERT_NE(it, order.end()) << all;
      const auto k = static_cast<std::size_t>(it - order.begin());
      EXPECT_TRUE(k == at || k == at + 1) << "from " << order[at] << " to " << r << ": " << all;
      at = k;
    }
    EXPECT_EQ(at, order.size() - 1) << all;
  }
}

}  // namespace
}  // namespace dstack::test
