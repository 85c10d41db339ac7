// SPDX-License-Identifier: Apache-2.0
// Token policies as operators and API bodies give them (common/model/policy.hpp,
// docs/security.md#policies): the input's NUL-separated parts as a policy list. An accepted
// policy reads back exactly as written; a glob answers at once and agrees with plain equality
// when it has no star.
#include "common/model/policy.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = fuzz::split(fuzz::text(data, size), '\0', 16);
  if (parts.empty()) return 0;

  auto one = model::parse_policy(parts[0]);
  if (auto* policy = std::get_if<model::Policy>(&one)) {
    FUZZ_CHECK(model::to_string(*policy) == parts[0]);
    FUZZ_CHECK(model::allows({*policy}, model::Permission{policy->kind, {}}));
  } else {
    const auto& problem = std::get<std::string>(one);
    FUZZ_CHECK(problem.starts_with("policy \"") && problem.find('\n') == std::string::npos);
  }

  auto list = model::parse_policies(parts);
  if (auto* policies = std::get_if<std::vector<model::Policy>>(&list))
    FUZZ_CHECK(policies->size() == parts.size());

  if (parts.size() >= 2) {
    const bool matched = model::glob_matches(parts[0], parts[1]);
    if (parts[0].find('*') == std::string::npos) FUZZ_CHECK(matched == (parts[0] == parts[1]));
    if (parts[0] == "*") FUZZ_CHECK(matched);
  }
  return 0;
}
