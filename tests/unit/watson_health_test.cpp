// SPDX-License-Identifier: Apache-2.0
// watson's health policy: thresholds that decide registration, and the rules that turn raw check
// results into a status and the text the status page shows. No sockets, no clock.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "watson/check_result.hpp"
#include "watson/health_state.hpp"

namespace dstack::watson {

void PrintTo(Transition t, std::ostream* os) {
  *os << to_string(t);
}
void PrintTo(CheckStatus s, std::ostream* os) {
  *os << to_string(s);
}
void PrintTo(const CheckOutcome& o, std::ostream* os) {
  *os << to_string(o.status) << " \"" << o.output << "\"";
}

namespace {

using namespace std::chrono_literals;
using model::Health;
using T = Transition;
constexpr auto pass = CheckStatus::passing;
constexpr auto warn = CheckStatus::warning;
constexpr auto fail = CheckStatus::critical;

// Feeds results and returns the transitions, so a sequence and its effects read side by side.
std::vector<T> feed(HealthState& h, std::vector<CheckStatus> results) {
  std::vector<T> out;
  for (auto s : results) out.push_back(h.record(s));
  return out;
}

HealthState routable_state(int rise, int fall) {
  HealthState h(rise, fall);
  for (int i = 0; i < rise; ++i) h.record(pass);
  EXPECT_TRUE(h.routable());
  return h;
}

// ---- thresholds ----

TEST(HealthStateTest, StartsUnroutableWithNoCheck) {
  HealthState h(2, 3);
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.health(), Health::critical);
  EXPECT_EQ(h.summary(), "no check yet");
  EXPECT_FALSE(h.last_status());
  EXPECT_EQ(h.checks(), 0u);
}

TEST(HealthStateTest, RiseNeedsConsecutivePasses) {
  HealthState h(2, 3);
  EXPECT_EQ(feed(h, {pass, fail, pass}), (std::vector<T>{T::none, T::none, T::none}));
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.summary(), "critical; 1 of 2 passes before registering");
  EXPECT_EQ(h.record(pass), T::became_routable);
  EXPECT_TRUE(h.routable());
  EXPECT_EQ(h.health(), Health::passing);
}

TEST(HealthStateTest, BecomesRoutableExactlyOnce) {
  HealthState h(2, 3);
  EXPECT_EQ(feed(h, {pass, pass, pass, pass}),
            (std::vector<T>{T::none, T::became_routable, T::none, T::none}));
  EXPECT_EQ(h.summary(), "passing");
}

TEST(HealthStateTest, FallNeedsConsecutiveFailures) {
  HealthState h = routable_state(2, 3);
  EXPECT_EQ(feed(h, {fail, fail}), (std::vector<T>{T::none, T::none}));
  // Blips below the threshold are hidden: still routable, still passing.
  EXPECT_TRUE(h.routable());
  EXPECT_EQ(h.health(), Health::passing);
  EXPECT_EQ(h.summary(), "passing; 2 of 3 failures before removal");
  EXPECT_EQ(h.record(fail), T::became_unroutable);
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.health(), Health::critical);
  EXPECT_EQ(h.summary(), "critical");
  EXPECT_EQ(feed(h, {fail, fail}), (std::vector<T>{T::none, T::none}));
}

TEST(HealthStateTest, APassResetsTheFailureCount) {
  HealthState h = routable_state(2, 3);
  EXPECT_EQ(feed(h, {fail, fail, pass, fail, fail}),
            (std::vector<T>{T::none, T::none, T::none, T::none, T::none}));
  EXPECT_TRUE(h.routable());
  EXPECT_EQ(h.record(fail), T::became_unroutable);
}

TEST(HealthStateTest, AfterFallingTheFullRiseIsNeededAgain) {
  HealthState h = routable_state(3, 1);
  EXPECT_EQ(h.record(fail), T::became_unroutable);
  EXPECT_EQ(feed(h, {pass, pass, pass}), (std::vector<T>{T::none, T::none, T::became_routable}));
}

TEST(HealthStateTest, FlappingNeverRegisters) {
  HealthState h(2, 2);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(h.record(pass), T::none);
    EXPECT_EQ(h.record(fail), T::none);
  }
  EXPECT_FALSE(h.routable());
}

TEST(HealthStateTest, FlappingNeverDeregisters) {
  HealthState h = routable_state(2, 2);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(h.record(fail), T::none);
    EXPECT_EQ(h.record(pass), T::none);
  }
  EXPECT_TRUE(h.routable());
}

TEST(HealthStateTest, RiseAndFallOfOneReactAtOnce) {
  HealthState h(1, 1);
  EXPECT_EQ(feed(h, {pass, fail, pass, pass, fail, fail}),
            (std::vector<T>{T::became_routable, T::became_unroutable, T::became_routable, T::none,
                            T::became_unroutable, T::none}));
}

TEST(HealthStateTest, CheckNoneIsOnePassWithRiseOne) {
  HealthState h(1, 1);
  EXPECT_EQ(h.record(pass), T::became_routable);
  EXPECT_EQ(h.health(), Health::passing);
}

TEST(HealthStateTest, CountsAndLastStatus) {
  HealthState h(2, 3);
  feed(h, {pass, warn});
  EXPECT_EQ(h.consecutive_passes(), 2);
  EXPECT_EQ(h.consecutive_failures(), 0);
  EXPECT_EQ(h.last_status(), warn);
  feed(h, {fail, fail});
  EXPECT_EQ(h.consecutive_passes(), 0);
  EXPECT_EQ(h.consecutive_failures(), 2);
  EXPECT_EQ(h.last_status(), fail);
  EXPECT_EQ(h.checks(), 4u);
}

// ---- warning ----

TEST(HealthStateTest, WarningsCountTowardRise) {
  HealthState h(2, 3);
  EXPECT_EQ(feed(h, {warn, pass}), (std::vector<T>{T::none, T::became_routable}));
  EXPECT_EQ(h.health(), Health::passing);
  HealthState w(2, 3);
  EXPECT_EQ(feed(w, {pass, warn}), (std::vector<T>{T::none, T::became_routable}));
  EXPECT_EQ(w.health(), Health::warning);
  EXPECT_EQ(w.summary(), "warning");
}

TEST(HealthStateTest, PassingAndWarningSwitchAtOnceAndOnce) {
  HealthState h = routable_state(2, 3);
  EXPECT_EQ(
      feed(h, {warn, warn, pass, pass, warn}),
      (std::vector<T>{T::health_changed, T::none, T::health_changed, T::none, T::health_changed}));
  EXPECT_EQ(h.health(), Health::warning);
}

TEST(HealthStateTest, FailuresBelowFallKeepTheLastHealth) {
  HealthState h = routable_state(1, 3);
  h.record(warn);
  EXPECT_EQ(feed(h, {fail, fail}), (std::vector<T>{T::none, T::none}));
  EXPECT_EQ(h.health(), Health::warning);
  EXPECT_EQ(h.summary(), "warning; 2 of 3 failures before removal");
  EXPECT_EQ(h.record(pass), T::health_changed);
}

TEST(HealthStateTest, WarningsWhileUnroutableAreNotReported) {
  HealthState h(3, 1);
  EXPECT_EQ(feed(h, {warn, pass}), (std::vector<T>{T::none, T::none}));
  EXPECT_EQ(h.health(), Health::critical);
}

// ---- maintenance ----

TEST(HealthStateTest, MaintenanceTakesARoutableInstanceOut) {
  HealthState h = routable_state(2, 3);
  EXPECT_EQ(h.set_maintenance(true, "kernel upgrade"), T::became_unroutable);
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.health(), Health::maintenance);
  EXPECT_TRUE(h.maintenance());
  EXPECT_EQ(h.maintenance_reason(), "kernel upgrade");
  EXPECT_EQ(h.summary(), "maintenance: kernel upgrade");
  // Results keep coming in but change nothing the directory sees.
  EXPECT_EQ(feed(h, {pass, warn, pass}), (std::vector<T>{T::none, T::none, T::none}));
  EXPECT_EQ(h.health(), Health::maintenance);
  EXPECT_EQ(h.set_maintenance(false), T::became_routable);
  EXPECT_EQ(h.health(), Health::passing);
  EXPECT_EQ(h.maintenance_reason(), "");
  EXPECT_EQ(h.summary(), "passing");
}

TEST(HealthStateTest, MaintenanceOnAnUnroutableInstanceChangesNoRouting) {
  HealthState h(2, 3);
  h.record(pass);
  EXPECT_EQ(h.set_maintenance(true), T::none);
  EXPECT_EQ(h.health(), Health::maintenance);
  EXPECT_EQ(h.summary(), "maintenance");
  EXPECT_EQ(h.set_maintenance(false), T::none);
  EXPECT_EQ(h.health(), Health::critical);
  EXPECT_EQ(h.summary(), "critical; 1 of 2 passes before registering");
}

TEST(HealthStateTest, ThresholdsRunUnderMaintenance) {
  HealthState h(2, 3);
  h.set_maintenance(true);
  EXPECT_EQ(feed(h, {pass, pass}), (std::vector<T>{T::none, T::none}));
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.set_maintenance(false), T::became_routable);
}

TEST(HealthStateTest, LeavingMaintenanceAfterFallingStaysOut) {
  HealthState h = routable_state(2, 3);
  h.set_maintenance(true);
  feed(h, {fail, fail, fail});
  EXPECT_EQ(h.set_maintenance(false), T::none);
  EXPECT_FALSE(h.routable());
  EXPECT_EQ(h.health(), Health::critical);
}

TEST(HealthStateTest, LeavingMaintenanceBelowFallIsRoutableAtOnce) {
  HealthState h = routable_state(2, 3);
  h.set_maintenance(true);
  feed(h, {fail, fail});
  EXPECT_EQ(h.set_maintenance(false), T::became_routable);
  EXPECT_EQ(h.health(), Health::passing);
  EXPECT_EQ(h.record(fail), T::became_unroutable);
}

TEST(HealthStateTest, LeavingMaintenanceShowsTheLatestHealth) {
  HealthState h = routable_state(2, 3);
  h.set_maintenance(true);
  h.record(warn);
  EXPECT_EQ(h.set_maintenance(false), T::became_routable);
  EXPECT_EQ(h.health(), Health::warning);
}

TEST(HealthStateTest, MaintenanceBeforeAnyCheck) {
  HealthState h(1, 1);
  EXPECT_EQ(h.set_maintenance(true, "not yet"), T::none);
  EXPECT_EQ(h.set_maintenance(false), T::none);
  EXPECT_EQ(h.summary(), "no check yet");
}

TEST(HealthStateTest, MaintenanceOnTwiceUpdatesTheReasonOnly) {
  HealthState h = routable_state(1, 1);
  EXPECT_EQ(h.set_maintenance(true, "a"), T::became_unroutable);
  EXPECT_EQ(h.set_maintenance(true, "b"), T::none);
  EXPECT_EQ(h.maintenance_reason(), "b");
  EXPECT_EQ(h.set_maintenance(false), T::became_routable);
  EXPECT_EQ(h.set_maintenance(false), T::none);
}

// ---- evaluators ----

CheckOutcome passing(std::string out) {
  return {CheckStatus::passing, std::move(out)};
}
CheckOutcome warning(std::string out) {
  return {CheckStatus::warning, std::move(out)};
}
CheckOutcome critical(std::string out) {
  return {CheckStatus::critical, std::move(out)};
}

TEST(EvaluateHttpTest, AnyTwoHundredByDefault) {
  EXPECT_EQ(evaluate_http(200, "", {}, ""), passing("HTTP 200"));
  EXPECT_EQ(evaluate_http(204, "", {}, ""), passing("HTTP 204"));
  EXPECT_EQ(evaluate_http(299, "", {}, ""), passing("HTTP 299"));
  EXPECT_EQ(evaluate_http(199, "", {}, ""), critical("HTTP 199, expected 2xx"));
  EXPECT_EQ(evaluate_http(503, "", {}, ""), critical("HTTP 503, expected 2xx"));
  EXPECT_EQ(evaluate_http(404, "", {}, ""), critical("HTTP 404, expected 2xx"));
}

TEST(EvaluateHttpTest, RedirectsFailUnlessListed) {
  EXPECT_EQ(evaluate_http(302, "", {}, ""),
            critical("HTTP 302, expected 2xx (redirects are not followed)"));
  EXPECT_EQ(evaluate_http(300, "", {}, ""),
            critical("HTTP 300, expected 2xx (redirects are not followed)"));
  EXPECT_EQ(evaluate_http(399, "", {}, ""),
            critical("HTTP 399, expected 2xx (redirects are not followed)"));
  EXPECT_EQ(evaluate_http(400, "", {}, ""), critical("HTTP 400, expected 2xx"));
  EXPECT_EQ(evaluate_http(301, "", {200}, ""),
            critical("HTTP 301, expected 200 (redirects are not followed)"));
  EXPECT_EQ(evaluate_http(301, "", {200, 301}, ""), passing("HTTP 301"));
}

TEST(EvaluateHttpTest, ListedStatusesOnly) {
  EXPECT_EQ(evaluate_http(204, "", {200}, ""), critical("HTTP 204, expected 200"));
  EXPECT_EQ(evaluate_http(500, "", {200, 204}, ""), critical("HTTP 500, expected 200 or 204"));
  EXPECT_EQ(evaluate_http(500, "", {200, 204, 429}, ""),
            critical("HTTP 500, expected 200, 204 or 429"));
  EXPECT_EQ(evaluate_http(503, "", {503}, ""), passing("HTTP 503"));
}

TEST(EvaluateHttpTest, BodySubstring) {
  EXPECT_EQ(evaluate_http(200, "status: ok\n", {}, "ok"), passing("HTTP 200\nstatus: ok"));
  EXPECT_EQ(evaluate_http(200, "degraded", {}, "ok"),
            critical("HTTP 200, body lacks \"ok\"\ndegraded"));
  EXPECT_EQ(evaluate_http(200, "", {}, "ok"), critical("HTTP 200, body lacks \"ok\""));
  // The status is judged first; its message is the useful one.
  EXPECT_EQ(evaluate_http(500, "oops", {}, "ok"), critical("HTTP 500, expected 2xx\noops"));
}

TEST(EvaluateHttpTest, BodyFollowsTheVerdictTrimmed) {
  EXPECT_EQ(evaluate_http(503, "Service Unavailable\r\n\r\n", {}, ""),
            critical("HTTP 503, expected 2xx\nService Unavailable"));
  EXPECT_EQ(evaluate_http(200, " \n\t", {}, ""), passing("HTTP 200"));
}

TEST(EvaluateHttpTest, HugeBodyIsBounded) {
  std::string body(100 * 1024, 'x');
  auto o = evaluate_http(200, body, {}, "");
  EXPECT_EQ(o.status, CheckStatus::passing);
  EXPECT_EQ(o.output.size(), kMaxCheckOutput);
  EXPECT_EQ(o.output.substr(0, 10), "HTTP 200\nx");
  EXPECT_EQ(o.output.substr(o.output.size() - 4), "x...");
}

TEST(HttpFailureTest, IsCriticalWithTheReason) {
  EXPECT_EQ(http_failure("connection refused"), critical("connection refused"));
  EXPECT_EQ(http_failure("timed out after 1s"), critical("timed out after 1s"));
  EXPECT_EQ(http_failure("body over 64 KiB"), critical("body over 64 KiB"));
  EXPECT_EQ(http_failure(""), critical("request failed"));
  EXPECT_EQ(http_failure("bad\x1b[31m"), critical("bad?[31m"));
}

TEST(EvaluateExecTest, ExitCodes) {
  EXPECT_EQ(evaluate_exec(0, false, 1s, "OK - 3 queues\n"), passing("exit 0\nOK - 3 queues"));
  EXPECT_EQ(evaluate_exec(0, false, 1s, ""), passing("exit 0"));
  EXPECT_EQ(evaluate_exec(1, false, 1s, "WARN - disk 85%\n"), warning("exit 1\nWARN - disk 85%"));
  EXPECT_EQ(evaluate_exec(2, false, 1s, "CRIT - disk 99%"), critical("exit 2\nCRIT - disk 99%"));
  EXPECT_EQ(evaluate_exec(127, false, 1s, ""), critical("exit 127"));
}

TEST(EvaluateExecTest, KilledBySignal) {
  EXPECT_EQ(evaluate_exec(-9, false, 1s, ""), critical("killed by signal 9"));
  EXPECT_EQ(evaluate_exec(-11, false, 1s, "partial"), critical("killed by signal 11\npartial"));
}

TEST(EvaluateExecTest, TimeoutWinsOverTheKillSignal) {
  EXPECT_EQ(evaluate_exec(-9, true, 1s, ""), critical("timed out after 1s"));
  EXPECT_EQ(evaluate_exec(0, true, Duration(1500), "started\n"),
            critical("timed out after 1500ms\nstarted"));
}

TEST(EvaluateTcpTest, ConnectedOrWhy) {
  EXPECT_EQ(evaluate_tcp(true, ""), passing("connected"));
  EXPECT_EQ(evaluate_tcp(true, "connected to 127.0.0.1:6379"),
            passing("connected to 127.0.0.1:6379"));
  EXPECT_EQ(evaluate_tcp(false, "connection refused"), critical("connection refused"));
  EXPECT_EQ(evaluate_tcp(false, ""), critical("connect failed"));
}

// ---- output bounding and sanitising ----

TEST(BoundOutputTest, KeepsPrintableTextNewlinesAndTabs) {
  EXPECT_EQ(bound_output("a\tb\nc"), "a\tb\nc");
  EXPECT_EQ(bound_output("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(bound_output(""), "");
}

TEST(BoundOutputTest, ReplacesControlCharacters) {
  EXPECT_EQ(bound_output(std::string_view("a\0b", 3)), "a?b");
  EXPECT_EQ(bound_output("a\rb\x1b\x7f\x01"), "a?b???");
  EXPECT_EQ(bound_output("x\xc2\x85y"), "x?y");  // C1 NEL
}

TEST(BoundOutputTest, ReplacesInvalidUtf8ByteByByte) {
  EXPECT_EQ(bound_output("\xff"), "?");
  EXPECT_EQ(bound_output("a\xc3"), "a?");               // cut short
  EXPECT_EQ(bound_output("\xc0\xaf"), "??");            // overlong
  EXPECT_EQ(bound_output("\xe0\x80\xaf"), "???");       // overlong
  EXPECT_EQ(bound_output("\xed\xa0\x80"), "???");       // surrogate
  EXPECT_EQ(bound_output("\xf4\x90\x80\x80"), "????");  // past U+10FFFF
  EXPECT_EQ(bound_output("\x80z"), "?z");
}

TEST(BoundOutputTest, AnyBytesMakeValidJson) {
  // The status page is JSON; one bad byte from a check must not break it.
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_NO_THROW(nlohmann::json(bound_output(all)).dump());
}

TEST(BoundOutputTest, ExactlyTheLimitIsKept) {
  std::string s(kMaxCheckOutput, 'a');
  EXPECT_EQ(bound_output(s), s);
}

TEST(BoundOutputTest, OverTheLimitIsCutWithDots) {
  std::string s(kMaxCheckOutput + 1, 'a');
  EXPECT_EQ(bound_output(s), std::string(kMaxCheckOutput - 3, 'a') + "...");
  EXPECT_EQ(bound_output(std::string(1 << 20, 'b')).size(), kMaxCheckOutput);
}

TEST(BoundOutputTest, CutsAtACharacterBoundary) {
  // A euro sign straddling the cut is dropped whole rather than split.
  std::string s = std::string(kMaxCheckOutput - 4, 'a') + "\xe2\x82\xac" + "tail";
  EXPECT_EQ(bound_output(s), std::string(kMaxCheckOutput - 4, 'a') + "...");
}

// A reloaded definition with new rise/fall keeps the history: a healthy instance stays
// registered, one still rising may now be enough, and one with failures may now be too many.
TEST(HealthStateTest, NewThresholdsKeepTheHistory) {
  HealthState up(2, 3);
  feed(up, {pass, pass, fail});
  ASSERT_TRUE(up.routable());
  EXPECT_TRUE(up.with_thresholds(5, 3).routable());   // rise matters only on the way up
  EXPECT_FALSE(up.with_thresholds(2, 1).routable());  // one failure is now enough to fall

  HealthState rising(3, 3);
  feed(rising, {pass, pass});
  ASSERT_FALSE(rising.routable());
  EXPECT_TRUE(rising.with_thresholds(2, 3).routable());
  EXPECT_FALSE(rising.with_thresholds(4, 3).routable());

  HealthState held(1, 1);
  feed(held, {warn});
  held.set_maintenance(true, "deploy");
  HealthState next = held.with_thresholds(2, 2);
  EXPECT_TRUE(next.maintenance());
  EXPECT_EQ(next.maintenance_reason(), "deploy");
  EXPECT_EQ(next.set_maintenance(false), T::became_routable);
  EXPECT_EQ(next.health(), Health::warning);
}

}  // namespace
}  // namespace dstack::watson
