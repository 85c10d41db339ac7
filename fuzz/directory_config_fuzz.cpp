// SPDX-License-Identifier: Apache-2.0
// directory.yaml as the directory reads it (directory::parse_config, docs/directory.md): YAML,
// every key's type, bounds and cross-key rules, and the position of every problem.
#include "directory/config.hpp"
#include "fuzz/config_check.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  if (fuzz::names_special_files(text)) return 0;
  // A --token-file flag, so token_file is only checked for, not read (the TLS files still are).
  fuzz::check_config([&] { directory::parse_config(text, fuzz::kConfigFile, "/nonexistent"); });
  return 0;
}
