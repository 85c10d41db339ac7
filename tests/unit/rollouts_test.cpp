// SPDX-License-Identifier: Apache-2.0
// The directory's rollout driver (directory/rollouts.hpp) over the real State and stores in a
// temporary data directory, with made-up wall-clock times and reports: which version is stable,
// which reports count, when a step is judged, what a restart does, and what a person's route
// change does (docs/rollouts.md).
#include "directory/rollouts.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "unit/file_size_limit.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using model::RolloutPhase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const Caller kNobody{};

// `n` requests of which `errors` answered 5xx, each taking `ms`.
model::TrafficCounts counts(std::uint64_t n, std::uint64_t errors, std::int64_t ms = 20) {
  model::TrafficCounts c;
  for (std::uint64_t i = 0; i < n; ++i)
    c.observe(i < errors ? model::CodeClass::c5xx : model::CodeClass::c2xx, ms);
  return c;
}

class RolloutsTest : public ::testing::Test {
 protected:
  RolloutsTest() { open(); }

  // (Re)opens the stores over the same directory, as a restarted directory does. Instances are
  // soft state: they are registered again.
  void open() {
    rollouts_.reset();
    state_.reset();
    rollout_store_.reset();
    policies_.reset();
    routes_.reset();
    auto data = DataDir::open(dir_.path());
    routes_ = std::make_unique<RouteStore>(RouteStore::open(data));
    policies_ = std::make_unique<PolicyStore>(PolicyStore::open(data));
    rollout_store_ = std::make_unique<RolloutStore>(RolloutStore::open(data));
    state_ = std::make_unique<State>(StateOptions{}, clock_, *routes_, *policies_, "epoch");
    rollouts_ = std::make_unique<Rollouts>(*rollout_store_, *state_, [this] { return now_ms_; });
    rollouts_->set_listener([this](const std::string&, const model::RolloutState*) { ++kept_; });
    const auto lease = std::get<model::Lease>(state_->grant(60, "vm", kNobody)).id;
    for (const auto& [id, version] : {std::pair{"a", "1"}, {"b", "2"}}) {
      model::Instance in;
      in.service = "emitter";
      in.id = id;
      in.url = std::string("http://10.0.0.1:900") + (version[0] == '1' ? "1" : "2") + "/";
      in.version = version;
      in.lease = lease;
      ASSERT_TRUE(std::holds_alternative<Done>(state_->put_instance(in, kNobody)));
    }
  }

  model::RolloutSpec spec(std::string consumer = "") {
    model::RolloutSpec s;
    s.service = "emitter";
    s.consumer = std::move(consumer);
    s.to = "2";
    s.steps = {10, 50, 100};
    s.interval = 10s;
    s.min_requests = 100;
    return s;
  }

  std::string route() const {
    auto r = state_->route("emitter", "");
    if (!r) return "none";
    std::string out;
    for (const auto& t : r->targets)
      out += (out.empty() ? "" : " ") + t.version + ":" + std::to_string(t.weight);
    return out;
  }

  const model::RolloutState& rollout() const { return *rollouts_->find("emitter"); }

  // Both versions' requests over the `covers_ms` before now, as consumer `from` reports them.
  void report(const std::string& from, model::TrafficCounts canary, model::TrafficCounts stable,
              std::int64_t covers_ms = 1000) {
    rollouts_->on_report(
        from,
        {covers_ms, {{"emitter", "2", std::move(canary)}, {"emitter", "1", std::move(stable)}}});
  }

  test::TempDir dir_;
  FakeClock clock_;
  std::int64_t now_ms_ = 1'700'000'000'000;
  int kept_ = 0;
  std::unique_ptr<RouteStore> routes_;
  std::unique_ptr<PolicyStore> policies_;
  std::unique_ptr<RolloutStore> rollout_store_;
  std::unique_ptr<State> state_;
  std::unique_ptr<Rollouts> rollouts_;
};

TEST_F(RolloutsTest, WithoutARouteTheStableVersionIsTheOnlyOtherOne) {
  // No route: the one version the instances have besides the canary.
  auto started = rollouts_->start(spec());
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(started));
  EXPECT_EQ(std::get<model::RolloutState>(started).spec.from, "1");
  EXPECT_EQ(route(), "2:10 1:90");
  EXPECT_TRUE(rollout().route_applied);
  EXPECT_EQ(rollout().interval_start_ms, now_ms_);
  EXPECT_EQ(kept_, 1);  // one event per decision, though it was kept twice
}

TEST_F(RolloutsTest, WithSeveralOtherVersionsTheRouteSaysWhichIsStable) {
  const auto lease = std::get<model::Lease>(state_->grant(60, "vm", kNobody)).id;
  model::Instance c;
  c.service = "emitter";
  c.id = "c";
  c.url = "http://10.0.0.1:9003/";
  c.version = "3";
  c.lease = lease;
  ASSERT_TRUE(std::holds_alternative<Done>(state_->put_instance(c, kNobody)));
  auto refused = rollouts_->start(spec());
  ASSERT_TRUE(std::holds_alternative<ApiError>(refused));
  EXPECT_EQ(std::get<ApiError>(refused).message,
            "from: needed, since emitter has no route naming a version besides 2 and its "
            "instances have versions 1, 2, 3: say which version is stable");
  EXPECT_EQ(rollouts_->find("emitter"), nullptr);
  ASSERT_TRUE(
      std::holds_alternative<Done>(state_->put_route({"emitter", "", {{"1", 20}, {"3", 80}}, 0})));
  auto started = rollouts_->start(spec());
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(started));
  EXPECT_EQ(std::get<model::RolloutState>(started).spec.from, "3");
  EXPECT_EQ(route(), "2:10 3:90");
}

// A step is judged at the end of its interval once every consumer that sent its versions
// requests has reported since, on what those reports hold of the interval and nothing else.
TEST_F(RolloutsTest, AStepIsJudgedOnItsOwnIntervalsReportsOnceTheyAreIn) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  now_ms_ += 5'000;
  report("web", counts(150, 0), counts(1350, 0), 5'000);
  now_ms_ += 4'999;
  rollouts_->tick();
  EXPECT_EQ(rollout().step, 0u);  // not yet the end of the interval
  now_ms_ += 1;
  rollouts_->tick();
  EXPECT_EQ(rollout().step, 0u);  // web's report of the interval's last 5 s is not in yet
  now_ms_ += 1'000;
  report("web", counts(120, 0), counts(1080, 0), 6'000);  // 5 of its 6 s in the interval
  rollouts_->tick();
  EXPECT_EQ(rollout().step, 1u);
  EXPECT_EQ(route(), "2:50 1:50");
  ASSERT_TRUE(rollout().last);
  EXPECT_EQ(rollout().last->canary.requests, 250u);
  EXPECT_EQ(rollout().last->stable.requests, 2250u);
  // The next step starts from nothing: the first step's requests are not counted again.
  EXPECT_EQ(rollouts_->so_far("emitter").canary.requests, 0u);
  // No report at all: judged when the wait for late reports (the interval, here) is over.
  now_ms_ += 19'999;
  rollouts_->tick();
  EXPECT_EQ(rollout().waits, 0);
  now_ms_ += 1;
  rollouts_->tick();
  EXPECT_EQ(rollout().step, 1u);
  EXPECT_EQ(rollout().waits, 1) << "no report: no evidence";
}

// A judgement waits for the reports that cover the interval's end, and those cover some time
// after it too. When it finds too little traffic and lengthens the interval, that time is
// inside the interval: its requests count, rather than falling between the two.
TEST_F(RolloutsTest, ReportsPastTheEndCountWhenTheIntervalIsLengthened) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  now_ms_ += 5'000;
  report("web", counts(20, 0), counts(180, 0), 5'000);
  now_ms_ += 7'000;
  report("web", counts(50, 0), counts(450, 0), 5'000);  // 3 s of 5 inside, 2 after
  rollouts_->tick();
  EXPECT_EQ(rollout().waits, 1) << "50 of min_requests 100";
  ASSERT_TRUE(rollout().last);
  EXPECT_EQ(rollout().last->canary.requests, 50u);
  EXPECT_EQ(rollouts_->so_far("emitter").canary.requests, 70u);  // the 2 s after, too
  EXPECT_EQ(rollouts_->so_far("emitter").stable.requests, 630u);
  now_ms_ += 5'000;
  report("web", counts(25, 0), counts(225, 0), 5'000);
  now_ms_ += 4'000;
  report("web", counts(12, 0), counts(108, 0), 4'000);  // 3 s of 4 inside
  rollouts_->tick();
  EXPECT_EQ(rollout().step, 1u) << "70 + 25 + 9 requests in the lengthened interval";
  ASSERT_TRUE(rollout().last);
  EXPECT_EQ(rollout().last->canary.requests, 104u);
}

// Live views get a running rollout's figures so far as reports change them, at most once a second.
TEST_F(RolloutsTest, FiguresSoFarAreGivenOutAsReportsChangeThemAtMostOnceASecond) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre());  // nothing reported yet
  now_ms_ += 1'000;
  report("web", counts(10, 0), counts(90, 0));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre("emitter"));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre());  // given out already
  now_ms_ += 500;
  report("web", counts(10, 0), counts(90, 0));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre());  // within the second
  now_ms_ += 500;
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre("emitter"));
  EXPECT_EQ(rollouts_->so_far("emitter").canary.requests, 20u);
  now_ms_ += 1'000;
  report("batch", counts(0, 0), counts(0, 0));  // no requests, or another service's: no change
  rollouts_->on_report("web", {1000, {{"other", "2", counts(5, 0)}}});
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre());
  report("web", counts(10, 0), counts(90, 0));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre("emitter"));
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(
      rollouts_->command("emitter", Rollouts::Command::pause, "token ops")));
  now_ms_ += 1'000;
  report("web", counts(10, 0), counts(90, 0));
  EXPECT_THAT(rollouts_->fresh_figures(), ElementsAre());  // paused: no figures so far
}

// Reports come every few seconds: one that began before the step counts in its share inside it.
TEST_F(RolloutsTest, AReportThatBeganBeforeTheIntervalCountsOnlyItsShareInsideIt) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  now_ms_ += 1'000;
  report("web", counts(400, 40, 20), counts(800, 0, 20), 4'000);  // 1 s of its 4 inside
  const auto so_far = rollouts_->so_far("emitter");
  EXPECT_EQ(so_far.canary.requests, 100u);
  EXPECT_EQ(so_far.canary.errors, 10u);
  EXPECT_EQ(so_far.stable.requests, 200u);
  ASSERT_TRUE(so_far.canary.p99_ms);
  EXPECT_NEAR(*so_far.canary.p99_ms, 20, 10);  // the same shape, within a bucket
}

TEST_F(RolloutsTest, WithAConsumerOnlyThatConsumersReportsCount) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec("web"))));
  EXPECT_EQ(route(), "none");  // everyone's route is untouched
  EXPECT_EQ(state_->route("emitter", "web")->targets.size(), 2u);
  now_ms_ += 10'000;
  report("batch", counts(500, 500), counts(500, 0));  // another consumer's: not counted
  report("web", counts(150, 0), counts(150, 0));
  rollouts_->tick();
  EXPECT_EQ(rollout().phase, RolloutPhase::running);
  EXPECT_EQ(rollout().step, 1u);
  EXPECT_EQ(rollout().last->canary.errors, 0u);
}

TEST_F(RolloutsTest, AFailingCanaryIsAbortedAndTheRouteGoesBackToStable) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  now_ms_ += 10'000;
  report("web", counts(200, 20), counts(1800, 2));
  rollouts_->tick();
  EXPECT_EQ(rollout().phase, RolloutPhase::aborted);
  EXPECT_THAT(rollout().reason,
              HasSubstr("at 10%: error ratio 10.00% (20 of 200 requests) over max_error_ratio"));
  EXPECT_EQ(route(), "1:100");
  // An ended rollout may make way for a new one.
  EXPECT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
}

TEST_F(RolloutsTest, APersonsRouteChangePausesItAndResumeSetsTheStepAgain) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  ASSERT_TRUE(std::holds_alternative<Done>(state_->put_route({"emitter", "", {{"1", 100}}, 0})));
  ASSERT_EQ(rollouts_->pause_for_route_change("emitter", "token ops"), std::nullopt);
  EXPECT_EQ(rollout().phase, RolloutPhase::paused);
  EXPECT_THAT(rollout().reason,
              HasSubstr("paused for a route change by token ops at step 1 of 3 (10%)"));
  EXPECT_EQ(route(), "1:100");
  now_ms_ += 60'000;
  rollouts_->tick();  // paused: nothing is judged
  EXPECT_EQ(rollout().phase, RolloutPhase::paused);
  auto resumed = rollouts_->command("emitter", Rollouts::Command::resume, "token ops");
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(resumed));
  EXPECT_EQ(route(), "2:10 1:90");
  EXPECT_EQ(rollout().interval_start_ms, now_ms_);
}

// The person wins only if the rollout is paused first: a pause that cannot be kept (a full disk)
// refuses the route change, and the rollout goes on as it was.
TEST_F(RolloutsTest, APauseThatCannotBeKeptRefusesTheRouteChange) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  const int kept_before = kept_;
  std::optional<ApiError> refused;
  {
    test::FileSizeLimit full(fs::file_size(dir_.path() / "rollouts.log"));
    refused = rollouts_->pause_for_route_change("emitter", "token ops");
  }
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->code, "store_failed");
  EXPECT_THAT(refused->message,
              HasSubstr("the rollout of emitter could not be paused, so the route was not "
                        "changed: rollout not saved: "));
  EXPECT_EQ(rollout().phase, RolloutPhase::running);
  EXPECT_EQ(kept_, kept_before);
  open();  // and on disk
  EXPECT_EQ(rollout().phase, RolloutPhase::running);
}

// A rollout that cannot be kept does not start, and leaves no route of its own behind.
TEST_F(RolloutsTest, ARolloutThatCannotBeKeptLeavesTheRouteAsItWas) {
  // An earlier rollout, paused and aborted by someone with a long name, makes rollouts.log the
  // larger file, so that a file size limit can stop its writes and not those of routes.log.
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  const std::string someone(4000, 'x');
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(
      rollouts_->command("emitter", Rollouts::Command::pause, someone)));
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(
      rollouts_->command("emitter", Rollouts::Command::abort, someone)));
  ASSERT_TRUE(std::holds_alternative<Done>(rollouts_->remove("emitter")));
  // Set again by hand: a rollback now goes to 100 % version 1, not to any step's route.
  ASSERT_TRUE(std::holds_alternative<Done>(state_->put_route({"emitter", "", {{"1", 100}}, 0})));
  const auto replaced = state_->previous_route("emitter", "");
  ASSERT_TRUE(replaced.targets);
  ASSERT_EQ(replaced.targets->size(), 1u);
  const auto revision = state_->revision();
  const auto rollouts_size = fs::file_size(dir_.path() / "rollouts.log");
  ASSERT_LT(fs::file_size(dir_.path() / "routes.log") + 1000, rollouts_size);
  Outcome<model::RolloutState> started;
  {
    test::FileSizeLimit full(rollouts_size + 10);  // too little for a rollout record
    started = rollouts_->start(spec());
  }
  ASSERT_TRUE(std::holds_alternative<ApiError>(started));
  EXPECT_EQ(std::get<ApiError>(started).status, 503);
  EXPECT_THAT(std::get<ApiError>(started).message, HasSubstr("rollout not saved: "));
  EXPECT_EQ(rollouts_->find("emitter"), nullptr);
  EXPECT_EQ(route(), "1:100");
  EXPECT_EQ(state_->revision(), revision + 2) << "set, then put back";
  // As it was: a rollback goes where it went before the start, not to the first step's route.
  EXPECT_EQ(state_->previous_route("emitter", "").targets, replaced.targets);
  open();
  EXPECT_EQ(rollouts_->find("emitter"), nullptr);
  EXPECT_EQ(route(), "1:100");
  EXPECT_EQ(state_->previous_route("emitter", "").targets, replaced.targets);
}

TEST_F(RolloutsTest, ARestartStartsTheRunningStepsIntervalAgainAndKeepsItsRoute) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  now_ms_ += 8'000;
  report("web", counts(150, 0), counts(1350, 0));
  open();  // the directory restarts: its reports are gone
  EXPECT_EQ(route(), "2:10 1:90");
  EXPECT_TRUE(rollouts_->recover().empty());
  EXPECT_EQ(rollout().step, 0u);
  EXPECT_EQ(rollout().interval_start_ms, now_ms_);
  now_ms_ += 2'000;
  rollouts_->tick();  // the old interval's end: not judged on half the evidence
  EXPECT_EQ(rollout().waits, 0);
  EXPECT_EQ(rollout().step, 0u);
}

TEST_F(RolloutsTest, ARestartSetsAStepsRouteThatMayNotHaveBeenSet) {
  // As kept between "the next step" and "its route applied": the route is still step 1's.
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  auto mid = rollout();
  mid.step = 1;
  mid.route_applied = false;
  ASSERT_FALSE(rollout_store_->put(mid));
  open();
  EXPECT_EQ(route(), "2:10 1:90");
  EXPECT_TRUE(rollouts_->recover().empty());
  EXPECT_EQ(route(), "2:50 1:50");
  EXPECT_TRUE(rollout().route_applied);
}

// The directory died after setting an abort's route and before keeping the abort: a restart
// must not take the rollout up again on a route that gives the canary nothing.
TEST_F(RolloutsTest, ARestartFinishesAnAbortWhoseRouteWasSetButNotKept) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  ASSERT_TRUE(std::holds_alternative<Done>(state_->put_route({"emitter", "", {{"1", 100}}, 0})));
  open();
  EXPECT_TRUE(rollouts_->recover().empty());
  EXPECT_EQ(rollout().phase, RolloutPhase::aborted);
  EXPECT_THAT(rollout().reason, HasSubstr("the route was back at 100% version 1"));
  EXPECT_EQ(route(), "1:100");
}

// A route that is none of the rollout's own (a person's, whose pause died with the directory)
// pauses it after a restart, the route as the person left it.
TEST_F(RolloutsTest, ARestartPausesARolloutWhoseRouteIsNoneOfItsOwn) {
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  ASSERT_TRUE(
      std::holds_alternative<Done>(state_->put_route({"emitter", "", {{"2", 25}, {"1", 75}}, 0})));
  open();
  EXPECT_TRUE(rollouts_->recover().empty());
  EXPECT_EQ(rollout().phase, RolloutPhase::paused);
  EXPECT_EQ(route(), "2:25 1:75");
}

TEST_F(RolloutsTest, CommandsAndRemovalSayWhatTheRolloutIs) {
  auto none = rollouts_->command("emitter", Rollouts::Command::pause, "token ops");
  ASSERT_TRUE(std::holds_alternative<ApiError>(none));
  EXPECT_EQ(std::get<ApiError>(none).status, 404);
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(rollouts_->start(spec())));
  auto resume = rollouts_->command("emitter", Rollouts::Command::resume, "token ops");
  ASSERT_TRUE(std::holds_alternative<ApiError>(resume));
  EXPECT_EQ(std::get<ApiError>(resume).message,
            "the rollout of emitter is running; only a paused one can be told to resume");
  auto pause = rollouts_->command("emitter", Rollouts::Command::pause, "token ops");
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(pause));
  auto again = rollouts_->command("emitter", Rollouts::Command::pause, "token ops");
  ASSERT_TRUE(std::holds_alternative<ApiError>(again));
  EXPECT_EQ(std::get<ApiError>(again).message,
            "the rollout of emitter is paused; only a running one can be told to pause");
  auto busy = rollouts_->remove("emitter");
  ASSERT_TRUE(std::holds_alternative<ApiError>(busy));
  EXPECT_EQ(std::get<ApiError>(busy).status, 409);
  auto promoted = rollouts_->command("emitter", Rollouts::Command::promote, "token ops");
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(promoted));
  EXPECT_EQ(rollout().reason, "promoted by token ops at step 1 of 3 (10%)");
  EXPECT_EQ(route(), "2:100");
  EXPECT_TRUE(std::holds_alternative<Done>(rollouts_->remove("emitter")));
  EXPECT_EQ(rollouts_->find("emitter"), nullptr);
}

}  // namespace
}  // namespace dstack::directory
