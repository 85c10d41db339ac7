// SPDX-License-Identifier: Apache-2.0
#pragma once
// Which policy each request of the directory's API needs (docs/security.md#policies), from its
// method and decoded path segments alone: decided before the request is routed, so a request
// that lacks the policy changes nothing and learns nothing of what exists.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/model/policy.hpp"

namespace dstack::directory {

// nullopt: anyone may ask (GET /v1/health, for load balancers and probes). A path the API does
// not serve needs `read` for GET and `admin` otherwise, so that only a caller who could use it
// learns that it is not there. The lease's owner is checked apart (State), once the lease is
// known.
std::optional<model::Permission> required_permission(const std::string& method,
                                                     const std::vector<std::string>& parts);

// GET and HEAD: reads, which need `read` and are not audited (docs/security.md#the-audit-trail).
inline bool is_read(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

}  // namespace dstack::directory
