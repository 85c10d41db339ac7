// SPDX-License-Identifier: Apache-2.0
#pragma once
// Checks shared by the daemons' configs, for MapReader's `check` argument.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace dstack::config {

// A file the daemon must read at start (token, certificate, key): `"PATH": cannot read: REASON`.
std::optional<std::string> readable_file(std::string_view path);

// Reads a bearer token file into `token`: its first line, surrounding whitespace trimmed.
// Problems read `"PATH": cannot read: REASON`, `"PATH": is empty` or, for a first line longer
// than kMaxTokenLine (a token_file pointed at /dev/zero or a log), `"PATH": its first line is
// longer than 4096 bytes: not a token`. Reads no more than that.
inline constexpr std::size_t kMaxTokenLine = 4096;
std::optional<std::string> read_token(std::string_view path, std::string& token);

// The model's checks (common/model/validate.hpp) start their message with the field they are
// given; a config reader names the key itself. This drops the empty field's leading space, so
// `"x" is invalid: RULE` follows the key.
std::optional<std::string> without_field(std::optional<std::string> problem);

// Adapts a model check (value, field) to a reader's check (value).
template <class ModelCheck>
auto model_rule(ModelCheck check) {
  return [check](std::string_view v) { return without_field(check(v, "")); };
}

}  // namespace dstack::config
