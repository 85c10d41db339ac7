// SPDX-License-Identifier: Apache-2.0
// When sherlock starts, updates, reloads or waits for HAProxy (docs/sherlock.md#update-rules),
// step by step with a fake clock: HaproxyDecider holds every such rule and no I/O, so each rule
// is one short story of events and the step that follows them.
#include "sherlock/haproxy_decider.hpp"

#include <gtest/gtest.h>

#include <ostream>

namespace dstack::sherlock {
namespace {

using namespace std::chrono_literals;
using Kind = HaproxyStep::Kind;
using Start = HaproxyDecider::StartOutcome;
using Reload = HaproxyDecider::ReloadOutcome;
using TimePoint = HaproxyDecider::TimePoint;

constexpr auto kMinReload = 500ms;

}  // namespace

// Readable failures: the step's kind, until (ms from the test's start) and reason.
void PrintTo(const HaproxyStep& s, std::ostream* os) {
  static const char* kNames[] = {"start",  "wait_backoff",  "apply_runtime_part",
                                 "reload", "apply_runtime", "retry_deletes",
                                 "sleep",  "exit"};
  *os << kNames[static_cast<int>(s.kind)] << " until ";
  if (s.until == HaproxyDecider::TimePoint::max())
    *os << "max";
  else
    *os << std::chrono::duration_cast<std::chrono::milliseconds>(
               s.until - HaproxyDecider::TimePoint(std::chrono::hours(1)))
               .count()
        << "ms";
  if (!s.reason.empty()) *os << " (" << s.reason << ")";
}

namespace {

// Full backoff with no jitter: the waits are 100, 200, 400 ms...
Backoff no_jitter() {
  return Backoff(100ms, 1s, [](std::int64_t hi) { return hi; });
}

class DeciderTest : public ::testing::Test {
 protected:
  HaproxyDecider d{kMinReload, no_jitter()};
  TimePoint now{std::chrono::hours(1)};

  HaproxyStep next(bool structural = false) const { return d.next(now, structural); }
  Kind kind(bool structural = false) const { return next(structural).kind; }

  // HAProxy started with the first plan, at `now`.
  void started() {
    d.plan_submitted();
    ASSERT_EQ(kind(), Kind::start);
    d.started(d.generation(), Start::up, now);
  }
};

TEST_F(DeciderTest, StartsFirstThenSleepsUntilSomethingHappens) {
  d.plan_submitted();
  EXPECT_EQ(kind(), Kind::start);
  d.started(1, Start::up, now);
  EXPECT_TRUE(d.running());
  EXPECT_EQ(next(), (HaproxyStep{Kind::sleep}));
}

TEST_F(DeciderTest, InstanceChangesGoThroughTheRuntimeApiAtOnce) {
  started();
  d.plan_submitted();
  EXPECT_EQ(kind(), Kind::apply_runtime);
  d.runtime_applied(d.generation(), false, false, now);
  EXPECT_EQ(kind(), Kind::sleep);
}

TEST_F(DeciderTest, AStructuralChangeWaitsForTheReloadSlotAndSendsItsRuntimePartFirst) {
  started();  // the slot opens kMinReload after the start
  d.plan_submitted();
  EXPECT_EQ(kind(true), Kind::apply_runtime_part);
  d.runtime_applied(d.generation(), true, false, now);
  EXPECT_EQ(next(true), (HaproxyStep{Kind::sleep, now + kMinReload}));
  now += kMinReload;
  EXPECT_EQ(next(true),
            (HaproxyStep{Kind::reload, TimePoint::max(), "services or listeners changed"}));
}

TEST_F(DeciderTest, ChangesDuringTheWaitAreCoalescedIntoOneReload) {
  started();
  for (int i = 0; i < 3; ++i) {
    d.plan_submitted();  // each newer plan: its runtime part, then back to waiting
    EXPECT_EQ(kind(true), Kind::apply_runtime_part);
    d.runtime_applied(d.generation(), true, false, now);
    EXPECT_EQ(kind(true), Kind::sleep);
    now += 100ms;
  }
  now += kMinReload;
  ASSERT_EQ(kind(true), Kind::reload);
  d.reloaded(d.generation(), Reload::ok, now);
  EXPECT_EQ(kind(false), Kind::sleep);  // one reload took all three plans
}

TEST_F(DeciderTest, ReloadsAreAtMostOnePerMinReloadInterval) {
  started();
  now += kMinReload;
  d.plan_submitted();
  d.runtime_applied(d.generation(), true, false, now);
  ASSERT_EQ(kind(true), Kind::reload);
  d.reloaded(d.generation(), Reload::ok, now);
  d.plan_submitted();
  d.runtime_applied(d.generation(), true, false, now);
  EXPECT_EQ(next(true), (HaproxyStep{Kind::sleep, now + kMinReload}));
}

TEST_F(DeciderTest, ARefusedPlanIsNotRetriedButANewerOneIs) {
  started();
  now += kMinReload;
  d.plan_submitted();
  d.runtime_applied(d.generation(), true, false, now);
  ASSERT_EQ(kind(true), Kind::reload);
  d.reloaded(d.generation(), Reload::config_refused, now);
  EXPECT_EQ(next(true), (HaproxyStep{Kind::sleep}));  // until another plan
  now += 10 * kMinReload;
  EXPECT_EQ(kind(true), Kind::sleep);
  d.plan_submitted();
  EXPECT_EQ(kind(true), Kind::apply_runtime_part);
  d.runtime_applied(d.generation(), true, false, now);
  EXPECT_EQ(kind(true), Kind::reload);
}

TEST_F(DeciderTest, ARuntimeRefusalAsksForAReloadWithItsReason) {
  started();
  d.plan_submitted();
  ASSERT_EQ(kind(), Kind::apply_runtime);
  d.runtime_refused("a runtime command was refused");
  d.runtime_applied(d.generation(), false, false, now);
  EXPECT_TRUE(d.reload_wanted());
  EXPECT_EQ(kind(), Kind::apply_runtime_part);
  d.runtime_applied(d.generation(), true, false, now);
  now += kMinReload;
  EXPECT_EQ(next(), (HaproxyStep{Kind::reload, TimePoint::max(), "a runtime command was refused"}));
  d.reloaded(d.generation(), Reload::ok, now);
  EXPECT_FALSE(d.reload_wanted());
  EXPECT_EQ(kind(), Kind::sleep);
}

TEST_F(DeciderTest, TheFirstReasonForAReloadStaysUnlessARefusalReplacesIt) {
  started();
  d.reload_needed("a server's TLS settings changed");
  d.reload_needed("something else");
  d.runtime_applied(d.generation(), true, false, now);
  now += kMinReload;
  EXPECT_EQ(next().reason, "a server's TLS settings changed");
  d.runtime_refused("the runtime API failed");
  EXPECT_EQ(next().reason, "the runtime API failed");
}

TEST_F(DeciderTest, ServersStillHoldingConnectionsAreRetriedEverySecond) {
  started();
  d.plan_submitted();
  d.runtime_applied(d.generation(), false, /*lingering=*/true, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::sleep, now + HaproxyDecider::kDeleteRetry}));
  now += HaproxyDecider::kDeleteRetry;
  EXPECT_EQ(kind(), Kind::retry_deletes);
  d.deletes_retried(true, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::sleep, now + HaproxyDecider::kDeleteRetry}));
  now += HaproxyDecider::kDeleteRetry;
  d.deletes_retried(false, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::sleep}));
}

TEST_F(DeciderTest, AFailedStartIsRetriedAfterABackoffThatGrowsAndResetsOnSuccess) {
  d.plan_submitted();
  d.started(1, Start::failed, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::wait_backoff, now + 100ms}));
  now += 100ms;
  EXPECT_EQ(kind(), Kind::start);
  d.started(1, Start::failed, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::wait_backoff, now + 200ms}));
  d.plan_submitted();  // plans do not cut the wait short
  EXPECT_EQ(next(), (HaproxyStep{Kind::wait_backoff, now + 200ms}));
  now += 200ms;
  d.started(2, Start::up, now);
  d.haproxy_exited();
  d.started(2, Start::failed, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::wait_backoff, now + 100ms})) << "backoff not reset";
}

TEST_F(DeciderTest, AStartWhoseConfigIsRefusedWaitsForANewPlanNotABackoff) {
  d.plan_submitted();
  d.started(1, Start::config_refused, now);
  EXPECT_EQ(next(), (HaproxyStep{Kind::sleep}));
  d.plan_submitted();
  EXPECT_EQ(kind(), Kind::start);
}

TEST_F(DeciderTest, HaproxyExitingMeansStartingAgainAtOnce) {
  started();
  d.haproxy_exited();
  EXPECT_FALSE(d.running());
  EXPECT_EQ(kind(), Kind::start);
}

TEST_F(DeciderTest, ATakeoverWhoseReloadWasRefusedServesOnAndWaitsForANewPlan) {
  d.plan_submitted();
  d.started(1, Start::up_but_refused, now);
  EXPECT_TRUE(d.running());
  EXPECT_EQ(kind(true), Kind::apply_runtime_part);
  d.runtime_applied(1, true, false, now);
  EXPECT_EQ(kind(true), Kind::sleep);
  now += 10 * kMinReload;
  EXPECT_EQ(kind(true), Kind::sleep);
}

TEST_F(DeciderTest, AnOutcomeForAnOlderPlanDoesNotMarkTheNewerOneDone) {
  started();
  d.plan_submitted();  // generation 2 is being applied...
  const auto gen = d.generation();
  d.plan_submitted();  // ...when generation 3 arrives
  d.runtime_applied(gen, false, false, now);
  EXPECT_EQ(kind(), Kind::apply_runtime);
  d.runtime_applied(d.generation(), false, false, now);
  EXPECT_EQ(kind(), Kind::sleep);
}

TEST_F(DeciderTest, AStopEndsEverything) {
  d.plan_submitted();
  d.started(1, Start::failed, now);
  d.stop();
  EXPECT_EQ(kind(), Kind::exit);
  EXPECT_EQ(kind(true), Kind::exit);
}

}  // namespace
}  // namespace dstack::sherlock
