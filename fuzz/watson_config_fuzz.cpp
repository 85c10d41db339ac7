// SPDX-License-Identifier: Apache-2.0
// watson.yaml as watson reads it (watson::parse_watson_config, docs/watson.md): YAML, the
// directories list and its addresses, durations and bounds, and the position of every problem.
#include "fuzz/config_check.hpp"
#include "watson/watson_config.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  if (fuzz::names_special_files(text)) return 0;
  fuzz::check_config([&] { watson::parse_watson_config(text, fuzz::kConfigFile); });
  return 0;
}
