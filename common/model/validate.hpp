// SPDX-License-Identifier: Apache-2.0
#pragma once
// Validation of every name and value of docs/api.md#names-and-values. Each check returns nullopt
// when the value is valid, else a message naming the field, the value and the rule, ready to
// show to a user:
//   service "Bad Name" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$
// Everything that can end up in an HAProxy config passes through here first.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::model {

using Problem = std::optional<std::string>;

inline constexpr std::size_t kMaxTags = 32;
inline constexpr std::size_t kMaxMeta = 64;
inline constexpr std::size_t kMaxTargets = 32;

// A value made safe to show inside a message: '"' and '\' backslash-escaped, control and non-ASCII
// bytes as \xNN, cut after 80 bytes with "...". The result never holds a newline.
std::string printable(std::string_view value);
// <field> "<printable value>" is invalid: <rule>
std::string invalid(std::string_view field, std::string_view value, std::string_view rule);
// <field> <value> is out of range <lo>..<hi>
Problem check_range(long long value, long long lo, long long hi, std::string_view field);
// <field>: <given> given, at most <max> allowed
Problem check_count(std::size_t given, std::size_t max, std::string_view field);
// The field name used for a meta value: meta["<printable key>"]
std::string meta_field(std::string_view key);

Problem check_service_name(std::string_view value, std::string_view field = "service");
Problem check_consumer_name(std::string_view value, std::string_view field = "consumer");
// A directory token's name (docs/security.md#tokens): the service-name rule.
Problem check_token_name(std::string_view value, std::string_view field = "token");
Problem check_version(std::string_view value, std::string_view field = "version");
Problem check_instance_id(std::string_view value, std::string_view field = "id");
Problem check_lease_id(std::string_view value, std::string_view field = "lease");
Problem check_tag(std::string_view value, std::string_view field = "tag");
Problem check_meta_key(std::string_view value, std::string_view field = "meta key");
Problem check_meta_value(std::string_view value, std::string_view field = "meta value");
Problem check_weight(int value, std::string_view field = "weight");  // 0..256
// A registered protocol against the instance's URL: tcp exactly for tcp:// URLs (read as
// protocol_of reads them; whether the URL is valid is the URL's own check).
Problem check_protocol(const std::optional<Protocol>& protocol, std::string_view url,
                       std::string_view field = "protocol");
// A protocol as written ("grpc") for the instance at `url`: one of the four words, and agreeing
// with the URL. The one reader of the API body, service files and --protocol.
std::variant<Protocol, std::string> parse_protocol(std::string_view text, std::string_view url,
                                                   std::string_view field = "protocol");

// The whole instance (service, id, lease, url, version, weight, tags (<= 32), meta (<= 64),
// protocol).
// All problems, not just the first.
std::vector<std::string> validate_instance(const Instance& instance);

// Route: service, consumer (may be empty), 1..32 targets, unique valid versions,
// each weight 0..100, sum <= 100.
std::vector<std::string> validate_route(const Route& route);
// The targets part of validate_route, appended to problems.
void check_targets(const std::vector<RouteTarget>& targets, std::vector<std::string>& problems);

}  // namespace dstack::model
