// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_events.hpp"

namespace dstack::directory {

using nlohmann::json;

json rollout_json(const Rollouts& rollouts, const model::RolloutState& rollout) {
  model::RolloutView view{rollout, std::nullopt, std::nullopt};
  if (rollout.phase == model::RolloutPhase::running) {
    view.current = rollouts.so_far(rollout.spec.service);
    if (rollout.route_applied) view.judge_at_ms = judge_at_ms(rollout);
  }
  return model::to_json(view);
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
