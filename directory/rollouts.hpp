// SPDX-License-Identifier: Apache-2.0
#pragma once
// The directory's rollouts (docs/rollouts.md): it starts them, carries out what the machine
// (rollout_machine.hpp) decides — routes through State, rollouts through RolloutStore, each
// durable before the next — counts each running rollout's canary and stable traffic from the
// consumers' reports over its interval, and takes the operator's commands. No Asio: the server
// calls tick() a few times a second; times come from the injected clocks.
//
// Durability, in the machine's order: a route it asks for is set (on disk), then the rollout
// that follows is kept, then, for a running step, the rollout again as "applied" (its interval
// starts). After a crash, recover() sets again a step's route that may not have been set, and
// starts the interval of each running step again: the reports of the interval before died with
// the directory, and judging on half of them could promote without evidence.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/model/rollout.hpp"
#include "common/model/traffic.hpp"
#include "directory/api_error.hpp"
#include "directory/rollout_machine.hpp"
#include "directory/rollout_store.hpp"
#include "directory/state.hpp"

namespace dstack::directory {

class Rollouts {
 public:
  // How long after an interval's end its judgement waits for the reports that cover it: at
  // most the interval itself, and never more than this.
  static constexpr std::int64_t kMaxReportWaitMs = 10'000;
  // How often, at most, a running rollout's figures so far are given out anew for live views.
  static constexpr std::int64_t kFiguresEveryMs = 1'000;

  using WallClock = std::function<std::int64_t()>;  // ms since the Unix epoch
  // Called after each change kept on disk, with the rollout as it is now, or with only the
  // service (`now` null) when the rollout was removed.
  using Listener = std::function<void(const std::string& service, const model::RolloutState* now)>;

  Rollouts(RolloutStore& store, State& state, WallClock wall);

  void set_listener(Listener listener) { listener_ = std::move(listener); }

  // Once, after start-up (see above). Returns the problems it met (a route or a rollout that
  // could not be written); each is tried again by tick().
  std::vector<std::string> recover();

  // A new rollout, validated here against the service: `to` and `from` must be versions its
  // instances have; an empty `from` is the stable version (the route's heaviest target but `to`,
  // or the one version the instances have besides `to`). Refused (409) while the service has a
  // running or paused rollout. Its first step's route is set before this returns. Refused when
  // the rollout cannot be kept (503), with the route put back as it was.
  Outcome<model::RolloutState> start(model::RolloutSpec spec);

  enum class Command { pause, resume, promote, abort };
  // `by` says who asked ("token ops", "a user without a token"), for the reason kept.
  Outcome<model::RolloutState> command(const std::string& service, Command command,
                                       const std::string& by);
  // Forgets a rollout that ended; 409 for one running or paused (abort or promote it first).
  Outcome<> remove(const std::string& service);

  const std::map<std::string, model::RolloutState>& all() const { return store_.rollouts(); }
  const model::RolloutState* find(const std::string& service) const;

  // A consumer's report, received now: each running rollout of a service in it counts its
  // canary's and its stable version's requests (only from its consumer, when it has one). A
  // report counts in the share of it that falls inside the rollout's interval (reports come every
  // few seconds, and a step begins and ends in the middle of one); its share past the interval's
  // end counts too if the judgement lengthens the interval.
  void on_report(const std::string& consumer, const model::TrafficRows& report);
  // A person is about to change a route of `service` (put, delete, rollback): its running
  // rollout pauses first, and says so, so that it cannot set a step's route over theirs. The
  // person wins; resume sets the step's route again. The refusal (503) when the pause could not
  // be kept: the route must then not change.
  std::optional<ApiError> pause_for_route_change(const std::string& service, const std::string& by);

  // Judges each running rollout whose interval has ended and whose consumers have reported
  // since (or, at the latest, after kMaxReportWait); sets again a route that failed.
  void tick();

  // The canary's and the stable version's figures so far in the current interval.
  model::Judgement so_far(const std::string& service) const;
  // The running rollouts whose figures so far reports changed since they were last given out,
  // each at most once per kFiguresEveryMs: for the watch stream's rollout events, which
  // otherwise come only with decisions (docs/api.md#rollout-events).
  std::vector<std::string> fresh_figures();

 private:
  // What the reports say about one rollout's interval.
  struct Tally {
    std::int64_t since_ms = -1;  // the interval_start_ms it counts for
    model::TrafficCounts canary, stable;
    // What reports held of the time after the interval's end, while its judgement waited for
    // them: counted in when that judgement lengthens the interval, which then covers it.
    model::TrafficCounts canary_after, stable_after;
    // When each consumer that sent either version's requests last reported.
    std::map<std::string, std::int64_t> reported_ms;
    bool fresh = false;          // counts added since fresh_figures() last gave them out
    std::int64_t given_ms = -1;  // when it did
  };
  // Whether the interval ending at `end_ms` can be judged at `now_ms`: every consumer that sent
  // requests has reported since its end, or the grace for late reports has passed.
  bool evidence_in(const model::RolloutState& state, std::int64_t end_ms, std::int64_t now_ms);

  // Carries out a decision in the durable order; the rollout as kept, or why not.
  Outcome<model::RolloutState> carry_out(const RolloutDecision& decision);
  std::optional<ApiError> set_route(const model::RolloutSpec& spec,
                                    const std::vector<model::RouteTarget>& targets);
  std::optional<ApiError> keep(const model::RolloutState& state);
  Tally& tally_of(const model::RolloutState& state);

  RolloutStore& store_;
  State& state_;
  WallClock wall_;
  Listener listener_;
  std::map<std::string, Tally> tallies_;  // by service, running rollouts only
};

const char* to_string(Rollouts::Command command);

}  // namespace dstack::directory
