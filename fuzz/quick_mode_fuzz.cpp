// SPDX-License-Identifier: Apache-2.0
// watson's quick-mode arguments (`watson -d DIR SERVICE URL [INTERVAL] [--check URL]
// [--protocol P]`, watson::quick_service, docs/watson.md): the input is SERVICE, URL, INTERVAL,
// the --check URL and the --protocol, separated by NUL bytes. A refusal names the argument at the
// start of each line; what is accepted registers a valid instance with a usable check.
#include "common/config/reader.hpp"
#include "common/model/validate.hpp"
#include "fuzz/fuzz.hpp"
#include "watson/service_config.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto args = fuzz::split(fuzz::text(data, size), '\0', 5);
  args.resize(5);
  try {
    const auto def = watson::quick_service(args[0], args[1], args[2], args[3], args[4]);
    FUZZ_CHECK(!model::check_service_name(def.service, "service"));
    FUZZ_CHECK(!model::check_instance_id(def.id, "id"));
    FUZZ_CHECK(def.check.kind != watson::Check::Kind::none);
    FUZZ_CHECK(def.check.interval >= std::chrono::milliseconds(100) &&
               def.check.interval <= std::chrono::hours(1));
    FUZZ_CHECK(def.check.timeout <= def.check.interval);
    FUZZ_CHECK(!model::check_protocol(def.protocol, def.url));
  } catch (const config::ConfigError& e) {
    for (const auto& line : e.lines())
      FUZZ_CHECK(line.starts_with("SERVICE: ") || line.starts_with("URL: ") ||
                 line.starts_with("INTERVAL: ") || line.starts_with("--check: ") ||
                 line.starts_with("--protocol: "));
  }
  return 0;
}
