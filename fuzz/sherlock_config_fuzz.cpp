// SPDX-License-Identifier: Apache-2.0
// sherlock.yaml as sherlock reads it (sherlock::parse_sherlock_config, docs/sherlock.md): YAML,
// directories, the proxy and TCP listeners, the haproxy block and its one-line rules, and the
// position of every problem.
#include "fuzz/config_check.hpp"
#include "sherlock/sherlock_config.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  if (fuzz::names_special_files(text)) return 0;
  fuzz::check_config([&] {
    const auto cfg = sherlock::parse_sherlock_config(text, fuzz::kConfigFile);
    // Lines go into haproxy.cfg as written: none may start another.
    for (const auto& line : cfg.haproxy.extra_global)
      FUZZ_CHECK(line.find('\n') == std::string::npos);
    for (const auto& line : cfg.haproxy.extra_defaults)
      FUZZ_CHECK(line.find('\n') == std::string::npos);
  });
  return 0;
}
