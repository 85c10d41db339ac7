// SPDX-License-Identifier: Apache-2.0
// Capped exponential backoff with full jitter: ceilings double up to the cap, a success starts
// over, and the waits are random within the ceiling so agents do not retry in step.

#include "common/core/backoff.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace dstack {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

// Records every ceiling asked for and answers with the ceiling itself.
struct Recorder {
  std::vector<std::int64_t> asked;
  Backoff::Uniform uniform() {
    return [this](std::int64_t hi) {
      asked.push_back(hi);
      return hi;
    };
  }
};

std::vector<std::int64_t> waits(Backoff& b, int n) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(b.next().count());
  return out;
}

TEST(BackoffTest, CeilingDoublesUpToTheCap) {
  Recorder r;
  Backoff b(100ms, 1s, r.uniform());
  EXPECT_THAT(waits(b, 7), ElementsAre(100, 200, 400, 800, 1000, 1000, 1000));
  EXPECT_THAT(r.asked, ElementsAre(100, 200, 400, 800, 1000, 1000, 1000));
  EXPECT_EQ(b.attempts(), 7);
}

TEST(BackoffTest, ResetStartsOverFromTheBase) {
  Recorder r;
  Backoff b(250ms, 10s, r.uniform());
  EXPECT_THAT(waits(b, 3), ElementsAre(250, 500, 1000));
  b.reset();
  EXPECT_EQ(b.attempts(), 0);
  EXPECT_THAT(waits(b, 2), ElementsAre(250, 500));
}

TEST(BackoffTest, TheWaitIsWhatTheUniformFunctionPicks) {
  Backoff b(1s, 30s, [](std::int64_t hi) { return hi / 4; });
  EXPECT_EQ(b.next(), 250ms);
  EXPECT_EQ(b.next(), 500ms);
  Backoff zero(1s, 30s, [](std::int64_t) { return std::int64_t{0}; });
  EXPECT_EQ(zero.next(), 0ms);
}

TEST(BackoffTest, BaseAboveTheCapIsCapped) {
  Recorder r;
  Backoff b(5s, 2s, r.uniform());
  EXPECT_THAT(waits(b, 3), ElementsAre(2000, 2000, 2000));
}

TEST(BackoffTest, ManyFailuresStayAtTheCap) {
  Recorder r;
  Backoff b(1ms, 1h, r.uniform());
  for (int i = 0; i < 1000; ++i) b.next();
  EXPECT_EQ(r.asked.back(), std::int64_t{3600} * 1000);
  EXPECT_EQ(b.next(), Duration(1h));
}

TEST(BackoffTest, DefaultRandomWaitsStayWithinTheCeilingAndVary) {
  Backoff b(100ms, 1s);
  const std::vector<std::int64_t> ceilings = {100, 200, 400, 800, 1000, 1000};
  std::set<std::int64_t> seen;
  for (int round = 0; round < 200; ++round) {
    for (auto ceiling : ceilings) {
      auto w = b.next().count();
      EXPECT_GE(w, 0);
      EXPECT_LE(w, ceiling);
      seen.insert(w);
    }
    b.reset();
  }
  // Full jitter: 1200 draws over [0, ceiling] are not all the same value.
  EXPECT_GT(seen.size(), 100u);
}

}  // namespace
}  // namespace dstack
