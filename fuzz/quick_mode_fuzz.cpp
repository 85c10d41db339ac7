// SPDX-License-Identifier: Apache-2.0
// watson's quick-mode arguments (`watson -d DIR SERVICE URL [INTERVAL] [--check URL]`,
// watson::quick_service, docs/watson.md): the input is SERVICE, URL, INTERVAL and the --check
// URL, separated by NUL bytes. A refusal names the argument at the start of each line; what is
// accepted registers a valid instance with a usable check.
#include "common/config/reader.hpp"
#include "common/model/validate.hpp"
#include "fuzz/fuzz.hpp"
#include "watson/service_config.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto args = fuzz::split(fuzz::text(data, size), '\0', 4);
  args.resize(4);
  try {
    const auto def = watson::quick_service(args[0], args[1], args[2], args[3]);
    FUZZ_CHECK(!model::check_service_name(def.service, "service"));
    FUZZ_CHECK(!model::check_instance_id(def.id, "id"));
    FUZZ_CHECK(def.check.kind != watson::Check::Kind::none);
    FUZZ_CHECK(def.check.interval >= std::chrono::milliseconds(100) &&
               def.check.interval <= std::chrono::hours(1));
    FUZZ_CHECK(def.check.timeout <= def.check.interval);
  } catch (const config::ConfigError& e) {
    for (const auto& line : e.lines())
      FUZZ_CHECK(line.starts_with("SERVICE: ") || line.starts_with("URL: ") ||
                 line.starts_with("INTERVAL: ") || line.starts_with("--check: "));
  }
  return 0;
}
