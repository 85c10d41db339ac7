// SPDX-License-Identifier: Apache-2.0
#pragma once
// What rollouts.log's records say (framing: record_log_format.hpp), kept free of I/O so every
// decision is tested directly on byte strings.
//
//   magic   := "DSTACK-ROLLOUTS 1\n"
//   payload := {"op":"put","rollout":R}  |  {"op":"delete","service":S}        (compact JSON)
//
// R is a rollout as the directory answers it (model/rollout.hpp), read back with the same
// validation: a record that would not pass it is never written. One rollout per service.

#include <string>
#include <string_view>

#include "common/model/rollout.hpp"
#include "directory/record_log_format.hpp"

namespace dstack::directory::rollout_log {

inline constexpr std::string_view kMagic = "DSTACK-ROLLOUTS 1\n";

struct Op {
  bool remove = false;
  model::RolloutState rollout;  // for a remove only spec.service matters
};

// The payload. Fails, with *why set, for a rollout decode_payload would refuse or not reproduce
// exactly, or a payload over the record log's limit.
bool encode(const Op& op, std::string& payload, std::string* why = nullptr);
// Parses and validates one payload.
bool decode_payload(std::string_view payload, Op& op, std::string* why = nullptr);

// rollouts.log for record_log::parse and RecordLog; a record's key is its service.
const record_log::Format& format();

}  // namespace dstack::directory::rollout_log
