// SPDX-License-Identifier: Apache-2.0
// What dw shows of rollouts and how it reads `dw rollout start`'s flags (dw/rollout_text.hpp,
// docs/dw.md#rollouts): every phase's status, the figures beside their bounds, and each flag's
// refusal naming flag, value and rule.
#include "dw/rollout_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dstack::dw {
namespace {

using namespace std::chrono_literals;
using model::RolloutPhase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string all(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

model::RolloutView view(RolloutPhase phase, std::size_t step) {
  model::RolloutView v;
  auto& s = v.state.spec;
  s.service = "emitter";
  s.to = "2";
  s.from = "1";
  s.steps = {5, 25, 50, 100};
  s.interval = 1min;
  s.max_p99_ms = 500;
  s.max_p99_ratio = 1.5;
  v.state.phase = phase;
  v.state.step = step;
  return v;
}

TEST(RolloutFlags, AreReadIntoASpecificationWithTheDefaultsForWhatIsAbsent) {
  RolloutFlags f;
  f.to = "2";
  f.steps = "10,50,100";
  f.max_error_ratio = "0.5%";
  f.max_p99 = "250ms";
  f.max_p99_ratio = "1.25";
  f.min_requests = "50";
  f.consumer = "web";
  auto spec = parse_rollout_flags("emitter", f);
  ASSERT_TRUE(std::holds_alternative<model::RolloutSpec>(spec)) << all(std::get<1>(spec));
  const auto& s = std::get<model::RolloutSpec>(spec);
  EXPECT_THAT(s.steps, ElementsAre(10, 50, 100));
  EXPECT_DOUBLE_EQ(s.max_error_ratio, 0.005);
  EXPECT_EQ(s.max_p99_ms, 250);
  EXPECT_EQ(s.max_p99_ratio, 1.25);
  EXPECT_EQ(s.min_requests, 50u);
  EXPECT_EQ(s.consumer, "web");
  EXPECT_EQ(s.interval, 1min);  // the default
  EXPECT_EQ(s.from, "");        // the directory's to fill
  f.max_error_ratio = "0.02";
  EXPECT_DOUBLE_EQ(std::get<model::RolloutSpec>(parse_rollout_flags("emitter", f)).max_error_ratio,
                   0.02);
}

TEST(RolloutFlags, EachBadFlagIsNamedWithItsValueAndRule) {
  RolloutFlags f;
  f.to = "2";
  f.steps = "5,,50";
  f.interval = "soon";
  f.max_error_ratio = "1%%";
  f.max_p99 = "fast";
  f.max_p99_ratio = "x1.5";
  f.min_requests = "-3";
  const auto problems = all(std::get<1>(parse_rollout_flags("emitter", f)));
  for (const char* expected :
       {"--steps \"5,,50\" is invalid: must be percents separated by commas",
        "--interval \"soon\" is invalid: must be a duration such as 30s or 1m",
        "--max-error-ratio \"1%%\" is invalid", "--max-p99 \"fast\" is invalid",
        "--max-p99-ratio \"x1.5\" is invalid", "--min-requests \"-3\" is invalid"})
    EXPECT_THAT(problems, HasSubstr(expected));
  // Read, then checked as the directory checks a request.
  RolloutFlags g;
  g.to = "2";
  g.steps = "50,25";
  g.interval = "2d";
  EXPECT_THAT(all(std::get<1>(parse_rollout_flags("emitter", g))),
              HasSubstr("steps[1] 25 is not above the step before it (50)"));
  EXPECT_THAT(all(std::get<1>(parse_rollout_flags("emitter", g))),
              HasSubstr("interval \"48h\" is invalid: must be from 1s to 24h"));
  // A flag that could not be read and another whose value is wrong: both named at once, the
  // unread one not judged again on what of it was read.
  RolloutFlags h;
  h.to = "2";
  h.steps = "50,25,x";
  h.max_p99_ratio = "0.5";
  EXPECT_EQ(all(std::get<1>(parse_rollout_flags("emitter", h))),
            "--steps \"50,25,x\" is invalid: must be percents separated by commas, such as "
            "5,25,50,100\n"
            "max_p99_ratio \"0.5\" is invalid: must be at least 1 (the canary's p99 over the "
            "stable version's)\n");
}

TEST(RolloutStatus, ARunningStepShowsTheFiguresSoFarBesideTheBoundsAndWhenItIsJudged) {
  auto v = view(RolloutPhase::running, 1);
  v.state.route_applied = true;
  v.state.waits = 1;
  v.current = model::Judgement{{312, 1, 48.0}, {2904, 3, 41.0}};
  v.judge_at_ms = 1'000'754'000;
  const auto text = all(rollout_status_lines(v, 1'000'000'000));
  EXPECT_THAT(text, HasSubstr("rollout of emitter: version 2 replacing 1, everyone's route\n"));
  EXPECT_THAT(text, HasSubstr("phase     running at step 2 of 4\n"));
  EXPECT_THAT(text, HasSubstr("steps     5% passed, 25% now, 50%, 100%\n"));
  EXPECT_THAT(text, HasSubstr("this step waited 1 interval(s) for evidence"));
  EXPECT_THAT(text, HasSubstr("  requests          312      2904  200 or more\n"));
  EXPECT_THAT(text, HasSubstr("  error ratio     0.32%     0.10%  1.00% or less\n"));
  EXPECT_THAT(
      text,
      HasSubstr("  p99           48.0 ms   41.0 ms  500.0 ms or less; 1.50x stable or less\n"));
  EXPECT_THAT(text, HasSubstr("next      in 12m34s: within the bounds, 50% to 2; out of them, "
                              "aborted, 100% back to 1\n"));
  EXPECT_THAT(text, HasSubstr("(1 of 3 waits, then it pauses)"));
}

TEST(RolloutStatus, AnAbortedRolloutShowsWhyTheFiguresItWasJudgedOnAndTheRoute) {
  auto v = view(RolloutPhase::aborted, 0);
  v.state.reason = "at 5%: error ratio 14.20% (71 of 500 requests) over max_error_ratio 1.00%";
  v.state.last = model::Judgement{{500, 71, 30.0}, {9500, 2, 29.0}};
  const auto text = all(rollout_status_lines(v, 0));
  EXPECT_THAT(text, HasSubstr("phase     aborted: at 5%: error ratio 14.20%"));
  EXPECT_THAT(text, HasSubstr("steps     5% aborted, 25%, 50%, 100%\n"));
  EXPECT_THAT(text, HasSubstr("figures   the last interval judged\n"));
  EXPECT_THAT(text, HasSubstr("14.20%"));
  EXPECT_THAT(text, HasSubstr("route     100% to 1\n"));
}

TEST(RolloutStatus, ASucceededOnePassedEveryStepAndAPausedOneSaysHowToGoOn) {
  auto done = view(RolloutPhase::succeeded, 3);
  done.state.reason = "every step passed";
  const auto text = all(rollout_status_lines(done, 0));
  EXPECT_THAT(text, HasSubstr("steps     5% passed, 25% passed, 50% passed, 100% passed\n"));
  EXPECT_THAT(text, HasSubstr("route     100% to 2\n"));
  auto promoted = view(RolloutPhase::succeeded, 1);
  promoted.state.reason = "promoted by token ops at step 2 of 4 (25%)";
  EXPECT_THAT(all(rollout_status_lines(promoted, 0)),
              HasSubstr("steps     5% passed, 25% promoted, 50% skipped, 100% skipped\n"));
  // Promoted at the last step, before its judgement: not passed.
  auto promoted_last = view(RolloutPhase::succeeded, 3);
  promoted_last.state.reason = "promoted by token ops at step 4 of 4 (100%)";
  EXPECT_THAT(all(rollout_status_lines(promoted_last, 0)),
              HasSubstr("steps     5% passed, 25% passed, 50% passed, 100% promoted\n"));
  auto paused = view(RolloutPhase::paused, 2);
  paused.state.reason = "paused by token ops\x1b[2J";  // nothing from outside steers the terminal
  const auto p = all(rollout_status_lines(paused, 0));
  EXPECT_THAT(p, HasSubstr("phase     paused at step 3 of 4: paused by token ops?[2J\n"));
  EXPECT_THAT(p, HasSubstr("dw rollout resume emitter` (sets 50% again"));
}

}  // namespace
}  // namespace dstack::dw
