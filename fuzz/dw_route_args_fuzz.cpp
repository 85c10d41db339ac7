// SPDX-License-Identifier: Apache-2.0
// dw's route arguments as users type them (dw/route_args.hpp, docs/dw.md): `route set SVC
// VERSION=PCT...` and the seed form `route add //CONSUMER //SERVICE(VERSION) PCT`, with the
// input's NUL-separated parts as the arguments. Accepted values are what was typed.
#include "dw/route_args.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto args = fuzz::split(fuzz::text(data, size), '\0', 32);

  auto targets = dw::parse_targets(args);
  if (auto* list = std::get_if<std::vector<model::RouteTarget>>(&targets)) {
    FUZZ_CHECK(list->size() == args.size());
    for (std::size_t i = 0; i < list->size(); ++i) {
      FUZZ_CHECK((*list)[i].weight >= 0 && !(*list)[i].version.empty());
      FUZZ_CHECK(args[i].starts_with((*list)[i].version + "="));
    }
    if (!list->empty()) {
      const auto merged = dw::merge_target(*list, list->back());
      FUZZ_CHECK(merged.size() == list->size());
    }
  }

  if (args.size() >= 3) {
    auto add = dw::parse_route_add(args[0], args[1], args[2]);
    if (auto* a = std::get_if<dw::RouteAdd>(&add)) {
      FUZZ_CHECK(a->target.weight >= 0);
      FUZZ_CHECK(a->service.find('/') == std::string::npos);
      FUZZ_CHECK(a->consumer.find('/') == std::string::npos);
      FUZZ_CHECK(args[1].find("(" + a->target.version + ")") != std::string::npos);
    }
  }
  for (const auto& arg : args) FUZZ_CHECK(dw::service_argument(arg).find('/') == std::string::npos);
  return 0;
}
