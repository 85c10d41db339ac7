// SPDX-License-Identifier: Apache-2.0
#pragma once
// Who made a request: the name the audit trail shows, and the one a lease belongs to
// (docs/security.md#leases-belong-to-their-token); and what a request from nobody may do.

#include <string>
#include <string_view>

namespace dstack::directory {

struct Caller {
  std::string name;  // a stored token's name; kAdminName for token_file's; "" for none
  bool admin = false;
  // What leases are held by: one value per token ever made (its digest; kAdminName for the
  // admin token; "" for none), so a token made anew under a revoked one's name does not
  // inherit its leases.
  std::string key;

  // Whether this caller may use what the caller with `holder` as its key holds.
  bool may_use(const std::string& holder) const { return admin || holder == key; }
};

// What a request without a token may do (directory.yaml's auth.anonymous).
enum class Anonymous { read, none };

// The name token_file's token goes by; no stored token may take it.
inline constexpr std::string_view kAdminName = "admin";

}  // namespace dstack::directory
