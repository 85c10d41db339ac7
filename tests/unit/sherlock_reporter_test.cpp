// SPDX-License-Identifier: Apache-2.0
// sherlock's Reporter over an in-memory registry (tests/support/fake_registry.hpp): what it sends
// as a consumer and at its stop (docs/insight.md#reports). A stop that comes while the loop's
// request is in flight must wait for its answer: the real directory's client sends one request
// at a time, and a second on the same connection aborts sherlock.
#include "sherlock/reporter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/fake_registry.hpp"

namespace dstack::test {
namespace {

using namespace std::chrono_literals;
using sherlock::Reporter;
using ::testing::ElementsAre;

awaitable<void> stop_reporter(Reporter* reporter, bool revoke) {
  auto op = reporter->stop(revoke);
  co_await std::move(op);
}

class ReporterOverFakeTest : public ::testing::Test {
 protected:
  ReporterOverFakeTest() {
    auto fake = std::make_unique<FakeRegistry>(io_.get_executor(), "fake");
    dir_ = fake.get();
    std::vector<std::unique_ptr<registry::Registry>> dirs;
    dirs.push_back(std::move(fake));
    sherlock::ReporterSettings settings{"vm", "vm.example", "127.0.0.1:8001", 10s, 5s};
    reporter_ = std::make_unique<Reporter>(io_.get_executor(), std::move(dirs), settings, [this] {
      ++takes_;
      return model::TrafficByVersion{};
    });
    reporter_->set_services({"emitter"});
    reporter_->start();
  }

  // Starts stop() while the call `when` waits for its answer from a slow directory, runs all
  // that can run meanwhile, lets the answers go, and runs until the stop is done.
  bool stop_during(const std::string& when, bool revoke) {
    if (!step_until(io_, 3s,
                    [&] { return !dir_->calls().empty() && dir_->calls().back() == when; }))
      return false;
    dir_->hold_answers(true);
    bool done = false;
    asio::co_spawn(io_, stop_reporter(reporter_.get(), revoke),
                   [&done](std::exception_ptr) { done = true; });
    // Everything that can run now: a stop that did not wait would send its own calls here.
    if (io_.stopped()) io_.restart();
    while (io_.poll() > 0) {
    }
    dir_->hold_answers(false);
    return run_until(io_, 3s, [&] { return done; });
  }

  asio::io_context io_;
  FakeRegistry* dir_ = nullptr;  // owned by reporter_
  std::unique_ptr<Reporter> reporter_;
  int takes_ = 0;  // the counter's figures taken
};

TEST_F(ReporterOverFakeTest, RegistersOnALeaseOfItsOwnThenReportsAndRevokesAtStop) {
  ASSERT_TRUE(run_until(io_, 3s, [&] { return reporter_->status().registered; }));
  bool done = false;
  asio::co_spawn(io_, stop_reporter(reporter_.get(), true),
                 [&done](std::exception_ptr) { done = true; });
  ASSERT_TRUE(run_until(io_, 3s, [&] { return done; }));
  EXPECT_THAT(dir_->calls(),
              ElementsAre("grant 10", "put_consumer vm L1", "report vm", "revoke L1"));
  EXPECT_TRUE(dir_->leases().empty());
}

TEST_F(ReporterOverFakeTest, AStopDuringARegistrationWaitsForItsAnswerBeforeItsOwnCalls) {
  ASSERT_TRUE(stop_during("put_consumer vm L1", /*revoke=*/true));
  EXPECT_EQ(dir_->most_calls_at_once(), 1);
  EXPECT_THAT(dir_->calls(),
              ElementsAre("grant 10", "put_consumer vm L1", "report vm", "revoke L1"));
}

TEST_F(ReporterOverFakeTest, AStopDuringTheLeaseGrantRevokesTheLeaseItWasGranted) {
  ASSERT_TRUE(stop_during("grant 10", /*revoke=*/true));
  EXPECT_EQ(dir_->most_calls_at_once(), 1);
  EXPECT_THAT(dir_->calls(), ElementsAre("grant 10", "revoke L1"));
  EXPECT_TRUE(dir_->leases().empty());
}

TEST_F(ReporterOverFakeTest, AHandoverStopReportsButLeavesTheLeaseToLapse) {
  ASSERT_TRUE(run_until(io_, 3s, [&] { return reporter_->status().registered; }));
  bool done = false;
  asio::co_spawn(io_, stop_reporter(reporter_.get(), false),
                 [&done](std::exception_ptr) { done = true; });
  ASSERT_TRUE(run_until(io_, 3s, [&] { return done; }));
  EXPECT_THAT(dir_->calls(), ElementsAre("grant 10", "put_consumer vm L1", "report vm"));
  EXPECT_THAT(dir_->leases(), ElementsAre("L1"));
}

// etcd keeps no consumers: what sherlock counted is let go rather than kept for a report that
// will never go (it stays on /metrics).
TEST_F(ReporterOverFakeTest, FiguresAreLetGoWhenTheDirectoryTakesNoReports) {
  dir_->refuse_next("put_consumer",
                    Error{ErrorKind::refused, "not_supported", "etcd keeps no consumers", 0});
  ASSERT_TRUE(run_until(io_, 3s, [&] { return takes_ == 1; }));
  EXPECT_FALSE(reporter_->status().registered);
  EXPECT_THAT(dir_->calls(), ElementsAre("grant 10", "put_consumer vm L1"));
}

}  // namespace
}  // namespace dstack::test
