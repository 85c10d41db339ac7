// SPDX-License-Identifier: Apache-2.0
#include "common/model/rollout.hpp"

#include <cmath>

#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

std::string number(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::vector<std::string> validate_rollout_spec(const RolloutSpec& spec) {
  std::vector<std::string> problems;
  const auto add = [&](const Problem& p) {
    if (p) problems.push_back(*p);
  };
  add(check_service_name(spec.service));
  if (!spec.consumer.empty()) add(check_consumer_name(spec.consumer));
  add(check_version(spec.to, "to"));
  if (spec.from.empty())
    problems.push_back(invalid("from", spec.from, "the stable version is needed"));
  else
    add(check_version(spec.from, "from"));
  if (!spec.to.empty() && spec.to == spec.from)
    problems.push_back(invalid("from", spec.from, "must differ from to"));

  if (spec.steps.empty() || spec.steps.size() > kMaxRolloutSteps)
    problems.push_back("steps: " + std::to_string(spec.steps.size()) + " given, 1.." +
                       std::to_string(kMaxRolloutSteps) + " allowed");
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    const std::string field = "steps[" + std::to_string(i) + "]";
    add(check_range(spec.steps[i], 1, 100, field));
    if (i > 0 && spec.steps[i] <= spec.steps[i - 1])
      problems.push_back(field + " " + std::to_string(spec.steps[i]) +
                         " is not above the step before it (" + std::to_string(spec.steps[i - 1]) +
                         "): steps must increase");
  }
  if (spec.interval < kMinRolloutInterval || spec.interval > kMaxRolloutInterval)
    problems.push_back(invalid("interval", format_duration(spec.interval),
                               "must be from " + format_duration(kMinRolloutInterval) + " to " +
                                   format_duration(kMaxRolloutInterval)));
  if (!(spec.max_error_ratio >= 0 && spec.max_error_ratio <= 1))
    problems.push_back(invalid("max_error_ratio", number(spec.max_error_ratio),
                               "must be from 0 to 1 (1% is 0.01)"));
  if (spec.max_p99_ms && !(*spec.max_p99_ms > 0 && std::isfinite(*spec.max_p99_ms)))
    problems.push_back(invalid("max_p99", number(*spec.max_p99_ms) + "ms", "must be above 0"));
  if (spec.max_p99_ratio && !(*spec.max_p99_ratio >= 1 && std::isfinite(*spec.max_p99_ratio)))
    problems.push_back(invalid("max_p99_ratio", number(*spec.max_p99_ratio),
                               "must be at least 1 (the canary's p99 over the stable version's)"));
  add(check_range(static_cast<long long>(std::min<std::uint64_t>(spec.min_requests, 1LL << 62)), 1,
                  1'000'000'000, "min_requests"));
  return problems;
}

}  // namespace dstack::model
