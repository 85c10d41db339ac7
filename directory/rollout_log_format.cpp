// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_log_format.hpp"

#include "directory/store_json.hpp"

namespace dstack::directory::rollout_log {
using nlohmann::json;
using store_json::fail;

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  const json j = store_json::service_op(op.remove, op.rollout.spec.service, "rollout",
                                        op.remove ? json() : model::to_json(op.rollout));
  return store_json::round_trip<Op>(
      j, decode_payload,
      [&](const Op& back) {
        return back.remove == op.remove && back.rollout.spec.service == op.rollout.spec.service &&
               (op.remove || back.rollout == op.rollout);
      },
      "rollout", payload_out, why);
}

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = store_json::parse_object(payload, why);
  if (j.is_discarded()) return false;
  op = Op{};
  const json* rollout = nullptr;
  if (!store_json::read_service_op(j, "rollout", op.remove, op.rollout.spec.service, rollout, why))
    return false;
  if (op.remove) return true;
  auto read = model::rollout_state_from_json(*rollout);
  if (auto* problems = std::get_if<std::vector<std::string>>(&read))
    return fail(why, "rollout: " + problems->front());
  op.rollout = std::move(std::get<model::RolloutState>(read));
  return true;
}

const record_log::Format& format() {
  static const record_log::Format f{
      kMagic, "rollout log",
      [](std::string_view payload, record_log::Change& change, std::string* why) {
        Op op;
        if (!decode_payload(payload, op, why)) return false;
        change = {op.rollout.spec.service, op.remove};
        return true;
      }};
  return f;
}

}  // namespace dstack::directory::rollout_log
