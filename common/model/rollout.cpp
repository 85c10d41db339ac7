// SPDX-License-Identifier: Apache-2.0
#include "common/model/rollout.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/model/json_fields.hpp"
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

std::variant<RolloutSpec, std::vector<std::string>> rollout_spec_from_request(
    const nlohmann::json& body, std::string service) {
  using nlohmann::json;
  std::vector<std::string> problems;
  if (!body.is_object()) return std::vector<std::string>{"body: expected a JSON object"};
  RolloutSpec out;
  out.service = std::move(service);
  detail::Fields f(body, problems);
  f.refuse_unknown({"to", "from", "consumer", "steps", "interval", "max_error_ratio", "max_p99",
                    "max_p99_ratio", "min_requests"});
  if (auto to = f.string("to", true)) out.to = *to;
  if (auto from = f.string("from", false)) out.from = *from;
  if (auto consumer = f.string("consumer", false)) out.consumer = *consumer;
  if (const json* steps = f.member("steps", false)) {
    if (!steps->is_array()) {
      f.wrong_type(f.name("steps"), "an array", *steps);
    } else {
      out.steps.clear();
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const json& step = (*steps)[i];
        const std::string name = "steps[" + std::to_string(i) + "]";
        if (!step.is_number_integer()) {
          f.wrong_type(name, "an integer", step);
        } else if (step.is_number_unsigned() ? step.get<std::uint64_t>() > 1000
                                             : step.get<std::int64_t>() < -1000) {
          f.add(name + " " + step.dump() + " is out of range 1..100");
        } else {
          out.steps.push_back(static_cast<int>(step.get<std::int64_t>()));
        }
      }
    }
  }
  if (auto interval = f.duration("interval", false)) out.interval = *interval;
  if (auto ratio = f.number("max_error_ratio", false)) out.max_error_ratio = *ratio;
  if (auto p99 = f.duration("max_p99", false)) out.max_p99_ms = static_cast<double>(p99->count());
  out.max_p99_ratio = f.number("max_p99_ratio", false);
  if (const json* n = f.member("min_requests", false)) {
    if (!n->is_number_unsigned())
      f.wrong_type(f.name("min_requests"), "a positive integer", *n);
    else
      out.min_requests = n->get<std::uint64_t>();
  }
  if (!problems.empty()) return problems;
  problems = validate_rollout_spec(out, false);  // `from` is the directory's to fill
  if (!problems.empty()) return problems;
  return out;
}

nlohmann::json to_request_json(const RolloutSpec& spec) {
  nlohmann::json j = {{"to", spec.to},
                      {"steps", spec.steps},
                      {"interval", format_duration(spec.interval)},
                      {"max_error_ratio", spec.max_error_ratio},
                      {"min_requests", spec.min_requests}};
  if (!spec.from.empty()) j["from"] = spec.from;
  if (!spec.consumer.empty()) j["consumer"] = spec.consumer;
  if (spec.max_p99_ms)
    j["max_p99"] = format_duration(std::chrono::milliseconds(std::llround(*spec.max_p99_ms)));
  if (spec.max_p99_ratio) j["max_p99_ratio"] = *spec.max_p99_ratio;
  return j;
}

std::vector<std::string> validate_rollout_spec(const RolloutSpec& spec, bool from_required) {
  std::vector<std::string> problems;
  const auto add = [&](const Problem& p) {
    if (p) problems.push_back(*p);
  };
  add(check_service_name(spec.service));
  if (!spec.consumer.empty()) add(check_consumer_name(spec.consumer));
  add(check_version(spec.to, "to"));
  if (!spec.from.empty())
    add(check_version(spec.from, "from"));
  else if (from_required)
    problems.push_back(invalid("from", spec.from, "the stable version is needed"));
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
