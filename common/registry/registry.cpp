// SPDX-License-Identifier: Apache-2.0
#include "common/registry/registry.hpp"

namespace dstack::registry {

Error Registry::no_tokens() const {
  return Error{ErrorKind::refused, "not_supported", describe() + " keeps no dstack tokens"};
}

awaitable<Result<NewToken>> Registry::create_token(std::string, std::vector<std::string>,
                                                   std::optional<std::int64_t>) {
  co_return no_tokens();
}

awaitable<Result<std::vector<TokenInfo>>> Registry::tokens() {
  co_return no_tokens();
}

awaitable<Status> Registry::revoke_token(std::string) {
  co_return no_tokens();
}

awaitable<Result<std::optional<model::Route>>> Registry::rollback_route(std::string, std::string) {
  co_return Error{
      ErrorKind::refused, "not_supported",
      describe() + " keeps no route's previous state: roll back by setting the route again"};
}

Error Registry::no_consumers() const {
  return Error{
      ErrorKind::refused, "not_supported",
      describe() + " keeps no consumers or traffic reports (they need a dstack directory)"};
}

awaitable<Result<model::Consumer>> Registry::put_consumer(model::Consumer) {
  co_return no_consumers();
}

awaitable<Status> Registry::report_traffic(std::string, model::TrafficReport) {
  co_return no_consumers();
}

awaitable<Result<std::vector<model::Consumer>>> Registry::consumers() {
  co_return no_consumers();
}

awaitable<Result<model::TrafficView>> Registry::traffic(TrafficQuery) {
  co_return no_consumers();
}

Error Registry::no_rollouts() const {
  return Error{ErrorKind::refused, "not_supported",
               describe() + " runs no rollouts (they need a dstack directory)"};
}

awaitable<Result<std::vector<model::RolloutView>>> Registry::rollouts() {
  co_return no_rollouts();
}

awaitable<Result<model::RolloutView>> Registry::rollout(std::string) {
  co_return no_rollouts();
}

awaitable<Result<model::RolloutView>> Registry::start_rollout(model::RolloutSpec) {
  co_return no_rollouts();
}

awaitable<Result<model::RolloutView>> Registry::rollout_command(std::string, std::string) {
  co_return no_rollouts();
}

awaitable<Status> Registry::delete_rollout(std::string) {
  co_return no_rollouts();
}

}  // namespace dstack::registry
