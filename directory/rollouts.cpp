// SPDX-License-Identifier: Apache-2.0
#include "directory/rollouts.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>
#include <variant>

#include "common/model/json.hpp"

namespace dstack::directory {

namespace {

using model::version_figures;

// `fraction` (0..1] of each count, rounded: the part of a report inside an interval.
model::TrafficCounts share_of(const model::TrafficCounts& counts, double fraction) {
  if (fraction >= 1) return counts;
  model::TrafficCounts out;
  const auto part = [&](std::uint64_t v) {
    return static_cast<std::uint64_t>(std::llround(static_cast<double>(v) * fraction));
  };
  for (std::size_t i = 0; i < counts.requests.size(); ++i)
    out.requests[i] = part(counts.requests[i]);
  for (std::size_t i = 0; i < counts.duration.size(); ++i)
    out.duration[i] = part(counts.duration[i]);
  out.duration_sum_ms = part(counts.duration_sum_ms);
  return out;
}

// "is running", "is paused", "has succeeded", "was aborted".
std::string is(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::running:
      return "is running";
    case RolloutPhase::paused:
      return "is paused";
    case RolloutPhase::succeeded:
      return "has succeeded";
    case RolloutPhase::aborted:
      return "was aborted";
  }
  return "is ?";
}

bool active(const model::RolloutState& r) {
  return r.phase == RolloutPhase::running || r.phase == RolloutPhase::paused;
}

std::string step_text(const model::RolloutState& r) {
  return "step " + std::to_string(r.step + 1) + " of " + std::to_string(r.spec.steps.size()) +
         " (" + std::to_string(r.spec.steps[r.step]) + "%)";
}

}  // namespace

const char* to_string(Rollouts::Command command) {
  switch (command) {
    case Rollouts::Command::pause:
      return "pause";
    case Rollouts::Command::resume:
      return "resume";
    case Rollouts::Command::promote:
      return "promote";
    case Rollouts::Command::abort:
      return "abort";
  }
  return "?";
}

Rollouts::Rollouts(RolloutStore& store, State& state, WallClock wall)
    : store_(store), state_(state), wall_(std::move(wall)) {}

const model::RolloutState* Rollouts::find(const std::string& service) const {
  auto it = store_.rollouts().find(service);
  return it == store_.rollouts().end() ? nullptr : &it->second;
}

std::optional<ApiError> Rollouts::set_route(const model::RolloutSpec& spec,
                                            const std::vector<model::RouteTarget>& targets) {
  if (auto now = state_.route(spec.service, spec.consumer); now && now->targets == targets)
    return std::nullopt;  // already so: no event, no write
  auto done = state_.put_route({spec.service, spec.consumer, targets, 0});
  if (auto* e = std::get_if<ApiError>(&done)) return *e;
  return std::nullopt;
}

std::optional<ApiError> Rollouts::keep(const model::RolloutState& state) {
  if (auto ec = store_.put(state))
    return ApiError{503, "store_failed", "rollout not saved: " + ec.message()};
  return std::nullopt;
}

Outcome<model::RolloutState> Rollouts::carry_out(const RolloutDecision& d) {
  if (d.route)
    if (auto e = set_route(d.state.spec, *d.route)) return *e;
  model::RolloutState kept = d.state;
  if (d.changed || d.route)
    if (auto e = keep(kept)) return *e;
  std::optional<ApiError> failed;
  if (d.route && kept.phase == RolloutPhase::running) {
    auto applied = route_applied(kept, wall_());
    failed = keep(applied);
    if (!failed) kept = std::move(applied);
  }
  if (kept.phase != RolloutPhase::running) tallies_.erase(kept.spec.service);
  if (listener_) listener_(kept.spec.service, find(kept.spec.service));  // once per decision
  if (failed) return *failed;
  return kept;
}

std::vector<std::string> Rollouts::recover() {
  std::vector<std::string> problems;
  std::vector<model::RolloutState> running;
  for (const auto& [service, r] : store_.rollouts())
    if (r.phase == RolloutPhase::running) running.push_back(r);
  for (auto& r : running) {
    std::optional<std::vector<model::RouteTarget>> route_now;
    if (auto route = state_.route(r.spec.service, r.spec.consumer)) route_now = route->targets;
    auto d = recovered(r, route_now, wall_());
    auto done = carry_out(d);
    if (auto* e = std::get_if<ApiError>(&done))
      problems.push_back("rollout of " + r.spec.service + ": " + e->message);
  }
  return problems;
}

Outcome<model::RolloutState> Rollouts::start(model::RolloutSpec spec) {
  if (auto* now = find(spec.service); now && active(*now))
    return ApiError{409, "rollout_exists",
                    "service " + spec.service + " already has a rollout " +
                        model::to_string(now->phase) + " (to version " + now->spec.to + ", " +
                        step_text(*now) + "): abort or promote it first"};
  std::set<std::string> versions;
  for (const auto* in : state_.instances_of(spec.service)) versions.insert(in->version);
  const auto list = [&] {
    std::string out;
    for (const auto& v : versions) out += (out.empty() ? "" : ", ") + v;
    return out.empty() ? std::string("none") : out;
  };
  if (!versions.contains(spec.to))
    return ApiError{400, "invalid_rollout",
                    "to \"" + spec.to + "\": no instance of " + spec.service +
                        " has this version (versions with instances: " + list() + ")"};
  if (spec.from.empty()) {
    // The stable version: what the route gives the most to, else the one other version there is.
    auto route = state_.route(spec.service, spec.consumer);
    if (!route && !spec.consumer.empty()) route = state_.route(spec.service, "");
    int heaviest = -1;
    if (route)
      for (const auto& t : route->targets)
        if (t.version != spec.to && t.weight > heaviest) {
          heaviest = t.weight;
          spec.from = t.version;
        }
    if (spec.from.empty()) {
      std::vector<std::string> others;
      for (const auto& v : versions)
        if (v != spec.to) others.push_back(v);
      if (others.size() != 1)
        return ApiError{
            400, "invalid_rollout",
            "from: needed, since " + spec.service + " has no route naming a version besides " +
                spec.to + " and its instances have " +
                (others.empty() ? std::string("no other version") : "versions " + list()) +
                ": say which version is stable"};
      spec.from = others.front();
    }
  }
  if (!versions.contains(spec.from))
    return ApiError{400, "invalid_rollout",
                    "from \"" + spec.from + "\": no instance of " + spec.service +
                        " has this version (versions with instances: " + list() + ")"};
  if (auto problems = model::validate_rollout_spec(spec); !problems.empty())
    return ApiError{400, "invalid_rollout", model::join(problems)};
  tallies_.erase(spec.service);
  std::optional<std::vector<model::RouteTarget>> route_before;
  if (auto route = state_.route(spec.service, spec.consumer)) route_before = route->targets;
  auto replaced_before = state_.previous_route(spec.service, spec.consumer);
  const auto service = spec.service;
  const auto consumer = spec.consumer;
  auto started = carry_out(start_rollout(std::move(spec)));
  const auto* e = std::get_if<ApiError>(&started);
  if (!e) return started;
  // Kept, though not yet as applied: it runs, and the next tick keeps it so (as after a restart).
  if (const auto* kept = find(service); kept && kept->phase == RolloutPhase::running) return *kept;
  // Not kept: the first step's route, if it was set, goes back to what it was.
  auto route_now = state_.route(service, consumer);
  const bool changed = route_now ? route_now->targets != route_before : route_before.has_value();
  if (!changed) return *e;
  // As it was, what a rollback would go back to included.
  auto put_back = route_before ? state_.put_route({service, consumer, *route_before, 0},
                                                  std::move(replaced_before))
                               : state_.delete_route(service, consumer);
  if (auto* failed = std::get_if<ApiError>(&put_back))
    return ApiError{e->status, e->code,
                    e->message + "; the route of " + service +
                        " is its first step's and could not be put back: " + failed->message};
  return *e;
}

Outcome<model::RolloutState> Rollouts::command(const std::string& service, Command command,
                                               const std::string& by) {
  const auto* now = find(service);
  if (!now) return ApiError{404, "rollout_not_found", "service " + service + " has no rollout"};
  const auto& r = *now;
  RolloutDecision d;
  switch (command) {
    case Command::pause:
      d = pause(r, "paused by " + by + " at " + step_text(r));
      break;
    case Command::resume:
      d = resume(r, wall_());
      break;
    case Command::promote:
      d = promote(r);
      break;
    case Command::abort:
      d = abort(r, "aborted by " + by + " at " + step_text(r) +
                       "; the route is back at 100% version " + r.spec.from);
      break;
  }
  if (!d.changed) {
    const char* need = command == Command::resume  ? "paused"
                       : command == Command::pause ? "running"
                                                   : "running or paused";
    return ApiError{409, "rollout_" + std::string(model::to_string(r.phase)),
                    "the rollout of " + service + " " + is(r.phase) + "; only a " + need +
                        " one can be told to " + to_string(command)};
  }
  if (command == Command::promote) d.state.reason = "promoted by " + by + " at " + step_text(r);
  return carry_out(d);
}

Outcome<> Rollouts::remove(const std::string& service) {
  const auto* now = find(service);
  if (!now) return ApiError{404, "rollout_not_found", "service " + service + " has no rollout"};
  if (active(*now))
    return ApiError{409, "rollout_active",
                    "the rollout of " + service + " " + is(now->phase) + " at " + step_text(*now) +
                        ": abort or promote it first"};
  if (auto ec = store_.remove(service))
    return ApiError{503, "store_failed", "rollout not removed: " + ec.message()};
  tallies_.erase(service);
  if (listener_) listener_(service, nullptr);
  return Done{};
}

Rollouts::Tally& Rollouts::tally_of(const model::RolloutState& state) {
  auto& t = tallies_[state.spec.service];
  if (t.since_ms != state.interval_start_ms) t = Tally{state.interval_start_ms, {}, {}};
  return t;
}

void Rollouts::on_report(const std::string& consumer, const model::TrafficRows& report) {
  if (store_.rollouts().empty()) return;
  const auto now = wall_();
  for (const auto& row : report.rows) {
    const auto* r = find(row.service);
    if (!r || r->phase != RolloutPhase::running || !r->route_applied) continue;
    if (!r->spec.consumer.empty() && r->spec.consumer != consumer) continue;
    if (row.version != r->spec.to && row.version != r->spec.from) continue;
    auto& tally = tally_of(*r);
    tally.reported_ms[consumer] = now;
    // The report covers the interval_ms before now, requests spread evenly over it: what lies
    // between the interval's start and its end counts; what lies after the end is kept aside,
    // in case the judgement lengthens the interval over it.
    if (report.interval_ms <= 0) continue;
    const auto end = judge_at_ms(*r);
    const auto from = std::max(now - report.interval_ms, r->interval_start_ms);
    const bool canary = row.version == r->spec.to;
    if (const auto inside = std::min(now, end) - from; inside > 0) {
      const auto counts = share_of(
          row.counts, static_cast<double>(inside) / static_cast<double>(report.interval_ms));
      (canary ? tally.canary : tally.stable).add(counts);
      tally.fresh = tally.fresh || !counts.empty();
    }
    if (const auto after = now - std::max(from, end); after > 0)
      (canary ? tally.canary_after : tally.stable_after)
          .add(share_of(row.counts,
                        static_cast<double>(after) / static_cast<double>(report.interval_ms)));
  }
}

std::vector<std::string> Rollouts::fresh_figures() {
  std::vector<std::string> out;
  const auto now = wall_();
  for (auto& [service, tally] : tallies_) {
    const auto* r = find(service);
    if (!tally.fresh || !r || r->phase != RolloutPhase::running ||
        tally.since_ms != r->interval_start_ms)
      continue;
    if (tally.given_ms >= 0 && now - tally.given_ms < kFiguresEveryMs) continue;
    tally.fresh = false;
    tally.given_ms = now;
    out.push_back(service);
  }
  return out;
}

std::optional<ApiError> Rollouts::pause_for_route_change(const std::string& service,
                                                         const std::string& by) {
  const auto* r = find(service);
  if (!r || r->phase != RolloutPhase::running) return std::nullopt;
  // Kept before the route changes, and so worded, true even if the route's own write fails.
  auto paused = carry_out(pause(*r, "paused for a route change by " + by + " at " + step_text(*r) +
                                        "; resume sets the step's route again"));
  if (auto* e = std::get_if<ApiError>(&paused))
    return ApiError{e->status, e->code,
                    "the rollout of " + service +
                        " could not be paused, so the route was not changed: " + e->message};
  return std::nullopt;
}

model::Judgement Rollouts::so_far(const std::string& service) const {
  const auto* r = find(service);
  auto it = tallies_.find(service);
  if (!r || it == tallies_.end() || it->second.since_ms != r->interval_start_ms) return {};
  return {version_figures(it->second.canary), version_figures(it->second.stable)};
}

bool Rollouts::evidence_in(const model::RolloutState& state, std::int64_t end_ms,
                           std::int64_t now_ms) {
  const auto wait = std::min<std::int64_t>(state.spec.interval.count(), kMaxReportWaitMs);
  if (now_ms >= end_ms + wait) return true;
  const auto& reported = tally_of(state).reported_ms;
  return !reported.empty() && std::ranges::all_of(reported, [&](const auto& consumer) {
    return consumer.second >= end_ms;
  });
}

void Rollouts::tick() {
  std::vector<model::RolloutState> running;
  for (const auto& [service, r] : store_.rollouts())
    if (r.phase == RolloutPhase::running) running.push_back(r);
  const auto now = wall_();
  for (const auto& r : running) {
    if (!r.route_applied) {  // its route could not be set or kept: try again
      (void)carry_out({r, step_route(r.spec, r.spec.steps[r.step]), true});
      continue;
    }
    const auto end = judge_at_ms(r);
    if (now < end) {  // a bad version goes as soon as that is certain
      const auto& t = tally_of(r);
      auto early = early_judgement(r, now, t.canary, t.stable);
      if (early.changed) (void)carry_out(early);
      continue;
    }
    if (!evidence_in(r, end, now)) continue;
    auto d = advance(r, now, [&] {
      auto& t = tally_of(r);
      return model::Judgement{version_figures(t.canary), version_figures(t.stable)};
    });
    if (!d.changed && !d.route) continue;
    const bool lengthened = d.state.phase == RolloutPhase::running && d.state.waits > r.waits;
    if (std::holds_alternative<model::RolloutState>(carry_out(d)) && lengthened) {
      // The interval now runs past the reports' time after its old end: they count in it.
      auto& t = tally_of(r);
      t.canary.add(std::exchange(t.canary_after, {}));
      t.stable.add(std::exchange(t.stable_after, {}));
      t.fresh = true;
    }
  }
}

}  // namespace dstack::directory
