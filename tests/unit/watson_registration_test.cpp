// SPDX-License-Identifier: Apache-2.0
// How watson keeps one directory's view of its instances true
// (docs/watson.md#health-and-registration), step by step with a fake clock: Registration decides
// every step and does no I/O, so each rule is a short story of outcomes and the step that follows.
#include "watson/registration.hpp"

#include <gtest/gtest.h>

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;
using Kind = RegistrationStep::Kind;
using TimePoint = Registration::TimePoint;

model::Instance instance(const std::string& service, const std::string& id,
                         const std::string& version = "1") {
  model::Instance i;
  i.service = service;
  i.id = id;
  i.url = "http://10.0.0.1:9000/" + service;
  i.version = version;
  return i;
}

// Backoff without jitter: 200, 400, 800 ms..., capped at 1 s.
Backoff no_jitter() {
  return Backoff(200ms, 1s, [](std::int64_t hi) { return hi; });
}

class RegistrationTest : public ::testing::Test {
 protected:
  Registration r{3s, no_jitter()};
  TimePoint now{std::chrono::hours(1)};

  RegistrationStep next() const { return r.next(now); }
  Kind kind() const { return next().kind; }

  void leased(const std::string& id = "L1") {
    ASSERT_EQ(kind(), Kind::grant_lease);
    r.lease_granted(id, 3s, now);
  }
  // Sends every put and remove next() asks for, all accepted.
  int drain() {
    int sent = 0;
    for (auto s = next(); s.kind == Kind::put || s.kind == Kind::remove; s = next(), ++sent) {
      if (s.kind == Kind::put)
        r.put_ok(s.instance, now);
      else
        r.removed({s.service, s.id}, now);
    }
    return sent;
  }
};

TEST_F(RegistrationTest, TakesALeaseThenRegistersUnderIt) {
  r.want(instance("emitter", "vm1:9000"));
  EXPECT_EQ(kind(), Kind::grant_lease);
  EXPECT_TRUE(r.lease_granted("L1", 3s, now)) << "first success is a (re)connection";
  auto s = next();
  ASSERT_EQ(s.kind, Kind::put);
  EXPECT_EQ(s.instance.lease, "L1");
  EXPECT_FALSE(r.put_ok(s.instance, now));
  EXPECT_EQ(r.state_of("emitter", "vm1:9000"), "registered");
  EXPECT_EQ(next().kind, Kind::wait);
  EXPECT_EQ(next().until, now + 1s) << "keepalive every ttl/3";
}

TEST_F(RegistrationTest, KeepalivesComeEveryThirdOfTheTtl) {
  leased();
  now += 999ms;
  EXPECT_EQ(kind(), Kind::wait);
  now += 1ms;
  EXPECT_EQ(kind(), Kind::keepalive);
  r.keepalive_ok(now);
  EXPECT_EQ(next().until, now + 1s);
}

TEST_F(RegistrationTest, OnlyTheLatestDesiredStateIsSentAndNothingWhenUnchanged) {
  leased();
  EXPECT_TRUE(r.want(instance("emitter", "a", "1")));
  EXPECT_TRUE(r.want(instance("emitter", "a", "2")));
  auto s = next();
  ASSERT_EQ(s.kind, Kind::put);
  EXPECT_EQ(s.instance.version, "2");
  r.put_ok(s.instance, now);
  EXPECT_FALSE(r.want(instance("emitter", "a", "2")));
  EXPECT_EQ(kind(), Kind::wait);
}

TEST_F(RegistrationTest, AnInstanceNoLongerWantedIsRemoved) {
  leased();
  r.want(instance("emitter", "a"));
  drain();
  EXPECT_TRUE(r.unwant("emitter", "a"));
  auto s = next();
  ASSERT_EQ(s.kind, Kind::remove);
  EXPECT_EQ(s.service, "emitter");
  EXPECT_EQ(s.id, "a");
  r.removed({"emitter", "a"}, now);
  EXPECT_EQ(r.state_of("emitter", "a"), "absent");
  EXPECT_EQ(kind(), Kind::wait);
}

TEST_F(RegistrationTest, AFailureBacksOffWithGrowingWaitsAndThenSendsEverythingAgain) {
  leased();
  r.want(instance("emitter", "a"));
  r.want(instance("emitter", "b"));
  drain();
  EXPECT_EQ(r.registered(), 2u);
  now += 1s;
  ASSERT_EQ(kind(), Kind::keepalive);
  EXPECT_EQ(r.failed("keepalive: connection refused", now), Registration::Failure::lost);
  EXPECT_FALSE(r.connected());
  EXPECT_EQ(next().kind, Kind::back_off);
  EXPECT_EQ(next().until, now + 200ms);
  r.want(instance("emitter", "c"));  // changes do not cut a backoff short
  EXPECT_EQ(kind(), Kind::back_off);
  now += 200ms;
  ASSERT_EQ(kind(), Kind::keepalive) << "the lease is checked first";
  EXPECT_EQ(r.failed("keepalive: connection refused", now), Registration::Failure::same_again);
  EXPECT_EQ(next().until, now + 400ms);
  EXPECT_EQ(r.failed("keepalive: timed out", now), Registration::Failure::still_failing);
  now += 800ms;
  EXPECT_TRUE(r.keepalive_ok(now));
  EXPECT_EQ(drain(), 3) << "a and b unconfirmed after the failure, and c";
  // A whole round went through: the backoff starts over.
  now += 1s;
  r.failed("keepalive: connection refused", now);
  EXPECT_EQ(next().until, now + 200ms);
}

TEST_F(RegistrationTest, APutThatFailedMayHaveLandedSoItIsRemovedLaterAllTheSame) {
  leased();
  r.want(instance("emitter", "a"));
  auto s = next();
  r.failed("register: timed out", now, &s.instance);
  EXPECT_TRUE(r.unwant("emitter", "a"));
  now += 200ms;
  r.keepalive_ok(now);
  EXPECT_EQ(kind(), Kind::remove);
}

TEST_F(RegistrationTest, ALostLeaseMeansANewLeaseAndEverythingRegisteredAgain) {
  leased("L1");
  r.want(instance("emitter", "a"));
  drain();
  now += 1s;
  ASSERT_EQ(kind(), Kind::keepalive);
  r.lease_gone("keepalive: lease not found", now, /*back_off=*/false);
  EXPECT_EQ(r.last_error(), "keepalive: lease not found");
  EXPECT_EQ(kind(), Kind::grant_lease) << "at once: the directory answered";
  r.lease_granted("L2", 3s, now);
  auto s = next();
  ASSERT_EQ(s.kind, Kind::put);
  EXPECT_EQ(s.instance.lease, "L2");
}

TEST_F(RegistrationTest, APutNamingAGoneLeaseBacksOffBeforeTheNewLease) {
  leased("L1");
  r.want(instance("emitter", "a"));
  auto s = next();
  r.lease_gone("register: lease not found", now, /*back_off=*/true);
  EXPECT_EQ(kind(), Kind::back_off);
  now += 200ms;
  EXPECT_EQ(kind(), Kind::grant_lease);
}

TEST_F(RegistrationTest, ARefusedVersionIsNotSentAgainButTheNextVersionIs) {
  leased();
  r.want(instance("emitter", "a", "bad"));
  auto s = next();
  r.put_refused(s.instance, "invalid_version: ...");
  EXPECT_EQ(r.state_of("emitter", "a"), "refused: invalid_version: ...");
  EXPECT_EQ(r.last_error(), "register emitter/a: invalid_version: ...");
  EXPECT_EQ(kind(), Kind::wait);
  EXPECT_EQ(r.pending(), 0u);
  r.want(instance("emitter", "a", "2"));
  EXPECT_EQ(kind(), Kind::put);
}

TEST_F(RegistrationTest, StopEndsTheLoop) {
  r.want(instance("emitter", "a"));
  r.stop();
  EXPECT_EQ(kind(), Kind::done);
}

}  // namespace
}  // namespace dstack::watson
