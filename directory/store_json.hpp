// SPDX-License-Identifier: Apache-2.0
#pragma once
// Small helpers the stores' payload readers share: their payloads are compact JSON objects,
// and a reader that refuses one says why.

#include <nlohmann/json.hpp>
#include <string>

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

}  // namespace dstack::directory::store_json
