// SPDX-License-Identifier: Apache-2.0
// watson's Registrar over an in-memory registry (tests/support/fake_registry.hpp): what it sends,
// in order, when its lease is gone, while the directory is down, when an instance is refused and
// at shutdown (docs/watson.md#health-and-registration). The integration tests drive it against
// the real directory; these make the directory misbehave exactly when wanted. Time is real but
// short: 1 s leases, so a keepalive every ~333 ms; every wait polls with a deadline.
#include "watson/registrar.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "support/fake_registry.hpp"

namespace dstack::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using watson::Registrar;

model::Instance instance(const std::string& service, const std::string& id, int weight = 100,
                         const std::string& url = "http://10.0.0.1:9000/x") {
  model::Instance i;
  i.service = service;
  i.id = id;
  i.url = url;
  i.weight = weight;
  return i;
}

awaitable<void> shut_down(Registrar* registrar) {
  auto op = registrar->shutdown();
  co_await std::move(op);
}

class RegistrarOverFakeTest : public ::testing::Test {
 protected:
  RegistrarOverFakeTest() {
    auto fake = std::make_unique<FakeRegistry>(io_.get_executor(), "fake");
    dir_ = fake.get();
    reg_ = std::make_unique<Registrar>(io_.get_executor(), std::move(fake), 1s, "vm101");
    reg_->start();
  }

  void TearDown() override {
    if (!shutdown_started_) shutdown();
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
    return test::run_until(io_, timeout, done);
  }

  // True once shutdown() has completed.
  bool shutdown() {
    shutdown_started_ = true;
    asio::co_spawn(io_, shut_down(reg_.get()),
                   [this](std::exception_ptr) { shutdown_done_ = true; });
    return run_until([this] { return shutdown_done_; });
  }

  bool settled() const { return reg_->settled() && reg_->status().connected; }

  // What was sent from call number `from` on; keepalives left out unless asked for, since they
  // come on their own clock.
  std::vector<std::string> sent(std::size_t from = 0, bool keepalives = false) const {
    std::vector<std::string> out;
    const auto& calls = dir_->calls();
    for (std::size_t k = from; k < calls.size(); ++k)
      if (keepalives || calls[k].rfind("keepalive ", 0) != 0) out.push_back(calls[k]);
    return out;
  }
  // The first `n` calls from call number `from` on, keepalives included.
  std::vector<std::string> first(std::size_t n, std::size_t from) const {
    auto all = sent(from, /*keepalives=*/true);
    all.resize(std::min(n, all.size()));
    return all;
  }
  std::size_t count(const std::string& call) const {
    return std::count(dir_->calls().begin(), dir_->calls().end(), call);
  }
  std::string lease_of(const std::string& service, const std::string& id) const {
    auto i = dir_->instance(service, id);
    return i ? i->lease : "(absent)";
  }

  asio::io_context io_;
  FakeRegistry* dir_ = nullptr;  // owned by reg_
  std::unique_ptr<Registrar> reg_;
  bool shutdown_started_ = false;
  bool shutdown_done_ = false;
};

TEST_F(RegistrarOverFakeTest, RegistersUnderItsLeaseAndKeepsItAlive) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("emitter", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  EXPECT_THAT(sent(), ElementsAre("grant 1", "put emitter/a L1", "put emitter/b L1"));
  EXPECT_EQ(lease_of("emitter", "a"), "L1");
  EXPECT_EQ(lease_of("emitter", "b"), "L1");
  EXPECT_EQ(reg_->status().lease, "L1");
  EXPECT_EQ(reg_->state_of("emitter", "a"), "registered");

  ASSERT_TRUE(run_until([&] { return count("keepalive L1") >= 2; }));
  EXPECT_THAT(sent(), ElementsAre("grant 1", "put emitter/a L1", "put emitter/b L1"))
      << "nothing is sent again while nothing changes";
}

TEST_F(RegistrarOverFakeTest, KeepaliveAnsweredNotFoundTakesANewLeaseAndRegistersEverythingAgain) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("emitter", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  const auto mark = dir_->calls().size();
  ASSERT_TRUE(dir_->expire("L1"));
  ASSERT_TRUE(dir_->instances().empty());

  ASSERT_TRUE(run_until(
      [&] { return reg_->status().lease == "L2" && settled() && dir_->instances().size() == 2; }));
  EXPECT_THAT(first(4, mark),
              ElementsAre("keepalive L1", "grant 1", "put emitter/a L2", "put emitter/b L2"));
  EXPECT_EQ(lease_of("emitter", "a"), "L2");
  EXPECT_EQ(lease_of("emitter", "b"), "L2");
  EXPECT_THAT(dir_->leases(), ElementsAre("L2"));
  EXPECT_THAT(reg_->status().last_error, HasSubstr("lease L1 is unknown or expired"));
}

TEST_F(RegistrarOverFakeTest, PutNamingAGoneLeaseTakesANewLease) {
  reg_->put(instance("emitter", "a"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 1; }));
  const auto mark = dir_->calls().size();
  ASSERT_TRUE(dir_->expire("L1"));
  reg_->put(instance("emitter", "b"));  // sent at once, well before the next keepalive

  ASSERT_TRUE(run_until(
      [&] { return reg_->status().lease == "L2" && settled() && dir_->instances().size() == 2; }));
  EXPECT_THAT(sent(mark),
              ElementsAre("put emitter/b L1", "grant 1", "put emitter/a L2", "put emitter/b L2"));
}

TEST_F(RegistrarOverFakeTest, KeepsTheDesiredStateWhileDownAndAppliesItOnReturn) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("emitter", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));

  dir_->down(true);
  const auto down_mark = dir_->calls().size();
  ASSERT_TRUE(run_until([&] { return !reg_->status().connected; }));
  EXPECT_THAT(reg_->status().last_error, HasSubstr("fake: connection refused"));
  reg_->put(instance("emitter", "b", 9));
  reg_->put(instance("emitter", "c"));
  reg_->remove("emitter", "a");
  EXPECT_EQ(reg_->status().pending, 3u);
  EXPECT_EQ(reg_->state_of("emitter", "c"), "pending");
  EXPECT_EQ(reg_->state_of("emitter", "a"), "pending") << "a remove still to send";
  // Retried while down, the lease first each time: nothing else is sent into the void.
  ASSERT_TRUE(run_until([&] { return dir_->calls().size() >= down_mark + 3; }));
  EXPECT_THAT(sent(down_mark), ElementsAre());
  EXPECT_EQ(reg_->status().pending, 3u);

  dir_->down(false);
  const auto up_mark = dir_->calls().size();
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  EXPECT_THAT(first(4, up_mark), ElementsAre("keepalive L1", "put emitter/b L1", "put emitter/c L1",
                                             "delete emitter/a"));
  EXPECT_FALSE(dir_->instance("emitter", "a"));
  ASSERT_TRUE(dir_->instance("emitter", "b"));
  EXPECT_EQ(dir_->instance("emitter", "b")->weight, 9);
  EXPECT_EQ(lease_of("emitter", "c"), "L1");
  EXPECT_EQ(reg_->state_of("emitter", "a"), "absent");
}

TEST_F(RegistrarOverFakeTest, AfterAnOutageThatOutlivedTheLeaseEverythingIsRegisteredAgain) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("emitter", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  dir_->down(true);
  ASSERT_TRUE(run_until([&] { return !reg_->status().connected; }));
  ASSERT_TRUE(dir_->expire("L1"));
  reg_->put(instance("emitter", "c"));

  dir_->down(false);
  const auto mark = dir_->calls().size();
  ASSERT_TRUE(run_until(
      [&] { return reg_->status().lease == "L2" && settled() && dir_->instances().size() == 3; }));
  EXPECT_THAT(first(5, mark), ElementsAre("keepalive L1", "grant 1", "put emitter/a L2",
                                          "put emitter/b L2", "put emitter/c L2"));
}

TEST_F(RegistrarOverFakeTest, RefusedInstanceIsNotRetriedAndShowsWhy) {
  dir_->refuse_next("put", Error{ErrorKind::refused, "invalid_instance",
                                 "url \"ftp://x\" is not http or https", 400});
  reg_->put(instance("emitter", "bad", 100, "ftp://x"));
  reg_->put(instance("emitter", "good"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 1; }));
  EXPECT_THAT(sent(), ElementsAre("grant 1", "put emitter/bad L1", "put emitter/good L1"));
  EXPECT_EQ(reg_->state_of("emitter", "bad"), "refused: url \"ftp://x\" is not http or https");
  EXPECT_THAT(reg_->status().last_error, HasSubstr("emitter/bad"));
  EXPECT_TRUE(reg_->status().connected);
  EXPECT_EQ(reg_->status().pending, 0u);

  // Not over keepalives, nor when another instance changes.
  ASSERT_TRUE(run_until([&] { return count("keepalive L1") >= 2; }));
  reg_->put(instance("emitter", "good", 3));
  ASSERT_TRUE(run_until([&] { return count("put emitter/good L1") == 2 && settled(); }));
  EXPECT_EQ(count("put emitter/bad L1"), 1u);

  // A corrected version is sent.
  reg_->put(instance("emitter", "bad", 100, "http://10.0.0.1:9001/x"));
  ASSERT_TRUE(run_until([&] { return reg_->state_of("emitter", "bad") == "registered"; }));
  EXPECT_EQ(count("put emitter/bad L1"), 2u);
  EXPECT_EQ(lease_of("emitter", "bad"), "L1");
}

TEST_F(RegistrarOverFakeTest, ShutdownDeregistersEveryInstanceAndRevokesTheLease) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("collector", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  const auto mark = dir_->calls().size();
  ASSERT_TRUE(shutdown());
  EXPECT_THAT(sent(mark), ElementsAre("delete collector/b", "delete emitter/a", "revoke L1"));
  EXPECT_TRUE(dir_->instances().empty());
  EXPECT_TRUE(dir_->leases().empty());
  EXPECT_EQ(reg_->status().lease, "");
}

TEST_F(RegistrarOverFakeTest, ShutdownGivesUpAtTheFirstUnreachableAnswer) {
  reg_->put(instance("emitter", "a"));
  reg_->put(instance("emitter", "b"));
  ASSERT_TRUE(run_until([&] { return settled() && reg_->status().registered == 2; }));
  dir_->down(true);
  const auto mark = dir_->calls().size();
  ASSERT_TRUE(shutdown());
  EXPECT_THAT(sent(mark), ElementsAre("delete emitter/a")) << "the lease is left to expire";
}

TEST_F(RegistrarOverFakeTest, APutThatFailedAsUnreachableIsStillDeletedWhenNoLongerWanted) {
  dir_->refuse_next("put", Error{ErrorKind::unreachable, "unreachable", "fake: timed out"});
  reg_->put(instance("emitter", "a"));
  // One step at a time: stopped as soon as the failure is read, before the retry's timer fires.
  ASSERT_TRUE(step_until(
      io_, 3s, [&] { return count("put emitter/a L1") == 1 && !reg_->status().connected; }));
  // It landed; only the answer was lost.
  auto landed = instance("emitter", "a");
  landed.lease = "L1";
  ASSERT_TRUE(dir_->add_instance(landed).ok());

  reg_->remove("emitter", "a");
  EXPECT_EQ(reg_->state_of("emitter", "a"), "pending");
  // From the failed put on: its probe may have gone out already, when the backoff's first wait
  // (jittered, near zero) had passed by the time the failure was read.
  const auto& calls = dir_->calls();
  const auto mark = static_cast<std::size_t>(
      std::find(calls.begin(), calls.end(), "put emitter/a L1") - calls.begin() + 1);
  ASSERT_TRUE(run_until([&] { return settled(); }));
  EXPECT_THAT(first(2, mark), ElementsAre("keepalive L1", "delete emitter/a"));
  EXPECT_FALSE(dir_->instance("emitter", "a"));
  EXPECT_EQ(count("put emitter/a L1"), 1u);
  EXPECT_EQ(reg_->state_of("emitter", "a"), "absent");
}

}  // namespace
}  // namespace dstack::test
