// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small helpers the stores' payload readers share: their payloads are compact JSON objects,
// and a reader that refuses one says why.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "directory/record_log_format.hpp"

namespace dstack::directory::store_json {

inline bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

inline bool get_string(const nlohmann::json& object, const char* key, std::string& out,
                       std::string* why) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string())
    return fail(why, std::string("\"") + key + "\" missing or not a string");
  out = it->get<std::string>();
  return true;
}

inline bool get_unsigned(const nlohmann::json& object, const char* key, std::uint64_t& out,
                         std::string* why) {
  const auto it = object.find(key);
  // Negative numbers are not number_unsigned, so this also refuses them.
  if (it == object.end() || !it->is_number_unsigned())
    return fail(why, std::string("\"") + key + "\" missing or not an unsigned integer");
  out = it->get<std::uint64_t>();
  return true;
}

// `j` as a compact payload: false for a string that is not valid UTF-8 (dump() refuses it) or
// a payload over the record log's limit.
inline bool dump(const nlohmann::json& j, std::string& out, std::string* why) {
  try {
    out = j.dump();
  } catch (const nlohmann::json::exception&) {
    return fail(why, "a string is not valid UTF-8");
  }
  if (out.size() > record_log::kMaxPayload) return fail(why, "record larger than 1 MiB");
  return true;
}

// A payload as a JSON object; a discarded value (null) with *why set when it is not one.
inline nlohmann::json parse_object(std::string_view payload, std::string* why) {
  nlohmann::json j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    fail(why, "not a JSON object");
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return j;
}

// `j` as the payload of `op`, but only if `decode` reads it back to an op `same` accepts: a record
// the store could not load again, or would load differently, never reaches the file. `what`
// names the thing in the refusal ("route", "policy", ...).
template <class Op, class Decode, class Same>
bool round_trip(const nlohmann::json& j, Decode decode, Same same, const char* what,
                std::string& payload_out, std::string* why) {
  std::string payload;
  if (!dump(j, payload, why)) return false;
  Op back;
  if (!decode(payload, back, why)) return false;
  if (!same(back))
    return fail(why, std::string(what) + " does not survive a round trip through the log format");
  payload_out = std::move(payload);
  return true;
}

// The payloads of the stores keyed by service (policies.log, rollouts.log):
//   {"op":"put","<member>":VALUE}  |  {"op":"delete","service":S}
inline nlohmann::json service_op(bool remove, const std::string& service, const char* member,
                                 nlohmann::json value) {
  if (remove) return {{"op", "delete"}, {"service", service}};
  return {{"op", "put"}, {member, std::move(value)}};
}
// Reads that form: `remove` and, for a delete, `service`; for a put, `value` points at the member
// (the caller reads what it holds).
inline bool read_service_op(const nlohmann::json& j, const char* member, bool& remove,
                            std::string& service, const nlohmann::json*& value, std::string* why) {
  std::string kind;
  if (!get_string(j, "op", kind, why)) return false;
  remove = kind == "delete";
  value = nullptr;
  if (remove) {
    if (!get_string(j, "service", service, why)) return false;
    return !service.empty() || fail(why, "empty service");
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");
  const auto it = j.find(member);
  if (it == j.end()) return fail(why, std::string("\"") + member + "\" missing");
  value = &*it;
  return true;
}

}  // namespace dstack::directory::store_json
