// SPDX-License-Identifier: Apache-2.0
#include "directory/policy_log_format.hpp"

#include "common/model/traffic_policy.hpp"
#include "directory/store_json.hpp"

namespace dstack::directory::policy_log {
using nlohmann::json;
using store_json::fail;

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  model::TrafficPolicy stored = op.policy;
  stored.revision = 0;  // the directory's revision counter starts again at each epoch
  const json j = store_json::service_op(op.remove, op.policy.service, "policy",
                                        op.remove ? json() : model::to_json(stored));
  return store_json::round_trip<Op>(
      j, decode_payload,
      [&](const Op& back) {
        return back.remove == op.remove && back.policy.service == op.policy.service &&
               (op.remove || back.policy == stored);  // revisions are not stored
      },
      "policy", payload_out, why);
}

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = store_json::parse_object(payload, why);
  if (j.is_discarded()) return false;
  op = Op{};
  const json* policy = nullptr;
  if (!store_json::read_service_op(j, "policy", op.remove, op.policy.service, policy, why))
    return false;
  if (op.remove) return true;
  auto read = model::traffic_policy_from_json(*policy);
  if (auto* problems = std::get_if<std::vector<std::string>>(&read))
    return fail(why, "policy: " + problems->front());
  op.policy = std::move(std::get<model::TrafficPolicy>(read));
  op.policy.revision = 0;  // never meant to be stored: the directory's counter starts anew
  return true;
}

const record_log::Format& format() {
  static const record_log::Format f{
      kMagic, "policy log",
      [](std::string_view payload, record_log::Change& change, std::string* why) {
        Op op;
        if (!decode_payload(payload, op, why)) return false;
        change = {op.policy.service, op.remove};
        return true;
      }};
  return f;
}

}  // namespace dstack::directory::policy_log
