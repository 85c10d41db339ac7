// SPDX-License-Identifier: Apache-2.0
#pragma once
// Capped exponential backoff with full jitter: retry waits are random in [0, min(cap, base*2^n)],
// so many agents that lost the same directory do not come back in step.

#include <cstdint>
#include <functional>
#include <random>

#include "common/core/duration.hpp"

namespace dstack {

class Backoff {
 public:
  // `uniform(hi)` returns a value in [0, hi]; injected so tests are deterministic.
  using Uniform = std::function<std::int64_t(std::int64_t hi)>;

  Backoff(Duration base, Duration cap, Uniform uniform = {});

  Duration next();  // the wait before the next attempt
  void reset();     // after a success
  int attempts() const { return attempts_; }

 private:
  Duration base_;
  Duration cap_;
  Uniform uniform_;
  int attempts_ = 0;
};

}  // namespace dstack
