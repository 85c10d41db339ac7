// SPDX-License-Identifier: Apache-2.0
#pragma once
// An injectable clock, so expiry and threshold logic is tested without sleeping.

#include <chrono>

namespace dstack {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
};

// The steady clock, for code that measures real time and has no clock injected.
inline const Clock& real_clock() {
  static const SteadyClock clock;
  return clock;
}

// Moves only when told to.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void advance(std::chrono::steady_clock::duration d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::hours(1)};
};

}  // namespace dstack
