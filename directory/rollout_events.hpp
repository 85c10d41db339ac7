// SPDX-License-Identifier: Apache-2.0
#pragma once
// Rollouts as the API shows them (docs/api.md#rollouts) and the watch stream's rollout events:
// the list as a stream opened with rollouts=1 starts, then one line each time a rollout is kept
// or removed. Like consumer events they are not changes: they carry the current revision, are
// not in the history and are not replayed (the routes a rollout sets are changes, and are).

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "directory/rollouts.hpp"

namespace dstack::directory {

// One rollout as the API shows it (model::RolloutView).
nlohmann::json rollout_json(const Rollouts& rollouts, const model::RolloutState& rollout);

// {"type":"rollouts","revision":N,"rollouts":[...]}: every rollout, as GET /v1/rollouts.
std::string rollouts_event_line(const Rollouts& rollouts, std::uint64_t revision);

// {"type":"rollout_put","revision":N,"rollout":{...}} or, `now` null,
// {"type":"rollout_delete","revision":N,"service":S}.
std::string rollout_event_line(const Rollouts& rollouts, const std::string& service,
                               const model::RolloutState* now, std::uint64_t revision);

}  // namespace dstack::directory
