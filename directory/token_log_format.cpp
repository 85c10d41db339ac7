// SPDX-License-Identifier: Apache-2.0
#include "directory/token_log_format.hpp"

#include <algorithm>

#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "directory/caller.hpp"
#include "directory/store_json.hpp"

namespace dstack::directory::token_log {

using nlohmann::json;
using store_json::fail;
using store_json::get_string;

namespace {

bool lowercase_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  json j = {{"op", op.remove ? "delete" : "put"}, {"name", op.token.name}};
  if (!op.remove) {
    json policies = json::array();
    for (const auto& p : op.token.policies) policies.push_back(model::to_string(p));
    j["policies"] = std::move(policies);
    j["digest"] = op.token.digest;
    j["created"] = op.token.created;
    j["expires"] = op.token.expires;
  }
  return store_json::round_trip<Op>(
      j, decode_payload,
      [&](const Op& back) {
        return back.token.name == op.token.name && (op.remove || back.token == op.token);
      },
      "token", payload_out, why);
}

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = store_json::parse_object(payload, why);
  if (j.is_discarded()) return false;
  std::string kind;
  op = Op{};
  if (!get_string(j, "op", kind, why) || !get_string(j, "name", op.token.name, why)) return false;
  if (auto problem = model::check_token_name(op.token.name)) return fail(why, *problem);
  // The admin token's name: a stored token by it would pass for the admin in lease checks.
  if (op.token.name == kAdminName) return fail(why, "token \"admin\" is reserved");
  if (kind == "delete") {
    op.remove = true;
    return true;
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");

  const auto policies = j.find("policies");
  if (policies == j.end() || !policies->is_array() || policies->empty())
    return fail(why, "\"policies\" missing, not an array or empty");
  std::vector<std::string> texts;
  for (const json& p : *policies) {
    if (!p.is_string()) return fail(why, "a policy is not a string");
    texts.push_back(p.get<std::string>());
  }
  auto parsed = model::parse_policies(texts);
  if (auto* problems = std::get_if<std::vector<std::string>>(&parsed))
    return fail(why, model::join(*problems));
  op.token.policies = std::get<std::vector<model::Policy>>(std::move(parsed));

  if (!get_string(j, "digest", op.token.digest, why)) return false;
  if (op.token.digest.size() != 64 || !lowercase_hex(op.token.digest))
    return fail(why, "\"digest\" is not 64 lowercase hex digits");
  return store_json::get_unsigned(j, "created", op.token.created, why) &&
         store_json::get_unsigned(j, "expires", op.token.expires, why);
}

const record_log::Format& format() {
  static const record_log::Format f{
      kMagic, "token log",
      [](std::string_view payload, record_log::Change& change, std::string* why) {
        Op op;
        if (!decode_payload(payload, op, why)) return false;
        change = {op.token.name, op.remove};
        return true;
      }};
  return f;
}

}  // namespace dstack::directory::token_log
