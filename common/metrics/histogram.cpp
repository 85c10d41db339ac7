// SPDX-License-Identifier: Apache-2.0
#include "common/metrics/histogram.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace dstack::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), in_bucket_(bounds_.size() + 1, 0) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()) &&
         std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end());
  assert(std::all_of(bounds_.begin(), bounds_.end(), [](double b) { return std::isfinite(b); }));
}

void Histogram::observe(double value) {
  // The first bound >= value is the bucket ("le" is inclusive); past the last, +Inf.
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++in_bucket_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

std::uint64_t Histogram::cumulative(std::size_t i) const {
  std::uint64_t n = 0;
  for (std::size_t b = 0; b <= i && b < in_bucket_.size(); ++b) n += in_bucket_[b];
  return n;
}

std::vector<double> latency_bounds_seconds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace dstack::metrics
