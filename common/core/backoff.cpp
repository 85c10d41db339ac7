// SPDX-License-Identifier: Apache-2.0
#include "common/core/backoff.hpp"

#include <algorithm>

namespace dstack {

Backoff::Backoff(Duration base, Duration cap, Uniform uniform)
    : base_(base), cap_(cap), uniform_(std::move(uniform)) {
  if (!uniform_) {
    uniform_ = [rng = std::mt19937_64(std::random_device{}())](std::int64_t hi) mutable {
      return std::uniform_int_distribution<std::int64_t>(0, hi)(rng);
    };
  }
}

Duration Backoff::next() {
  std::int64_t ceiling = base_.count();
  for (int i = 0; i < attempts_ && ceiling < cap_.count(); ++i) ceiling *= 2;
  ceiling = std::min<std::int64_t>(ceiling, cap_.count());
  ++attempts_;
  return Duration(uniform_(ceiling));
}

void Backoff::reset() {
  attempts_ = 0;
}

}  // namespace dstack
