// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one Prometheus text writer (exposition format 0.0.4) every daemon's /metrics uses. Each
// family gets `# HELP` and `# TYPE` once, before its first sample; label values are escaped;
// numbers are written exactly. Names follow docs/metrics.md#naming: dstack_<component>_<name>,
// units in the name, `_total` on counters.
//
//   metrics::Writer w;
//   for (auto& [svc, n] : checks)
//     w.counter("dstack_watson_checks_total", "Check results.", n, {{"service", svc}});
//   return std::move(w).text();
//
// Samples of one family are written by consecutive calls; coming back to a family after another
// one is a bug in the caller (asserted), since the format wants each family in one block.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common/metrics/histogram.hpp"

namespace dstack::metrics {

struct Label {
  std::string_view name;
  std::string_view value;
};
using Labels = std::initializer_list<Label>;

class Writer {
 public:
  Writer& gauge(std::string_view name, std::string_view help, double value, Labels labels = {});
  // `name` must end in `_total`.
  Writer& counter(std::string_view name, std::string_view help, double value, Labels labels = {});
  // Writes NAME_bucket{le=...} for every bound and +Inf, NAME_sum and NAME_count.
  Writer& histogram(std::string_view name, std::string_view help, const Histogram& h,
                    Labels labels = {});
  // The same from counts kept elsewhere: `per_bucket` has one count per bound and one more for
  // +Inf, each not cumulative.
  Writer& histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                    std::span<const std::uint64_t> per_bucket, double sum, Labels labels = {});

  const std::string& text() const& { return out_; }
  std::string text() && { return std::move(out_); }

 private:
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, Labels labels, double value, const Label* extra = nullptr);

  std::string out_;
  std::string current_;
  std::unordered_set<std::string> done_;
};

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);
// A sample value: integers without a decimal point, others in the shortest form that reads back
// exactly (fixed notation, but for extreme magnitudes);
// +Inf, -Inf and NaN spelled as Prometheus spells them.
std::string format_value(double value);

}  // namespace dstack::metrics
