// SPDX-License-Identifier: Apache-2.0
#pragma once
// Internal to dstack_model: typed, non-throwing access to the members of a JSON object, shared by
// the request parsers (json_request.cpp) and the client-side parsers (json_read.cpp).
// nlohmann's get<> throws on a type mismatch, so every access here checks the type first.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.hpp"
#include "common/model/json.hpp"
#include "common/model/model.hpp"

namespace dstack::model::detail {

using nlohmann::json;

// "a string", "an integer", "null", ... for "expected X, got Y" messages.
const char* type_name(const json& j);

class Fields {
 public:
  // obj must be an object. Messages get `prefix` in front ("instances[3]: "); field names get
  // `path` in front ("targets[1].").
  Fields(const json& obj, Problems& problems, std::string prefix = {}, std::string path = {});

  void add(std::string message) { problems_.push_back(prefix_ + std::move(message)); }
  void add(const std::optional<std::string>& problem) {
    if (problem) add(*problem);
  }
  // The field name as it appears in messages.
  std::string name(std::string_view key) const { return path_ + std::string(key); }
  // "<name>: expected <kind>, got <type>"
  void wrong_type(std::string_view name, std::string_view kind, const json& got);

  // Each returns nullopt (or nullptr) when the member is absent or mistyped; a missing required
  // member and a wrong type are reported.
  const json* member(std::string_view key, bool required);
  std::optional<std::string> string(std::string_view key, bool required);
  // Integers that do not fit an int are reported as out of lo..hi; others are returned unchecked
  // so the caller's validation reports the range in its usual words.
  std::optional<int> integer(std::string_view key, bool required, long long lo, long long hi);
  std::optional<std::uint64_t> revision(std::string_view key, bool required);
  // Any JSON number, as a double (the caller checks its range).
  std::optional<double> number(std::string_view key, bool required);
  // A duration as docs/api.md writes them ("250ms", "5s", "1m"), or its problem.
  std::optional<Duration> duration(std::string_view key, bool required);
  std::optional<bool> boolean(std::string_view key, bool required);
  // Every member not in `known` is reported as unknown.
  void refuse_unknown(std::initializer_list<std::string_view> known);

  const std::string& prefix() const { return prefix_; }
  Problems& problems() { return problems_; }

 private:
  const json& obj_;
  Problems& problems_;
  std::string prefix_;
  std::string path_;
};

// lease, url, version, weight, health, tags, meta and protocol (optional) into out, each checked as
// it is read.
// With defaults (a request body) version, weight and health may be absent.
void read_instance_body(Fields& f, Instance& out, bool defaults);

// targets (required) into out, then validated like validate_route does.
void read_targets(Fields& f, std::vector<RouteTarget>& out, bool strict_keys);

}  // namespace dstack::model::detail
