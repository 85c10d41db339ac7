// SPDX-License-Identifier: Apache-2.0
#pragma once
// What policies.log's records say (framing: record_log_format.hpp), kept free of I/O so every
// decision is tested directly on byte strings.
//
//   magic   := "DSTACK-POLICIES 1\n"
//   payload := {"op":"put","policy":P}  |  {"op":"delete","service":S}        (compact JSON)
//
// P is a traffic policy in its wire form (traffic_policy.hpp) at revision 0 (revisions are the
// directory's counter, which starts anew at each start), read back with the same validation a
// reader of the API applies: a record that would not pass it is never written.

#include <string>
#include <string_view>

#include "common/model/model.hpp"
#include "directory/record_log_format.hpp"

namespace dstack::directory::policy_log {

inline constexpr std::string_view kMagic = "DSTACK-POLICIES 1\n";

struct Op {
  bool remove = false;
  model::TrafficPolicy policy;  // for a remove only the service matters
};

// The payload. Fails, with *why set, for a policy decode_payload would refuse or not reproduce
// exactly, or a payload over the record log's limit.
bool encode(const Op& op, std::string& payload, std::string* why = nullptr);
// Parses and validates one payload.
bool decode_payload(std::string_view payload, Op& op, std::string* why = nullptr);

// policies.log for record_log::parse and RecordLog; a record's key is its service.
const record_log::Format& format();

}  // namespace dstack::directory::policy_log
