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

  // Whether this caller may use what `holder` (a lease's token name) holds.
  bool may_use(const std::string& holder) const { return admin || holder == name; }
};

// What a request without a token may do (directory.yaml's auth.anonymous).
enum class Anonymous { read, none };

// The name token_file's token goes by; no stored token may take it.
inline constexpr std::string_view kAdminName = "admin";

}  // namespace dstack::directory
