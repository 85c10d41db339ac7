// SPDX-License-Identifier: Apache-2.0
#include "directory/rollout_log_format.hpp"

#include "directory/store_json.hpp"

namespace dstack::directory::rollout_log {
using nlohmann::json;
using store_json::fail;

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  json j = {{"op", op.remove ? "delete" : "put"}};
  if (op.remove)
    j["service"] = op.rollout.spec.service;
  else
    j["rollout"] = model::to_json(op.rollout);
  std::string payload;
  if (!store_json::dump(j, payload, why)) return false;
  Op back;
  if (!decode_payload(payload, back, why)) return false;
  if (back.rollout.spec.service != op.rollout.spec.service ||
      (!op.remove && back.rollout != op.rollout))
    return fail(why, "rollout does not survive a round trip through the log format");
  payload_out = std::move(payload);
  return true;
}

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = store_json::parse_object(payload, why);
  if (j.is_discarded()) return false;
  std::string kind;
  op = Op{};
  if (!store_json::get_string(j, "op", kind, why)) return false;
  if (kind == "delete") {
    op.remove = true;
    if (!store_json::get_string(j, "service", op.rollout.spec.service, why)) return false;
    if (op.rollout.spec.service.empty()) return fail(why, "empty service");
    return true;
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");
  const auto rollout = j.find("rollout");
  if (rollout == j.end()) return fail(why, "\"rollout\" missing");
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
