// SPDX-License-Identifier: Apache-2.0
// dw's route arguments as users type them (dw/route_args.hpp, docs/dw.md): `route set SVC
// VERSION=PCT...` and the seed form `route add //CONSUMER //SERVICE(VERSION) PCT`, with the
// input's NUL-separated parts as the arguments. Accepted values are what was typed. And
// `rollout start`'s flags (dw/rollout_text.hpp) from the same parts: what is accepted is a
// valid specification; a ratio read (common/core/number.hpp) is within 0..1.
#include "common/core/number.hpp"
#include "common/model/rollout.hpp"
#include "dw/rollout_text.hpp"
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

  const auto part = [&](std::size_t i) -> std::optional<std::string> {
    if (i < args.size()) return args[i];
    return std::nullopt;
  };
  dw::RolloutFlags flags;
  flags.to = part(0).value_or("2");
  flags.from = part(1).value_or("");
  flags.steps = part(2);
  flags.interval = part(3);
  flags.max_error_ratio = part(4);
  flags.max_p99 = part(5);
  flags.max_p99_ratio = part(6);
  flags.min_requests = part(7);
  auto spec = dw::parse_rollout_flags("emitter", flags);
  if (auto* s = std::get_if<model::RolloutSpec>(&spec))
    FUZZ_CHECK(model::validate_rollout_spec(*s, false).empty());
  for (const auto& arg : args)
    if (auto r = parse_ratio(arg)) FUZZ_CHECK(*r >= 0 && *r <= 1);
  return 0;
}
