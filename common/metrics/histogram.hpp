// SPDX-License-Identifier: Apache-2.0
#pragma once
// A Prometheus histogram: counts of observations at or below each upper bound, their sum and
// count (docs/metrics.md#naming). Not thread-safe: each daemon observes on its I/O thread.

#include <cstdint>
#include <vector>

namespace dstack::metrics {

class Histogram {
 public:
  // Upper bounds, strictly increasing and finite; the +Inf bucket is implied.
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double value);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Observations at or below upper_bounds()[i] (cumulative, as the text format writes them).
  std::uint64_t cumulative(std::size_t i) const;
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> in_bucket_;  // per bucket, not cumulative; one more for +Inf
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Bounds for durations in seconds from 0.5 ms to 10 s, about three per decade.
std::vector<double> latency_bounds_seconds();

}  // namespace dstack::metrics
