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
  // inherit its leases. It points into the token store or a literal: valid while the request
  // is handled, which is as long as a Caller lives.
  std::string_view key;

  // Whether this caller may use what the caller with `holder` as its key holds.
  bool may_use(std::string_view holder) const { return admin || holder == key; }
};

// What a request without a token may do (directory.yaml's auth.anonymous).
enum class Anonymous { read, none };

// The name token_file's token goes by; no stored token may take it.
inline constexpr std::string_view kAdminName = "admin";

}  // namespace dstack::directory
