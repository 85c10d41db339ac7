// SPDX-License-Identifier: Apache-2.0
// Rollouts' decisions (directory/rollout_machine.hpp) with made-up times and figures: steps go on
// when the canary passes, abort on each bound with the figure named, wait for evidence then
// pause, obey the operator, and never skip or repeat a step whatever moment the directory dies.
#include "directory/rollout_machine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/model/rollout.hpp"
#include "directory/rollout_store.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

using ::testing::HasSubstr;
using Targets = std::vector<model::RouteTarget>;

model::RolloutSpec spec() {
  model::RolloutSpec s;
  s.service = "emitter";
  s.to = "2";
  s.from = "1";
  s.steps = {10, 50, 100};
  s.interval = std::chrono::seconds(10);
  s.max_error_ratio = 0.01;
  s.max_p99_ms = 500;
  s.max_p99_ratio = 1.5;
  s.min_requests = 100;
  return s;
}

Judgement figures(std::uint64_t requests, std::uint64_t errors, double p99,
                  double stable_p99 = 20) {
  return {{requests, errors, p99}, {requests * 9, 0, stable_p99}};
}

// The early judgement on counts so far: `requests` canary requests, `errors` of them 503s, the
// slowest `slow` of them taking `slow_ms` and the rest 20 ms; the stable version nine times as
// many at 20 ms.
RolloutDecision early(const RolloutState& state, std::int64_t now, std::uint64_t requests,
                      std::uint64_t errors, std::uint64_t slow = 0, std::int64_t slow_ms = 0) {
  model::TrafficCounts canary, stable;
  for (std::uint64_t i = 0; i < requests; ++i)
    canary.observe(i < errors ? model::CodeClass::c5xx : model::CodeClass::c2xx,
                   i + slow >= requests ? slow_ms : 20);
  for (std::uint64_t i = 0; i < requests * 9; ++i) stable.observe(model::CodeClass::c2xx, 20);
  return early_judgement(state, now, canary, stable);
}

// Applies a decision as the driver does: the route, then the state, then route_applied.
struct Driver {
  RolloutState state;
  std::vector<Targets> routes;
  void take(RolloutDecision d, std::int64_t now) {
    if (d.route) routes.push_back(*d.route);
    state =
        d.route && d.state.phase == RolloutPhase::running ? route_applied(d.state, now) : d.state;
  }
  void tick(std::int64_t now, const Judgement& j) {
    int asked = 0;
    take(advance(state, now,
                 [&] {
                   ++asked;
                   return j;
                 }),
         now);
    EXPECT_LE(asked, 1);
  }
};

TEST(RolloutMachine, AGoodCanaryGoesThroughEveryStepToAHundredPercent) {
  Driver d;
  d.take(start_rollout(spec()), 1000);
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0], (Targets{{"2", 10}, {"1", 90}}));
  d.tick(1000 + 9'999, figures(1000, 0, 30));  // the interval has not ended: nothing
  EXPECT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.state.step, 0u);
  d.tick(11'000, figures(1000, 5, 25));  // 0.5 % errors, p99 1.25 x stable: passes
  EXPECT_EQ(d.state.step, 1u);
  EXPECT_EQ(d.routes.back(), (Targets{{"2", 50}, {"1", 50}}));
  d.tick(21'000, figures(1000, 0, 20));
  EXPECT_EQ(d.routes.back(), (Targets{{"2", 100}}));
  EXPECT_EQ(d.state.phase, RolloutPhase::running);
  d.tick(31'000, figures(1000, 0, 20));
  EXPECT_EQ(d.state.phase, RolloutPhase::succeeded);
  EXPECT_EQ(d.routes.back(), (Targets{{"2", 100}}));
  EXPECT_EQ(d.routes.size(), 4u);
  d.tick(99'000, figures(1000, 999, 9999));  // a finished rollout does nothing more
  EXPECT_EQ(d.state.phase, RolloutPhase::succeeded);
  EXPECT_EQ(d.routes.size(), 4u);
}

TEST(RolloutMachine, EachBoundAbortsWithTheFigureNamedAndTheStableVersionBack) {
  const struct {
    Judgement j;
    const char* reason;
  } cases[] = {
      {figures(200, 10, 30),
       "at 10%: error ratio 5.00% (10 of 200 requests) over max_error_ratio 1.00%"},
      {figures(200, 0, 650), "at 10%: p99 650.0 ms over max_p99 500.0 ms"},
      {figures(200, 0, 40, 20),
       "at 10%: p99 40.0 ms is 2.00 times the stable version's 20.0 ms, over max_p99_ratio 1.50"},
  };
  for (const auto& c : cases) {
    Driver d;
    d.take(start_rollout(spec()), 0);
    d.tick(10'000, c.j);
    EXPECT_EQ(d.state.phase, RolloutPhase::aborted);
    EXPECT_EQ(d.state.reason, c.reason);
    EXPECT_EQ(d.routes.back(), (Targets{{"1", 100}}));
    ASSERT_TRUE(d.state.last.has_value());
    EXPECT_EQ(d.state.last->canary.requests, c.j.canary.requests);
  }
  // Without a stable p99 (no stable traffic) the ratio cannot be judged, and does not abort.
  EXPECT_EQ(breach(spec(), {{200, 0, 40}, {0, 0, std::nullopt}}), std::nullopt);
}

TEST(RolloutMachine, TooLittleTrafficWaitsThenPausesAndNeverPromotes) {
  Driver d;
  d.take(start_rollout(spec()), 0);
  d.tick(10'000, figures(40, 0, 20));
  EXPECT_EQ(d.state.phase, RolloutPhase::running);
  EXPECT_EQ(d.state.waits, 1);
  EXPECT_EQ(judge_at_ms(d.state), 20'000);  // one more length, from the same start
  d.tick(15'000, figures(500, 0, 20));      // not judged before
  EXPECT_EQ(d.state.step, 0u);
  d.tick(20'000, figures(70, 0, 20));  // the figures since the start: still too few
  d.tick(30'000, figures(90, 0, 20));
  EXPECT_EQ(d.state.phase, RolloutPhase::paused);
  EXPECT_EQ(d.state.reason,
            "too little traffic: 90 requests of version 2 in 3 intervals, fewer than "
            "min_requests 100");
  EXPECT_EQ(d.routes.size(), 1u);        // still the first step's route: nothing promoted
  d.tick(99'000, figures(1000, 0, 20));  // paused: not judged
  EXPECT_EQ(d.state.step, 0u);
}

// A few requests can prove a canary bad, never good: errors enough that the ratio is over its
// bound at min_requests whatever the rest would be abort at once.
TEST(RolloutMachine, ErrorsThatBreakTheBoundWhateverComesNextAbortWithoutMinRequests) {
  Driver d;
  d.take(start_rollout(spec()), 0);
  d.tick(10'000, figures(13, 1, 20));  // 1 error: at 100 requests it could still be 1 %
  EXPECT_EQ(d.state.phase, RolloutPhase::running);
  EXPECT_EQ(d.state.waits, 1);
  d.tick(20'000, figures(26, 2, 20));  // 2 errors: 2 % of 100 at the least
  EXPECT_EQ(d.state.phase, RolloutPhase::aborted);
  EXPECT_EQ(d.state.reason,
            "at 10%: error ratio 7.69% (2 of 26 requests) over max_error_ratio 1.00%");
  EXPECT_EQ(d.routes.back(), (Targets{{"1", 100}}));
}

// Mid-interval, errors that the rest of the interval cannot dilute under the bound abort at once;
// a ratio under the bound never does, however early.
TEST(RolloutMachine, ABadVersionIsAbortedAsSoonAsItsIntervalCannotPass) {
  auto s = spec();
  s.interval = std::chrono::minutes(1);
  Driver d;
  d.take(start_rollout(s), 0);
  // 6 s in, 60 requests: 600 expected by the end, so 6 errors could still pass at 1 %.
  EXPECT_FALSE(early(d.state, 6'000, 60, 6).changed);
  // A good version's own noise (0.9 %), however early: never.
  EXPECT_FALSE(early(d.state, 59'000, 1000, 9).changed);
  EXPECT_FALSE(early(d.state, 100, 1000, 9).changed);
  // 7 errors: over 1 % of 600 whatever comes next.
  auto e = early(d.state, 6'000, 60, 7);
  ASSERT_TRUE(e.changed);
  EXPECT_EQ(e.state.phase, RolloutPhase::aborted);
  EXPECT_EQ(e.state.reason,
            "at 10%: error ratio 11.67% (7 of 60 requests) over max_error_ratio 1.00%, 6.0 s into "
            "the interval: too many errors for the interval to pass");
  EXPECT_EQ(e.route, (Targets{{"1", 100}}));
  // Few requests: min_requests (100) is the least the interval is taken to hold.
  EXPECT_FALSE(early(d.state, 30'000, 10, 1).changed);
  EXPECT_TRUE(early(d.state, 30'000, 10, 2).changed);
  // At or after the end it is advance()'s to judge.
  EXPECT_FALSE(early(d.state, 60'000, 60, 60).changed);
}

// Mid-interval, with min_requests in, slow requests that the rest of the interval cannot bring
// the p99 under max_p99 with abort at once; a p99 under the bound never does.
TEST(RolloutMachine, ASlowVersionIsAbortedAsSoonAsItsP99CannotPass) {
  auto s = spec();  // max_p99 500 ms, min_requests 100
  s.interval = std::chrono::minutes(1);
  Driver d;
  d.take(start_rollout(s), 0);
  // 6 s in, 200 requests, 20 of them taking 2 s: 2,000 expected by the end, of which 20 are 1 %.
  EXPECT_FALSE(early(d.state, 6'000, 200, 0, 20, 2000).changed);
  // 21 slow: over 1 % of 2,000 whatever comes next.
  auto e = early(d.state, 6'000, 200, 0, 21, 2000);
  ASSERT_TRUE(e.changed);
  EXPECT_EQ(e.state.phase, RolloutPhase::aborted);
  EXPECT_THAT(e.state.reason, HasSubstr("at 10%: p99 "));
  EXPECT_THAT(e.state.reason, HasSubstr(" over max_p99 500.0 ms, 6.0 s into the interval: too many "
                                        "slow requests for the interval to pass"));
  EXPECT_EQ(e.route, (Targets{{"1", 100}}));
  // What the end of the interval would judge with the rest as fast as can be: over the bound too.
  model::TrafficCounts best;
  for (int i = 0; i < 21; ++i) best.observe(model::CodeClass::c2xx, 2000);
  for (int i = 0; i < 2000 - 21; ++i) best.observe(model::CodeClass::c2xx, 0);
  EXPECT_TRUE(breach(s, {model::version_figures(best), {}}));
  // Every request slow, but fewer than min_requests: no evidence yet, as at the interval's end.
  EXPECT_FALSE(early(d.state, 1'000, 99, 0, 99, 2000).changed);
  EXPECT_TRUE(early(d.state, 1'000, 100, 0, 100, 2000).changed);
  // A p99 under the bound, however early: never.
  EXPECT_FALSE(early(d.state, 100, 1000, 0, 1000, 400).changed);
  // Without max_p99 (max_p99_ratio alone waits for the stable version's figures): never.
  auto no_bound = s;
  no_bound.max_p99_ms.reset();
  Driver n;
  n.take(start_rollout(no_bound), 0);
  EXPECT_FALSE(early(n.state, 6'000, 200, 0, 200, 2000).changed);
}

TEST(RolloutMachine, TheOperatorPausesResumesPromotesAndAborts) {
  Driver d;
  d.take(start_rollout(spec()), 0);
  d.take(pause(d.state, "route changed by hand (revision 9)"), 3000);
  EXPECT_EQ(d.state.phase, RolloutPhase::paused);
  EXPECT_EQ(d.state.reason, "route changed by hand (revision 9)");
  EXPECT_FALSE(pause(d.state, "again").changed);
  d.take(resume(d.state, 50'000), 50'000);  // the step's route again, a whole interval from now
  EXPECT_EQ(d.state.phase, RolloutPhase::running);
  EXPECT_EQ(d.routes.back(), (Targets{{"2", 10}, {"1", 90}}));
  d.tick(59'000, figures(1000, 0, 20));
  EXPECT_EQ(d.state.step, 0u);
  d.tick(60'000, figures(1000, 0, 20));
  EXPECT_EQ(d.state.step, 1u);

  Driver promoted = d;
  promoted.take(promote(promoted.state), 61'000);
  EXPECT_EQ(promoted.state.phase, RolloutPhase::succeeded);
  EXPECT_EQ(promoted.routes.back(), (Targets{{"2", 100}}));
  EXPECT_THAT(promoted.state.reason, HasSubstr("promoted by hand"));

  d.take(abort(d.state, "aborted by the operator"), 61'000);
  EXPECT_EQ(d.state.phase, RolloutPhase::aborted);
  EXPECT_EQ(d.routes.back(), (Targets{{"1", 100}}));
  EXPECT_FALSE(abort(d.state, "twice").changed);
  EXPECT_FALSE(promote(d.state).changed);
  EXPECT_FALSE(resume(d.state, 70'000).changed);
}

// The directory dies at every possible moment of a rollout's life (before or after the route is
// set, before or after the state is kept, before or after the step's interval starts): after a
// restart from what was on disk, the routes set go through the steps in order, none is skipped,
// each step is judged once, and the rollout ends where it would have.
TEST(RolloutMachine, ADeathAtAnyMomentSkipsNoStepAndJudgesNoneTwice) {
  for (int crash_at = 0; crash_at < 40; ++crash_at) {
    int point = 0;
    RolloutState disk;  // the rollout as last kept
    bool kept = false;
    std::vector<Targets> routes;  // every route set, in order (durable)
    std::vector<std::size_t> judged_steps;
    std::int64_t now = 0;
    const auto crashed = [&] { return point++ == crash_at; };
    // A driver that may die between any two durable writes.
    const auto carry_out = [&](RolloutDecision d) -> bool {
      if (d.route) {
        if (crashed()) return false;
        routes.push_back(*d.route);
      }
      if (crashed()) return false;
      disk = d.state;
      kept = true;
      if (d.route && disk.phase == RolloutPhase::running) {
        if (crashed()) return false;
        disk = route_applied(disk, now);
      }
      return true;
    };
    bool alive = carry_out(start_rollout(spec()));
    for (int round = 0; round < 20 && !(kept && disk.phase == RolloutPhase::succeeded); ++round) {
      if (!alive) {
        if (!kept) {  // never acknowledged: the start is done again
          alive = carry_out(start_rollout(spec()));
          continue;
        }
        // Restart: the rollout as kept, and the route on disk.
        alive = carry_out(recovered(disk, routes.back(), now));
        continue;
      }
      now += 10'000;
      auto d = advance(disk, now, [&] {
        judged_steps.push_back(disk.step);
        return figures(1000, 0, 20);
      });
      alive = carry_out(std::move(d));
    }
    ASSERT_TRUE(kept) << "crash at " << crash_at;
    EXPECT_EQ(disk.phase, RolloutPhase::succeeded) << "crash at " << crash_at;
    // Routes: each step's, in order, a step's possibly twice in a row (set again), never back.
    std::vector<Targets> distinct;
    for (const auto& r : routes)
      if (distinct.empty() || distinct.back() != r) distinct.push_back(r);
    EXPECT_EQ(distinct,
              (std::vector<Targets>{{{"2", 10}, {"1", 90}}, {{"2", 50}, {"1", 50}}, {{"2", 100}}}))
        << "crash at " << crash_at;
    // Judged: each step once, in order, except a judgement whose outcome died with the directory.
    for (std::size_t i = 1; i < judged_steps.size(); ++i)
      EXPECT_LE(judged_steps[i - 1], judged_steps[i]) << "crash at " << crash_at;
  }
}

// The same deaths with a bad canary: whenever the directory dies, the rollout ends aborted with
// the route back at 100 % stable, never judged past the first step; an abort whose route was set
// but not kept is not mistaken for a step without traffic.
TEST(RolloutMachine, ADeathAtAnyMomentOfAnAbortStillAborts) {
  for (int crash_at = 0; crash_at < 12; ++crash_at) {
    int point = 0;
    RolloutState disk;
    bool kept = false;
    std::vector<Targets> routes;
    std::int64_t now = 0;
    const auto carry_out = [&](RolloutDecision d) -> bool {
      if (d.route) {
        if (point++ == crash_at) return false;
        routes.push_back(*d.route);
      }
      if (point++ == crash_at) return false;
      disk = d.state;
      kept = true;
      if (d.route && disk.phase == RolloutPhase::running) {
        if (point++ == crash_at) return false;
        disk = route_applied(disk, now);
      }
      return true;
    };
    bool alive = carry_out(start_rollout(spec()));
    for (int round = 0; round < 10 && disk.phase != RolloutPhase::aborted; ++round) {
      if (!kept) {  // never acknowledged: the start is done again
        alive = carry_out(start_rollout(spec()));
        continue;
      }
      if (!alive) {
        alive = carry_out(recovered(disk, routes.back(), now));
        continue;
      }
      now += 10'000;
      // The canary gets traffic only while the route gives it some: 10 % of its requests fail.
      const bool canary_routed = routes.back() != Targets{{"1", 100}};
      alive = carry_out(advance(
          disk, now, [&] { return canary_routed ? figures(1000, 100, 20) : figures(0, 0, 20); }));
    }
    EXPECT_EQ(disk.phase, RolloutPhase::aborted) << "crash at " << crash_at;
    EXPECT_EQ(disk.step, 0u) << "crash at " << crash_at;
    ASSERT_FALSE(routes.empty());
    EXPECT_EQ(routes.back(), (Targets{{"1", 100}})) << "crash at " << crash_at;
  }
}

// What a restart makes of a running rollout kept with its route applied, by the route on disk.
TEST(RolloutMachine, ARestartReadsAnUnkeptDecisionFromTheRoute) {
  Driver d;
  d.take(start_rollout(spec()), 0);
  const RolloutState kept = d.state;  // step 1 of 3 (10%), applied
  const auto after = [&](std::optional<Targets> route) { return recovered(kept, route, 5'000); };

  auto same = after(Targets{{"2", 10}, {"1", 90}});
  EXPECT_EQ(same.state.phase, RolloutPhase::running);
  EXPECT_EQ(same.state.interval_start_ms, 5'000);  // the interval begins again
  EXPECT_FALSE(same.route);

  auto next = after(Targets{{"2", 50}, {"1", 50}});  // a next step set, not kept
  EXPECT_EQ(next.state.phase, RolloutPhase::running);
  EXPECT_EQ(next.state.step, 1u);
  EXPECT_EQ(next.route, (Targets{{"2", 50}, {"1", 50}}));

  auto aborted = after(Targets{{"1", 100}});  // an abort set, not kept
  EXPECT_EQ(aborted.state.phase, RolloutPhase::aborted);
  EXPECT_THAT(aborted.state.reason,
              HasSubstr("aborted at step 1 of 3 (10%): the route was back at 100% version 1"));
  EXPECT_EQ(aborted.route, (Targets{{"1", 100}}));

  auto promoted = after(Targets{{"2", 100}});
  EXPECT_EQ(promoted.state.phase, RolloutPhase::succeeded);
  EXPECT_THAT(promoted.state.reason, HasSubstr("the route was 100% version 2"));

  for (const auto& other : {std::optional<Targets>{Targets{{"2", 30}, {"1", 70}}},
                            std::optional<Targets>{}}) {  // a person's route, or none at all
    auto paused = after(other);
    EXPECT_EQ(paused.state.phase, RolloutPhase::paused);
    EXPECT_THAT(paused.state.reason,
                HasSubstr("after a restart the route of emitter was not that of step 1 of 3"));
    EXPECT_FALSE(paused.route);  // left as it is
  }

  RolloutState unapplied = kept;
  unapplied.route_applied = false;
  auto again = recovered(unapplied, Targets{{"1", 100}}, 5'000);
  EXPECT_EQ(again.state.phase, RolloutPhase::running);
  EXPECT_EQ(again.route, (Targets{{"2", 10}, {"1", 90}}));  // the step's route, set again
}

TEST(RolloutSpec, EveryProblemIsNamedWithItsValueAndRule) {
  auto s = spec();
  EXPECT_TRUE(model::validate_rollout_spec(s).empty());
  s.service = "Bad Name";
  s.to = "1";
  s.steps = {10, 10, 150};
  s.interval = std::chrono::milliseconds(500);
  s.max_error_ratio = 1.5;
  s.max_p99_ratio = 0.5;
  s.min_requests = 0;
  const auto problems = model::validate_rollout_spec(s);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  for (const char* expected :
       {"service \"Bad Name\" is invalid", "from \"1\" is invalid: must differ from to",
        "steps[1] 10 is not above the step before it (10): steps must increase",
        "steps[2] 150 is out of range 1..100",
        "interval \"500ms\" is invalid: must be from 1s to 24h",
        "max_error_ratio \"1.5\" is invalid", "max_p99_ratio \"0.5\" is invalid",
        "min_requests 0 is out of range"})
    EXPECT_THAT(all, HasSubstr(expected));
}

// PUT /v1/rollouts/{svc}'s body: read back as written, defaults where absent, every problem of
// reading named (unknown keys, types), then every problem of the values.
TEST(RolloutSpec, TheRequestBodyReadsBackAndRefusesWhatIsWrong) {
  auto s = spec();
  s.consumer = "monolith";
  const auto body = model::to_request_json(s);
  auto back = model::rollout_spec_from_request(body, "emitter");
  ASSERT_TRUE(std::holds_alternative<model::RolloutSpec>(back))
      << std::get<std::vector<std::string>>(back).front();
  EXPECT_EQ(std::get<model::RolloutSpec>(back), s);

  auto minimal = model::rollout_spec_from_request(nlohmann::json{{"to", "2"}}, "emitter");
  ASSERT_TRUE(std::holds_alternative<model::RolloutSpec>(minimal));
  const auto& m = std::get<model::RolloutSpec>(minimal);
  EXPECT_EQ(m.from, "");  // the directory's to fill
  EXPECT_EQ(m.steps, (std::vector<int>{5, 25, 50, 100}));
  EXPECT_EQ(m.interval, std::chrono::minutes(1));
  EXPECT_EQ(m.min_requests, 200u);

  const auto problems_of = [](const nlohmann::json& body) {
    auto read = model::rollout_spec_from_request(body, "emitter");
    std::string all;
    if (auto* p = std::get_if<std::vector<std::string>>(&read))
      for (const auto& one : *p) all += one + "\n";
    return all;
  };
  const auto bad = nlohmann::json::parse(
      R"({"to":2,"stepz":[1],"steps":[5,"x",5000000000],"interval":"soon","max_error_ratio":"1%",)"
      R"("min_requests":-3})");
  const auto read_problems = problems_of(bad);
  for (const char* expected :
       {"unknown field \"stepz\"", "to: expected a string, got an integer",
        "steps[1]: expected an integer, got a string", "steps[2] 5000000000 is out of range 1..100",
        "interval \"soon\" is invalid: must be a duration", "max_error_ratio: expected a number",
        "min_requests: expected an integer of 0 or more, got -3"})
    EXPECT_THAT(read_problems, HasSubstr(expected));
  EXPECT_THAT(problems_of(nlohmann::json{{"to", "2"}, {"from", "2"}, {"steps", {50, 25}}}),
              HasSubstr("steps[1] 25 is not above the step before it (50)"));
  EXPECT_THAT(problems_of(nlohmann::json::array()), HasSubstr("expected a JSON object"));
  // Problems of reading and of values at once, and a field that could not be read is not judged
  // on what of it was read (nor its default): one problem each.
  EXPECT_EQ(problems_of(nlohmann::json::parse(
                R"({"to":"2","steps":[50,"x",25],"interval":"soon","max_error_ratio":2,)"
                R"("min_requests":0})")),
            "steps[1]: expected an integer, got a string\n"
            "interval \"soon\" is invalid: must be a duration like 250ms, 5s or 1m\n"
            "max_error_ratio \"2\" is invalid: must be from 0 to 1 (1% is 0.01)\n"
            "min_requests 0 is out of range 1..1000000000\n");
  EXPECT_EQ(problems_of(nlohmann::json{{"steps", {50, 25}}}),
            "missing field \"to\"\nsteps[1] 25 is not above the step before it (50): steps must "
            "increase\n");
}

// A rollout as the directory will keep it: its place (phase, step, whether the step's route is on
// disk, when its interval began, the last figures) survives a reopen exactly; one that would not
// load again never reaches the file; a removed one stays removed.
TEST(RolloutStore, ARolloutKeepsItsPlaceAcrossAReopen) {
  test::TempDir tmp;
  Driver d;
  d.take(start_rollout(spec()), 1'000);
  d.tick(11'000, figures(1000, 2, 25));  // on to step 2, with the figures that decided it
  ASSERT_EQ(d.state.step, 1u);
  ASSERT_TRUE(d.state.last.has_value());
  auto other = start_rollout([] {
                 auto s = spec();
                 s.service = "transform";
                 s.consumer = "monolith";
                 s.max_p99_ms.reset();
                 return s;
               }())
                   .state;
  {
    auto store = RolloutStore::open(DataDir::open(tmp.path()));
    ASSERT_FALSE(store.put(d.state));
    ASSERT_FALSE(store.put(other));
    auto broken = d.state;
    broken.step = 7;  // not one of its steps
    EXPECT_EQ(store.put(broken), StoreErrc::invalid_record);
    ASSERT_FALSE(store.remove("transform"));
    ASSERT_FALSE(store.remove("nothing"));
  }
  auto again = RolloutStore::open(DataDir::open(tmp.path()));
  ASSERT_EQ(again.rollouts().size(), 1u);
  EXPECT_EQ(again.rollouts().at("emitter"), d.state);

  // Its JSON, as GET will answer it: what is wrong is named.
  auto j = model::to_json(d.state);
  EXPECT_EQ(j["phase"], "running");
  EXPECT_EQ(j["spec"]["steps"], nlohmann::json({10, 50, 100}));
  j["phase"] = "dancing";
  j["last"]["canary"]["errors"] = 5000;
  auto read = model::rollout_state_from_json(j);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(read));
  std::string all;
  for (const auto& p : std::get<std::vector<std::string>>(read)) all += p + "\n";
  EXPECT_THAT(all, HasSubstr("phase \"dancing\" is invalid"));
  EXPECT_THAT(all, HasSubstr("last.canary.errors 5000 is more than the 1000 requests")) << all;
}

}  // namespace
}  // namespace dstack::directory
