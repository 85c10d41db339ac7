// SPDX-License-Identifier: Apache-2.0
#pragma once
// The config targets' shared property: a refused config says why in lines that each start with
// `FILE:LINE:COL: ` (every problem carries its position, docs/operations.md), and nothing but
// config::ConfigError escapes a loader.

#include <cctype>
#include <string>
#include <string_view>

#include "common/config/reader.hpp"
#include "fuzz/fuzz.hpp"

namespace dstack::fuzz {

inline const std::string kConfigFile = "fuzz.yaml";

// "fuzz.yaml:12:3: ..." with a line and a column from 1.
inline bool has_position(std::string_view line) {
  if (!line.starts_with(kConfigFile + ":")) return false;
  line.remove_prefix(kConfigFile.size() + 1);
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits]))) ++digits;
    if (digits == 0 || line[0] == '0' || digits == line.size() || line[digits] != ':') return false;
    line.remove_prefix(digits + 1);
  }
  return line.starts_with(" ");
}

template <class Load>
void check_config(Load load) {
  try {
    load();
  } catch (const config::ConfigError& e) {
    FUZZ_CHECK(!e.lines().empty());
    for (const auto& line : e.lines()) {
      if (!has_position(line)) std::fprintf(stderr, "no position: %s\n", line.c_str());
      FUZZ_CHECK(has_position(line));
    }
  }
}

}  // namespace dstack::fuzz
