// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_machine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dstack::directory {

namespace {

constexpr int kWaitsBeforePause = 3;

RolloutDecision changed(RolloutState state,
                        std::optional<std::vector<model::RouteTarget>> route = std::nullopt) {
  return {std::move(state), std::move(route), true};
}

}  // namespace

std::vector<model::RouteTarget> step_route(const model::RolloutSpec& spec, int percent) {
  if (percent >= 100) return {{spec.to, 100}};
  if (percent <= 0) return {{spec.from, 100}};
  return {{spec.to, percent}, {spec.from, 100 - percent}};
}

RolloutDecision start_rollout(model::RolloutSpec spec) {
  RolloutState state;
  state.spec = std::move(spec);
  auto route = step_route(state.spec, state.spec.steps.front());
  return changed(std::move(state), std::move(route));
}

RolloutState route_applied(RolloutState state, std::int64_t now_ms) {
  state.route_applied = true;
  state.interval_start_ms = now_ms;
  return state;
}

std::optional<std::string> breach(const model::RolloutSpec& spec, const Judgement& j) {
  const auto& c = j.canary;
  if (c.error_ratio() > spec.max_error_ratio)
    return "error ratio " + model::percent_text(c.error_ratio()) + " (" + std::to_string(c.errors) +
           " of " + std::to_string(c.requests) + " requests) over max_error_ratio " +
           model::percent_text(spec.max_error_ratio);
  if (spec.max_p99_ms && c.p99_ms && *c.p99_ms > *spec.max_p99_ms)
    return "p99 " + model::ms_text(*c.p99_ms) + " over max_p99 " + model::ms_text(*spec.max_p99_ms);
  if (spec.max_p99_ratio && c.p99_ms && j.stable.p99_ms && *j.stable.p99_ms > 0 &&
      *c.p99_ms > *spec.max_p99_ratio * *j.stable.p99_ms) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", *c.p99_ms / *j.stable.p99_ms);
    char bound[32];
    std::snprintf(bound, sizeof bound, "%.2f", *spec.max_p99_ratio);
    return "p99 " + model::ms_text(*c.p99_ms) + " is " + ratio + " times the stable version's " +
           model::ms_text(*j.stable.p99_ms) + ", over max_p99_ratio " + bound;
  }
  return std::nullopt;
}

RolloutDecision judged(const RolloutState& given, const Judgement& j) {
  RolloutState state = given;
  state.last = j;
  const auto& spec = state.spec;
  // Errors so many that the error ratio would be over its bound even if every request still
  // needed to reach min_requests succeeded: evidence enough to abort (never to promote).
  const bool certain_errors = static_cast<double>(j.canary.errors) >
                              spec.max_error_ratio * static_cast<double>(std::max<std::uint64_t>(
                                                         j.canary.requests, spec.min_requests));
  if (j.canary.requests < spec.min_requests && !certain_errors) {
    // No evidence either way: the interval goes on for one more length (its figures keep adding
    // up), and not for ever.
    if (++state.waits >= kWaitsBeforePause) {
      state.phase = RolloutPhase::paused;
      state.reason = "too little traffic: " + std::to_string(j.canary.requests) +
                     " requests of version " + spec.to + " in " + std::to_string(state.waits) +
                     " intervals, fewer than min_requests " + std::to_string(spec.min_requests);
      return changed(std::move(state));
    }
    return changed(std::move(state));
  }
  if (auto why = breach(spec, j)) {
    state.phase = RolloutPhase::aborted;
    state.reason = "at " + std::to_string(spec.steps[state.step]) + "%: " + *why;
    state.route_applied = false;
    return changed(std::move(state), step_route(spec, 0));
  }
  state.waits = 0;
  if (state.step + 1 >= spec.steps.size()) {
    state.phase = RolloutPhase::succeeded;
    state.reason = model::kEveryStepPassed;
    state.route_applied = false;
    return changed(std::move(state), step_route(spec, 100));
  }
  ++state.step;
  state.route_applied = false;
  auto route = step_route(spec, spec.steps[state.step]);
  return changed(std::move(state), std::move(route));
}

RolloutDecision early_judgement(const RolloutState& given, std::int64_t now_ms,
                                const model::TrafficCounts& canary,
                                const model::TrafficCounts& stable) {
  const auto end = judge_at_ms(given);
  const auto elapsed = now_ms - given.interval_start_ms;
  if (given.phase != RolloutPhase::running || !given.route_applied || now_ms >= end || elapsed <= 0)
    return {given, std::nullopt, false};
  const auto& spec = given.spec;
  const Judgement so_far{model::version_figures(canary), model::version_figures(stable)};
  const auto& c = so_far.canary;
  const double projected = std::max(static_cast<double>(spec.min_requests),
                                    static_cast<double>(c.requests) *
                                        static_cast<double>(end - given.interval_start_ms) /
                                        static_cast<double>(elapsed));
  char into[64];
  std::snprintf(into, sizeof into, "%.1f s into the interval", static_cast<double>(elapsed) / 1000);
  std::string why;
  if (static_cast<double>(c.errors) > spec.max_error_ratio * projected) {
    why = *breach(spec, so_far) + ", " + into + ": too many errors for the interval to pass";
  } else if (spec.max_p99_ms && c.p99_ms && c.requests >= spec.min_requests) {
    // The interval as good as it can still end: the requests to come all in the first bucket.
    // Only with min_requests in, as at the interval's end: fewer are no evidence of latency.
    model::TrafficCounts best = canary;
    const double to_come = std::ceil(projected) - static_cast<double>(c.requests);
    if (to_come > 0) {
      const auto n = static_cast<std::uint64_t>(to_come);
      best.requests[static_cast<std::size_t>(model::CodeClass::c2xx)] += n;
      best.duration[0] += n;
    }
    const auto best_p99 = model::version_figures(best).p99_ms;
    if (best_p99 && *best_p99 > *spec.max_p99_ms)
      why = "p99 " + model::ms_text(*c.p99_ms) + " over max_p99 " +
            model::ms_text(*spec.max_p99_ms) + ", " + into +
            ": too many slow requests for the interval to pass";
  }
  if (why.empty()) return {given, std::nullopt, false};
  RolloutState state = given;
  state.last = so_far;
  state.phase = RolloutPhase::aborted;
  state.route_applied = false;
  state.reason = "at " + std::to_string(spec.steps[state.step]) + "%: " + why;
  return changed(std::move(state), step_route(spec, 0));
}

RolloutDecision recovered(const RolloutState& kept,
                          const std::optional<std::vector<model::RouteTarget>>& route_now,
                          std::int64_t now_ms) {
  const auto& spec = kept.spec;
  if (kept.phase != RolloutPhase::running) return {kept, std::nullopt, false};
  const auto step_now = step_route(spec, spec.steps[kept.step]);
  if (!kept.route_applied) return {kept, step_now, true};
  if (route_now == step_now) return {route_applied(kept, now_ms), std::nullopt, true};
  const std::string at = "at step " + std::to_string(kept.step + 1) + " of " +
                         std::to_string(spec.steps.size()) + " (" +
                         std::to_string(spec.steps[kept.step]) + "%)";
  const std::string unkept = ", set before the directory stopped, which kept no record of why";
  if (kept.step + 1 < spec.steps.size() &&
      route_now == step_route(spec, spec.steps[kept.step + 1])) {
    RolloutState state = kept;
    ++state.step;
    state.waits = 0;
    state.route_applied = false;
    return changed(std::move(state), step_route(spec, spec.steps[kept.step + 1]));
  }
  if (route_now == step_route(spec, 0))
    return abort(kept,
                 "aborted " + at + ": the route was back at 100% version " + spec.from + unkept);
  if (route_now == step_route(spec, 100)) {
    auto d = promote(kept);
    d.state.reason = "succeeded " + at + ": the route was 100% version " + spec.to + unkept;
    return d;
  }
  return pause(kept, "after a restart the route of " + spec.service + " was not that of " +
                         at.substr(3) + " nor one the rollout would set next: a person " +
                         "changed it; resume sets the step's route again");
}

RolloutDecision pause(const RolloutState& given, std::string reason) {
  if (given.phase != RolloutPhase::running) return {given, std::nullopt, false};
  RolloutState state = given;
  state.phase = RolloutPhase::paused;
  state.reason = std::move(reason);
  return changed(std::move(state));
}

RolloutDecision resume(const RolloutState& given, std::int64_t now_ms) {
  if (given.phase != RolloutPhase::paused) return {given, std::nullopt, false};
  RolloutState state = given;
  state.phase = RolloutPhase::running;
  state.reason.clear();
  state.waits = 0;
  // The step is judged on a whole interval from now, with its route set again: a person may
  // have changed it while the rollout was paused.
  state.route_applied = false;
  state.interval_start_ms = now_ms;
  auto route = step_route(state.spec, state.spec.steps[state.step]);
  return changed(std::move(state), std::move(route));
}

RolloutDecision promote(const RolloutState& given) {
  if (given.phase == RolloutPhase::succeeded || given.phase == RolloutPhase::aborted)
    return {given, std::nullopt, false};
  RolloutState state = given;
  state.phase = RolloutPhase::succeeded;
  state.reason = "promoted by hand at step " + std::to_string(state.step + 1);
  state.route_applied = false;
  return changed(std::move(state), step_route(state.spec, 100));
}

RolloutDecision abort(const RolloutState& given, std::string reason) {
  if (given.phase == RolloutPhase::succeeded || given.phase == RolloutPhase::aborted)
    return {given, std::nullopt, false};
  RolloutState state = given;
  state.phase = RolloutPhase::aborted;
  state.reason = std::move(reason);
  state.route_applied = false;
  return changed(std::move(state), step_route(state.spec, 0));
}

}  // namespace dstack::directory
