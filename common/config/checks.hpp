#pragma once
// Checks shared by the daemons' configs, for MapReader's `check` argument.

#include <optional>
#include <string>
#include <string_view>

namespace dstack::config {

// A file the daemon must read at start (token, certificate, key): `"PATH": cannot read: REASON`.
std::optional<std::string> readable_file(std::string_view path);

// Reads a bearer token file into `token`: its first line, surrounding whitespace trimmed.
// Problems read `"PATH": cannot read: REASON` or `"PATH": is empty`.
std::optional<std::string> read_token(std::string_view path, std::string& token);

}  // namespace dstack::config
