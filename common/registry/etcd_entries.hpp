// SPDX-License-Identifier: Apache-2.0
#pragma once
// etcd key-values (as its JSON gateway sends them: base64 key and value, int64s as strings) read
// as dstack state. etcd does no validation of its own, so every value is validated here exactly
// as the directory validates a request; one that fails counts as absent and says why, so a
// hand-edited or hostile key can take an entry out of rotation but never into an HAProxy config.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/model/model.hpp"
#include "common/registry/etcd_keys.hpp"

namespace dstack::registry::etcd {

// int64s arrive as decimal strings and zero values are left out: 0 when absent or not a number.
std::uint64_t number_field(const nlohmann::json& object, const char* key);
std::string string_field(const nlohmann::json& object, const char* key);
bool bool_field(const nlohmann::json& object, const char* key);  // false unless a true bool
// The member, or null when `object` is not an object or lacks it (nlohmann's const operator[]
// must not be asked for a missing key).
const nlohmann::json& field(const nlohmann::json& object, const char* key);

struct Entry {
  ParsedKey key;
  std::string key_text;                        // the whole key, for messages
  std::uint64_t revision = 0;                  // the key's mod_revision
  std::optional<model::Instance> instance;     // set: a valid instance
  std::optional<model::Route> route;           // set: a valid route
  std::optional<model::TrafficPolicy> policy;  // set: a valid traffic policy
  std::string problem;                         // set: invalid; the entry counts as absent
  bool names_valid = true;                     // false: the key's names break the name rules
};

// One kv of a range answer or a watch event. `deleted`: a DELETE event (the kv has no value).
// nullopt for keys that are not dstack's (other tools may share the prefix).
std::optional<Entry> read_entry(const KeyLayout& keys, const nlohmann::json& kv, bool deleted);

// Logs that an invalid entry is ignored, and why.
void report_ignored(const Entry& entry);

// The watch event an entry stands for: a put when it holds a valid value, else a delete.
model::Event to_event(Entry entry);

// The value stored for an instance, a route or a policy: the body the directory's PUT takes.
std::string instance_value(const model::Instance& instance);
std::string route_value(const model::Route& route);
std::string policy_value(const model::TrafficPolicy& policy);

}  // namespace dstack::registry::etcd
