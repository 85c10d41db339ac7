// SPDX-License-Identifier: Apache-2.0
#pragma once
// dw's commands (docs/dw.md), run against any Registry. Each returns the exit code:
// 0 ok, 65 refused input, 69 directory unreachable, 77 not authorized.

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/registry/registry.hpp"

namespace dstack::dw {

struct Output {
  std::ostream& out;
  std::ostream& err;
  bool json = false;
};

awaitable<int> services(registry::Registry& reg, Output o);
awaitable<int> instances(registry::Registry& reg, Output o, std::string service);
awaitable<int> route_list(registry::Registry& reg, Output o, std::string service);
awaitable<int> route_set(registry::Registry& reg, Output o, std::string service,
                         std::string consumer, std::vector<std::string> targets);
awaitable<int> route_add(registry::Registry& reg, Output o, std::string consumer,
                         std::string service_version, std::string percent);
awaitable<int> route_rm(registry::Registry& reg, Output o, std::string service,
                        std::string consumer);
awaitable<int> status(registry::Registry& reg, Output o);
// Tokens (token_commands.cpp). create prints the secret alone on stdout.
awaitable<int> token_create(registry::Registry& reg, Output o, std::string name,
                            std::vector<std::string> policies, std::string ttl);
awaitable<int> token_list(registry::Registry& reg, Output o);
awaitable<int> token_revoke(registry::Registry& reg, Output o, std::string name);
// --ttl as typed ("30d"; "" for none) in whole seconds, or the message refusing it.
std::variant<std::optional<std::int64_t>, std::string> parse_token_ttl(const std::string& text);

// Prints events as they happen until interrupted; survives directory restarts.
awaitable<int> watch(registry::Registry& reg, Output o);

// The exit code for a failure, after printing "dw: <message>" to o.err.
int fail(const Output& o, const Error& e);

}  // namespace dstack::dw
