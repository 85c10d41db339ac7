// SPDX-License-Identifier: Apache-2.0
#include "common/model/rollout.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/model/json_fields.hpp"
#include "common/model/validate.hpp"

namespace dstack::model {

namespace {

// Integers of 0 and above, however the JSON holds them (parsed text gives unsigned, built values
// may be signed).
std::optional<std::uint64_t> count_of(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(j.get<std::int64_t>());
  return std::nullopt;
}

std::string number(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

VersionFigures version_figures(const TrafficCounts& counts) {
  auto p99 = duration_quantile_ms(counts, 0.99);
  if (p99) *p99 = std::round(*p99 * 100) / 100;
  return {counts.total(), counts.errors(), p99};
}

std::string percent_text(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", ratio * 100);
  return text;
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

const char* to_string(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::running:
      return "running";
    case RolloutPhase::paused:
      return "paused";
    case RolloutPhase::succeeded:
      return "succeeded";
    case RolloutPhase::aborted:
      return "aborted";
  }
  return "?";
}

std::optional<RolloutPhase> parse_rollout_phase(std::string_view text) {
  for (auto p : {RolloutPhase::running, RolloutPhase::paused, RolloutPhase::succeeded,
                 RolloutPhase::aborted})
    if (text == to_string(p)) return p;
  return std::nullopt;
}

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
  // The fields whose reading added a problem: their values are not checked again below.
  std::vector<std::string_view> unread;
  auto mark = [&, told = problems.size()](std::string_view field) mutable {
    if (problems.size() > told) unread.push_back(field);
    told = problems.size();
  };
  if (auto to = f.string("to", true)) out.to = *to;
  mark("to");
  if (auto from = f.string("from", false)) out.from = *from;
  mark("from");
  if (auto consumer = f.string("consumer", false)) out.consumer = *consumer;
  mark("consumer");
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
  mark("steps");
  if (auto interval = f.duration("interval", false)) out.interval = *interval;
  mark("interval");
  if (auto ratio = f.number("max_error_ratio", false)) out.max_error_ratio = *ratio;
  mark("max_error_ratio");
  if (auto p99 = f.duration("max_p99", false)) out.max_p99_ms = static_cast<double>(p99->count());
  mark("max_p99");
  out.max_p99_ratio = f.number("max_p99_ratio", false);
  mark("max_p99_ratio");
  if (const json* n = f.member("min_requests", false)) {
    if (auto c = count_of(*n))
      out.min_requests = *c;
    else
      f.add(f.name("min_requests") + ": expected an integer of 0 or more, got " + n->dump());
  }
  mark("min_requests");
  // `from` is the directory's to fill.
  for (auto& problem : validate_rollout_spec(out, false, unread))
    problems.push_back(std::move(problem));
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

namespace {

nlohmann::json figures_json(const VersionFigures& f) {
  return {{"requests", f.requests},
          {"errors", f.errors},
          {"p99_ms", f.p99_ms ? nlohmann::json(*f.p99_ms) : nlohmann::json(nullptr)}};
}

std::optional<VersionFigures> read_figures(detail::Fields& outer, std::string_view key) {
  const nlohmann::json* j = outer.member(key, true);
  if (!j) return std::nullopt;
  if (!j->is_object()) {
    outer.wrong_type(outer.name(key), "an object", *j);
    return std::nullopt;
  }
  detail::Fields f(*j, outer.problems(), outer.prefix(), outer.name(key) + ".");
  VersionFigures out;
  for (const auto& [name, into] : {std::pair{"requests", &out.requests}, {"errors", &out.errors}}) {
    if (const nlohmann::json* n = f.member(name, true)) {
      if (auto c = count_of(*n))
        *into = *c;
      else
        f.add(f.name(name) + ": expected an integer of 0 or more, got " + n->dump());
    }
  }
  if (const nlohmann::json* p = f.member("p99_ms", true); p && !p->is_null()) {
    if (p->is_number())
      out.p99_ms = p->get<double>();
    else
      f.wrong_type(f.name("p99_ms"), "a number or null", *p);
  }
  if (out.errors > out.requests)
    f.add(f.name("errors") + " " + std::to_string(out.errors) + " is more than the " +
          std::to_string(out.requests) + " requests");
  return out;
}

}  // namespace

nlohmann::json to_json(const RolloutState& s) {
  nlohmann::json last = nullptr;
  if (s.last)
    last = {{"canary", figures_json(s.last->canary)}, {"stable", figures_json(s.last->stable)}};
  return {{"service", s.spec.service},
          {"spec", to_request_json(s.spec)},
          {"phase", to_string(s.phase)},
          {"step", s.step},
          {"route_applied", s.route_applied},
          {"interval_start", s.interval_start_ms},
          {"waits", s.waits},
          {"reason", s.reason},
          {"last", std::move(last)}};
}

std::variant<RolloutState, std::vector<std::string>> rollout_state_from_json(
    const nlohmann::json& j) {
  if (!j.is_object()) return std::vector<std::string>{"rollout: expected a JSON object"};
  std::vector<std::string> problems;
  RolloutState out;
  detail::Fields f(j, problems);
  const auto service = f.string("service", true);
  if (const nlohmann::json* spec = f.member("spec", true)) {
    auto read = rollout_spec_from_request(*spec, service.value_or(""));
    if (auto* p = std::get_if<std::vector<std::string>>(&read))
      for (auto& one : *p) problems.push_back("spec: " + one);
    else
      out.spec = std::get<RolloutSpec>(std::move(read));
  }
  if (auto phase = f.string("phase", true)) {
    if (auto p = parse_rollout_phase(*phase))
      out.phase = *p;
    else
      f.add(invalid("phase", *phase, "must be running, paused, succeeded or aborted"));
  }
  if (auto step = f.integer("step", true, 0, kMaxRolloutSteps - 1)) {
    if (*step < 0 ||
        static_cast<std::size_t>(*step) >= std::max<std::size_t>(out.spec.steps.size(), 1))
      f.add("step " + std::to_string(*step) + " is not one of the spec's steps");
    else
      out.step = static_cast<std::size_t>(*step);
  }
  if (auto applied = f.boolean("route_applied", true)) out.route_applied = *applied;
  if (const nlohmann::json* start = f.member("interval_start", true)) {
    if (start->is_number_integer())
      out.interval_start_ms = start->get<std::int64_t>();
    else
      f.wrong_type(f.name("interval_start"), "an integer", *start);
  }
  if (auto waits = f.integer("waits", true, 0, 1000)) {
    if (*waits < 0 || *waits > 1000)
      f.add("waits " + std::to_string(*waits) + " is out of range 0..1000");
    else
      out.waits = *waits;
  }
  if (auto reason = f.string("reason", true)) out.reason = *reason;
  if (const nlohmann::json* last = f.member("last", true); last && !last->is_null()) {
    if (!last->is_object()) {
      f.wrong_type(f.name("last"), "an object or null", *last);
    } else {
      detail::Fields l(*last, problems, {}, "last.");
      auto canary = read_figures(l, "canary");
      auto stable = read_figures(l, "stable");
      if (canary && stable) out.last = Judgement{*canary, *stable};
    }
  }
  if (!problems.empty()) return problems;
  if (out.spec.from.empty()) return std::vector<std::string>{"spec: from is needed"};
  return out;
}

nlohmann::json to_json(const RolloutView& view) {
  nlohmann::json j = to_json(view.state);
  if (view.current)
    j["current"] = {{"canary", figures_json(view.current->canary)},
                    {"stable", figures_json(view.current->stable)}};
  if (view.state.phase == RolloutPhase::running || view.judge_at_ms)
    j["judge_at"] = view.judge_at_ms ? nlohmann::json(*view.judge_at_ms) : nlohmann::json(nullptr);
  return j;
}

std::variant<RolloutView, std::vector<std::string>> rollout_view_from_json(
    const nlohmann::json& j) {
  auto state = rollout_state_from_json(j);
  if (auto* problems = std::get_if<std::vector<std::string>>(&state)) return std::move(*problems);
  RolloutView out{std::get<RolloutState>(std::move(state)), std::nullopt, std::nullopt};
  std::vector<std::string> problems;
  detail::Fields f(j, problems);
  if (const nlohmann::json* current = f.member("current", false); current) {
    if (!current->is_object()) {
      f.wrong_type(f.name("current"), "an object", *current);
    } else {
      detail::Fields c(*current, problems, {}, "current.");
      auto canary = read_figures(c, "canary");
      auto stable = read_figures(c, "stable");
      if (canary && stable) out.current = Judgement{*canary, *stable};
    }
  }
  if (const nlohmann::json* at = f.member("judge_at", false); at && !at->is_null()) {
    if (at->is_number_integer())
      out.judge_at_ms = at->get<std::int64_t>();
    else
      f.wrong_type(f.name("judge_at"), "an integer or null", *at);
  }
  if (!problems.empty()) return problems;
  return out;
}

std::vector<std::string> validate_rollout_spec(const RolloutSpec& spec, bool from_required,
                                               const std::vector<std::string_view>& unread) {
  std::vector<std::string> problems;
  const auto add = [&](const Problem& p) {
    if (p) problems.push_back(*p);
  };
  // A field that could not be read keeps its default or what of it could be read: not checked.
  const auto check = [&](std::string_view field) {
    return std::ranges::find(unread, field) == unread.end();
  };
  add(check_service_name(spec.service));
  if (!spec.consumer.empty() && check("consumer")) add(check_consumer_name(spec.consumer));
  if (check("to")) add(check_version(spec.to, "to"));
  if (check("from")) {
    if (!spec.from.empty())
      add(check_version(spec.from, "from"));
    else if (from_required)
      problems.push_back(invalid("from", spec.from, "the stable version is needed"));
  }
  if (!spec.to.empty() && spec.to == spec.from)
    problems.push_back(invalid("from", spec.from, "must differ from to"));

  if (check("steps")) {
    if (spec.steps.empty() || spec.steps.size() > kMaxRolloutSteps)
      problems.push_back("steps: " + std::to_string(spec.steps.size()) + " given, 1.." +
                         std::to_string(kMaxRolloutSteps) + " allowed");
    for (std::size_t i = 0; i < spec.steps.size(); ++i) {
      const std::string field = "steps[" + std::to_string(i) + "]";
      add(check_range(spec.steps[i], 1, 100, field));
      if (i > 0 && spec.steps[i] <= spec.steps[i - 1])
        problems.push_back(field + " " + std::to_string(spec.steps[i]) +
                           " is not above the step before it (" +
                           std::to_string(spec.steps[i - 1]) + "): steps must increase");
    }
  }
  if (check("interval") &&
      (spec.interval < kMinRolloutInterval || spec.interval > kMaxRolloutInterval))
    problems.push_back(invalid("interval", format_duration(spec.interval),
                               "must be from " + format_duration(kMinRolloutInterval) + " to " +
                                   format_duration(kMaxRolloutInterval)));
  if (check("max_error_ratio") && !(spec.max_error_ratio >= 0 && spec.max_error_ratio <= 1))
    problems.push_back(invalid("max_error_ratio", number(spec.max_error_ratio),
                               "must be from 0 to 1 (1% is 0.01)"));
  if (check("max_p99") && spec.max_p99_ms &&
      !(*spec.max_p99_ms > 0 && std::isfinite(*spec.max_p99_ms)))
    problems.push_back(invalid("max_p99", number(*spec.max_p99_ms) + "ms", "must be above 0"));
  if (check("max_p99_ratio") && spec.max_p99_ratio &&
      !(*spec.max_p99_ratio >= 1 && std::isfinite(*spec.max_p99_ratio)))
    problems.push_back(invalid("max_p99_ratio", number(*spec.max_p99_ratio),
                               "must be at least 1 (the canary's p99 over the stable version's)"));
  if (check("min_requests"))
    add(check_range(static_cast<long long>(std::min<std::uint64_t>(spec.min_requests, 1LL << 62)),
                    1, 1'000'000'000, "min_requests"));
  return problems;
}

}  // namespace dstack::model
