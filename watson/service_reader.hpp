// SPDX-License-Identifier: Apache-2.0
#pragma once
// The parts of reading service definitions shared by service_config.cpp, service_check.cpp and
// services_dir.cpp; not an interface for anything else.
//
// Problems returned here do not name a field: the caller prefixes the key (`check.http: `) or
// the command-line argument (`URL: `).

#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "common/config/reader.hpp"
#include "common/model/validate.hpp"
#include "watson/service_config.hpp"

namespace dstack::watson::detail {

using model::Problem;  // one shape for "what is wrong with a value" (common/model/validate.hpp)

// The check map of a service file (which must be present); problems go to `errors`.
Check read_check(config::MapReader check, config::Errors& errors);

// Fill the http_* or tcp_* fields of `check` (and its kind), or say why the text is refused.
Problem parse_http_check(std::string_view text, Check& check);
Problem parse_tcp_check(std::string_view text, Check& check);

// nullopt when `program` is an executable file: an absolute path, or a name found in $PATH.
Problem check_executable(std::string_view program);

// The model's messages start with the field they were given; this drops an empty one, so
// `"x" is invalid: RULE` can follow a key.
Problem bare(Problem problem);

// A service file and where its `service` value is (for problems found across files).
struct ServiceFile {
  std::optional<ServiceDefinition> definition;  // set when the file has no problem
  YAML::Mark service_at;
};
ServiceFile read_service_file(const std::string& path, config::Errors& errors);

}  // namespace dstack::watson::detail
