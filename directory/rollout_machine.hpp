// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a rollout does next (docs/rollouts.md): a pure state machine in the manner of the
// project's others. The directory's driver (rollouts.hpp) feeds it the time, the figures of the
// interval just ended and the operator's commands, and carries out what it returns: a route to set,
// a state to keep on disk. No I/O, no clock of its own: every decision is tested with made-up
// times.
//
// A step: its route is set (canary at the step's percent, the stable version the rest); once
// that route is on disk the step's interval starts; at its end the canary is judged on that
// interval's traffic:
//   - fewer than min_requests canary requests: no evidence; the interval goes on for one more
//     length, its figures adding up, and the third time the rollout pauses with that reason
//     (no promotion without evidence) — unless its errors alone already put the error ratio over
//     its bound at min_requests, which aborts;
//   - error ratio over its bound, p99 over its bound, or p99 over max_p99_ratio times the stable
//     version's p99: abort, the route back to 100 % stable at once, the reason with the figures;
//   - otherwise the next step, or after the last one: succeeded, the route 100 % canary.
// A route the machine asks for is set before the state that follows it is kept as "applied", so
// after a crash a step's route is set again (the same route: no harm), a decision whose route
// was set is read from it (recovered()), no step is skipped, and a step is judged again only
// when the directory died before its judgement set a route or was kept.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/model/model.hpp"
#include "common/model/rollout.hpp"

namespace dstack::directory {

using model::Judgement;
using model::RolloutPhase;
using model::RolloutState;
using model::VersionFigures;

// What the driver must do after a decision, in this order: set `route` (durably), then keep
// `state` (durably); then, if a route was set, call route_applied().
struct RolloutDecision {
  RolloutState state;
  std::optional<std::vector<model::RouteTarget>> route;
  bool changed = false;  // state differs from the one given: keep it
};

// The route of a step: the canary at `percent`, the stable version the rest.
std::vector<model::RouteTarget> step_route(const model::RolloutSpec& spec, int percent);

// A new rollout: its first step's route to set.
RolloutDecision start_rollout(model::RolloutSpec spec);
// The route asked for is on disk: the step's interval starts now.
RolloutState route_applied(RolloutState state, std::int64_t now_ms);
// Called at least once a second while the rollout runs, and when `judge` can be asked: at the
// end of an interval, `judge()` gives that interval's figures. Nothing happens before.
template <class Judge>
RolloutDecision advance(const RolloutState& state, std::int64_t now_ms, Judge&& judge);

// Before the interval's end, on its counts so far: aborts when the canary's errors already put
// its error ratio over the bound for the whole interval, were every request still to come (at
// the rate so far, and up to min_requests at the least) to succeed; or, with min_requests in,
// its slow requests its p99 over max_p99, were every request still to come (at the rate so far)
// as fast as the fastest bucket. A bad version is taken out as soon as that is certain, not at
// the end of a long interval; a good one never triggers it (a ratio or p99 under the bound stays
// under it). Else nothing. max_p99_ratio waits for the end: the stable version's p99 is not
// known before.
RolloutDecision early_judgement(const RolloutState& state, std::int64_t now_ms,
                                const model::TrafficCounts& canary,
                                const model::TrafficCounts& stable);

// After a restart: a running rollout as it was kept, and its route as it is on disk now. The
// route of a decision is set before the state that follows it is kept, so a route that is not
// the step's is that of a decision the directory died before keeping (the next step, an abort,
// a promotion: carried on as decided, though the figures that made it died with the process),
// or a person's change, whose pause was not kept: any other route pauses the rollout, the route
// left as it is. A step whose route may not have been set gets it again; a step whose route is
// in place starts its interval again.
RolloutDecision recovered(const RolloutState& kept,
                          const std::optional<std::vector<model::RouteTarget>>& route_now,
                          std::int64_t now_ms);

// The operator's commands (and a person's own route change, which pauses a rollout).
RolloutDecision pause(const RolloutState& state, std::string reason);
RolloutDecision resume(const RolloutState& state, std::int64_t now_ms);
RolloutDecision promote(const RolloutState& state);
RolloutDecision abort(const RolloutState& state, std::string reason);

// The judgement itself, on its own for tests and for `dw rollout status`: nullopt when the canary
// passes its bounds, else the reason, naming the figure and its bound.
std::optional<std::string> breach(const model::RolloutSpec& spec, const Judgement& j);

// --- implementation of the template -----------------------------------------------------------

RolloutDecision judged(const RolloutState& state, const Judgement& j);

// When the current interval ends: its length past its start, once more for each wait.
inline std::int64_t judge_at_ms(const RolloutState& state) {
  return state.interval_start_ms + state.spec.interval.count() * (state.waits + 1);  // ms
}

template <class Judge>
RolloutDecision advance(const RolloutState& state, std::int64_t now_ms, Judge&& judge) {
  if (state.phase != RolloutPhase::running || !state.route_applied || now_ms < judge_at_ms(state))
    return {state, std::nullopt, false};
  return judged(state, judge());
}

}  // namespace dstack::directory
