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
awaitable<int> route_rollback(registry::Registry& reg, Output o, std::string service,
                              std::string consumer);
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

// Traffic policies (policy_commands.cpp). Each flag as typed; absent: not set. `set` replaces
// the service's whole policy.
struct PolicyFlags {
  std::optional<std::string> retries, retry_on, timeout, max_conn, queue_timeout, eject, balance;
};
// The policy the flags describe, validated as the directory validates a request.
std::variant<model::TrafficPolicy, std::vector<std::string>> parse_policy_flags(
    const std::string& service, const PolicyFlags& flags);
// "retries=3 retry-on=conn-failure,503 timeout=5s": the flags that would set it.
std::string describe_policy(const model::TrafficPolicy& policy);
awaitable<int> policy_set(registry::Registry& reg, Output o, std::string service,
                          PolicyFlags flags);
// One service's policy, or every policy when `service` is empty.
awaitable<int> policy_show(registry::Registry& reg, Output o, std::string service);
awaitable<int> policy_rm(registry::Registry& reg, Output o, std::string service);

// Traffic insight (insight_commands.cpp). `window` as typed; "" for the directory's default
// (dw top: 1m). top refreshes every second until q or Ctrl-C, or prints one table with `once`
// or without a terminal.
awaitable<int> traffic(registry::Registry& reg, Output o, std::string service, std::string window);
awaitable<int> consumers(registry::Registry& reg, Output o);
awaitable<int> top(registry::Registry& reg, Output o, std::string window, bool once);

// Prints events as they happen until interrupted; survives directory restarts.
awaitable<int> watch(registry::Registry& reg, Output o);

// Rollouts (rollout_commands.cpp): each prints the rollout's status (rollout_text.hpp) after.
struct RolloutFlags;
awaitable<int> rollout_start(registry::Registry& reg, Output o, std::string service,
                             RolloutFlags flags);
awaitable<int> rollout_status(registry::Registry& reg, Output o, std::string service);
// `command`: pause, resume, promote or abort.
awaitable<int> rollout_command(registry::Registry& reg, Output o, std::string service,
                               std::string command);
awaitable<int> rollout_list(registry::Registry& reg, Output o);

// The exit code for a failure, after printing "dw: <message>" to o.err.
int fail(const Output& o, const Error& e);
// 65 (refused input), after printing "dw: <problem>" to o.err for each.
int refuse(const Output& o, const std::vector<std::string>& problems);

}  // namespace dstack::dw
