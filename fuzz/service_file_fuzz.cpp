// SPDX-License-Identifier: Apache-2.0
// watson's service files as it reads them (watson::parse_service_text,
// docs/watson.md#service-files): names, URLs, tags and meta, every kind of check, and the
// position of every problem. What is accepted is a valid instance to register.
#include "common/model/validate.hpp"
#include "fuzz/config_check.hpp"
#include "watson/service_config.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  if (fuzz::names_special_files(text)) return 0;
  fuzz::check_config([&] {
    const auto def = watson::parse_service_text(text, fuzz::kConfigFile);
    FUZZ_CHECK(!model::check_service_name(def.service, "service"));
    FUZZ_CHECK(!model::check_instance_id(def.id, "id"));
    FUZZ_CHECK(def.check.timeout <= def.check.interval);
  });
  return 0;
}
