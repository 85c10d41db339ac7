// SPDX-License-Identifier: Apache-2.0
#pragma once
// A rollout (docs/rollouts.md): its specification, what `dw rollout start` and
// PUT /v1/rollouts/{svc} ask for, and its validation (each problem names the field, the value and
// the rule); its state as the directory keeps it; and the API's view of it.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/core/duration.hpp"
#include "common/model/traffic.hpp"

namespace dstack::model {

inline constexpr Duration kMinRolloutInterval = std::chrono::seconds(1);
inline constexpr Duration kMaxRolloutInterval = std::chrono::hours(24);
inline constexpr std::size_t kMaxRolloutSteps = 20;
// The reason of a rollout that succeeded on its figures, where one promoted by hand names who.
inline constexpr std::string_view kEveryStepPassed = "every step passed";

struct RolloutSpec {
  std::string service;
  std::string consumer;                    // "": everyone's route; else that consumer's
  std::string to;                          // the canary version
  std::string from;                        // the stable version, which keeps the rest
  std::vector<int> steps{5, 25, 50, 100};  // the canary's percent at each step, increasing
  Duration interval = std::chrono::minutes(1);
  // Bounds the canary is judged against at the end of each step's interval.
  double max_error_ratio = 0.01;        // 5xx and connection errors over all requests
  std::optional<double> max_p99_ms;     // absolute
  std::optional<double> max_p99_ratio;  // over the stable version's p99, same interval
  std::uint64_t min_requests = 200;     // fewer: no judgement, the step waits
  bool operator==(const RolloutSpec&) const = default;
};

// The body of PUT /v1/rollouts/{svc}: {"to","from","consumer","steps","interval",
// "max_error_ratio","max_p99","max_p99_ratio","min_requests"}, all but "to" optional (defaults as
// above; "from" is left empty for the directory to fill with the stable version). Unknown keys
// are refused. Every problem of reading, or else every problem of the values read (with `from`
// not yet required).
std::variant<RolloutSpec, std::vector<std::string>> rollout_spec_from_request(
    const nlohmann::json& body, std::string service);
// That body for this spec (what dw sends).
nlohmann::json to_request_json(const RolloutSpec& spec);

// A rollout as it goes (directory/rollout_machine.hpp decides what changes it).
enum class RolloutPhase { running, paused, succeeded, aborted };
const char* to_string(RolloutPhase phase);
std::optional<RolloutPhase> parse_rollout_phase(std::string_view text);

// One version's traffic over an interval, as the window measured it.
struct VersionFigures {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;      // 5xx and connection errors
  std::optional<double> p99_ms;  // none without requests
  double error_ratio() const {
    return requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0;
  }
  bool operator==(const VersionFigures&) const = default;
};

// A version's figures from its counts: requests, errors, p99 (to 10 us: the buckets are far
// coarser).
VersionFigures version_figures(const TrafficCounts& counts);

// How rollouts print their figures (reasons, dw): "1.25%", "48.0 ms".
std::string percent_text(double ratio);
std::string ms_text(double ms);

struct Judgement {
  VersionFigures canary, stable;
  bool operator==(const Judgement&) const = default;
};

struct RolloutState {
  model::RolloutSpec spec;
  RolloutPhase phase = RolloutPhase::running;
  std::size_t step = 0;                // index into spec.steps
  bool route_applied = false;          // the current step's route is on disk; its interval runs
  std::int64_t interval_start_ms = 0;  // wall-clock ms, when the interval being waited began
  int waits = 0;                       // intervals the current step waited for evidence
  std::string reason;                  // why it paused, ended or was aborted
  std::optional<Judgement> last;       // the figures of the last interval judged
  bool operator==(const RolloutState&) const = default;
};

// A rollout as the directory answers it and keeps it (rollouts.log):
//   {"service","spec":{...the request body...},"phase","step","route_applied",
//    "interval_start" (wall-clock ms),"waits","reason","last":{"canary":F,"stable":F}|null}
//   F: {"requests","errors","p99_ms"|null}
nlohmann::json to_json(const RolloutState& state);
// That form back, validated (the spec as a request's, with `from`; step within the steps).
std::variant<RolloutState, std::vector<std::string>> rollout_state_from_json(
    const nlohmann::json& j);

// A rollout as the API answers it (GET /v1/rollouts/{svc}): the kept form with, while it runs,
// "current" (the canary's and the stable version's figures so far in this interval, as "last")
// and "judge_at" (wall-clock ms when the interval ends; null until its route is set).
struct RolloutView {
  RolloutState state;
  std::optional<Judgement> current;
  std::optional<std::int64_t> judge_at_ms;
  bool operator==(const RolloutView&) const = default;
};
nlohmann::json to_json(const RolloutView& view);
std::variant<RolloutView, std::vector<std::string>> rollout_view_from_json(const nlohmann::json& j);

// Every problem of the spec: names, versions (to and from differ), steps (1..20 of them, each
// 1..100, strictly increasing), the interval (1s..24h), the bounds (error ratio 0..1, p99 above
// 0, p99 ratio at least 1) and min_requests (1..1,000,000,000).
// `from_required`: false for a request, where an empty `from` is the directory's to fill.
// `unread`: the fields whose value could not be read (a wrong type, a malformed duration), whose
// problem is named already: not checked again, so a request's every problem is named at once.
std::vector<std::string> validate_rollout_spec(const RolloutSpec& spec, bool from_required = true,
                                               const std::vector<std::string_view>& unread = {});

}  // namespace dstack::model
