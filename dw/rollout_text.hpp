// SPDX-License-Identifier: Apache-2.0
#pragma once
// What dw shows of rollouts (docs/dw.md#rollouts), free of I/O so every form is unit-tested:
// one rollout's status (its steps, the figures beside their bounds, what happens next) and the
// list's table; and the flags of `dw rollout start` read into a specification.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/model/rollout.hpp"
#include "dw/table.hpp"

namespace dstack::dw {

// `dw rollout start`'s flags as typed; absent: the default (model::RolloutSpec's).
struct RolloutFlags {
  std::string to, from, consumer;
  std::optional<std::string> steps, interval, max_error_ratio, max_p99, max_p99_ratio, min_requests;
};

// The specification the flags describe ("5,25,50,100"; "1%" or "0.01"; "500ms"; "1.5"), or
// every problem, each naming the flag, the value and the rule.
std::variant<model::RolloutSpec, std::vector<std::string>> parse_rollout_flags(
    const std::string& service, const RolloutFlags& flags);

// The status of one rollout at `now_ms` (wall-clock ms), lines without their newlines.
std::vector<std::string> rollout_status_lines(const model::RolloutView& view, std::int64_t now_ms);

// SERVICE TO FROM FOR PHASE STEP REASON
Table rollout_table(const std::vector<model::RolloutView>& rollouts);

}  // namespace dstack::dw
