// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_events.hpp"

namespace dstack::directory {

using nlohmann::json;

namespace {

json figures_json(const model::VersionFigures& f) {
  return {{"requests", f.requests},
          {"errors", f.errors},
          {"p99_ms", f.p99_ms ? json(*f.p99_ms) : json(nullptr)}};
}

}  // namespace

json rollout_json(const Rollouts& rollouts, const model::RolloutState& rollout) {
  json j = model::to_json(rollout);
  if (rollout.phase != model::RolloutPhase::running) return j;
  const auto now = rollouts.so_far(rollout.spec.service);
  j["current"] = {{"canary", figures_json(now.canary)}, {"stable", figures_json(now.stable)}};
  j["judge_at"] = rollout.route_applied
                      ? json(rollout.interval_start_ms + rollout.spec.interval.count())
                      : json(nullptr);
  return j;
}

std::string rollouts_event_line(const Rollouts& rollouts, std::uint64_t revision) {
  json list = json::array();
  for (const auto& [service, r] : rollouts.all()) list.push_back(rollout_json(rollouts, r));
  return json{{"type", "rollouts"}, {"revision", revision}, {"rollouts", std::move(list)}}.dump() +
         "\n";
}

std::string rollout_event_line(const Rollouts& rollouts, const std::string& service,
                               const model::RolloutState* now, std::uint64_t revision) {
  const json line =
      now ? json{{"type", "rollout_put"},
                 {"revision", revision},
                 {"rollout", rollout_json(rollouts, *now)}}
          : json{{"type", "rollout_delete"}, {"revision", revision}, {"service", service}};
  return line.dump() + "\n";
}

}  // namespace dstack::directory
