// SPDX-License-Identifier: Apache-2.0
#include "directory/policy_log_format.hpp"

#include "common/model/traffic_policy.hpp"
#include "directory/store_json.hpp"

namespace dstack::directory::policy_log {
using nlohmann::json;
using store_json::fail;

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  json j = {{"op", op.remove ? "delete" : "put"}};
  if (op.remove) {
    j["service"] = op.policy.service;
  } else {
    model::TrafficPolicy stored = op.policy;
    stored.revision = 0;  // the directory's revision counter starts again at each epoch
    j["policy"] = model::to_json(stored);
  }
  std::string payload;
  if (!store_json::dump(j, payload, why)) return false;
  Op back;
  if (!decode_payload(payload, back, why)) return false;
  back.policy.revision = op.policy.revision;  // not stored: decoding gives 0
  if (back.policy.service != op.policy.service || (!op.remove && back.policy != op.policy))
    return fail(why, "policy does not survive a round trip through the log format");
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
    if (!store_json::get_string(j, "service", op.policy.service, why)) return false;
    if (op.policy.service.empty()) return fail(why, "empty service");
    return true;
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");
  const auto policy = j.find("policy");
  if (policy == j.end()) return fail(why, "\"policy\" missing");
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
