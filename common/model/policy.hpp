// SPDX-License-Identifier: Apache-2.0
#pragma once
// Access policies of directory tokens (docs/security.md#policies): what one token may do.
//   read            every GET: services, snapshot, watch, routes, metrics
//   register:GLOB   grant leases; register and deregister instances of services matching GLOB
//   report          grant leases; consumer registration and traffic reports
//   routes:GLOB     routes of services matching GLOB
//   admin           everything, tokens included
// GLOB is a service name in which `*` stands for any run of characters: `emitter`, `pay*`, `*`.
// Parsing and matching only: no I/O, so every rule is tested on strings.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dstack::model {

struct Policy {
  enum class Kind { read, register_, report, routes, admin };
  Kind kind = Kind::read;
  std::string glob;  // register and routes only; empty for the others

  bool operator==(const Policy&) const = default;
};

// What a request needs. `service` empty with register: a lease grant, keepalive or revoke, which
// any register policy allows (a lease is not yet bound to a service), and so does report (a
// sherlock's consumer registration lives on a lease).
struct Permission {
  Policy::Kind kind = Policy::Kind::read;
  std::string service;

  bool operator==(const Permission&) const = default;
};

// Whether the permission is that of a lease operation (register with no service).
bool is_lease(const Permission& permission);

// "register:pay*": the policy as written. "read", "admin", ...
std::string to_string(const Policy& policy);
// "register:payments", "read", "register (any service) or report": for "token NAME lacks ..."
// messages.
std::string to_string(const Permission& permission);

// One policy as an operator writes it, or a message naming the value and the rule:
//   policy "regster:x" is invalid: must be read, report, admin, register:GLOB or routes:GLOB
std::variant<Policy, std::string> parse_policy(std::string_view text);
// A list, every problem collected; duplicates are refused (a list says each policy once).
std::variant<std::vector<Policy>, std::vector<std::string>> parse_policies(
    const std::vector<std::string>& texts);

// Whether `glob` matches the whole of `name` (`*`: any run of characters, possibly empty).
bool glob_matches(std::string_view glob, std::string_view name);

// Whether a token holding `policies` may do what `needed` names. admin allows everything; report
// allows lease operations; no other policy implies another.
bool allows(const std::vector<Policy>& policies, const Permission& needed);

}  // namespace dstack::model
