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

}  // namespace dstack::directory::store_json
