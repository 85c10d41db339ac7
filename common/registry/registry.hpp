// SPDX-License-Identifier: Apache-2.0
#pragma once
// What watson, sherlock and dw need from a directory, whatever holds it: the dstack directory
// over HTTP (directory_client) or, later, an etcd cluster. Every call is bounded in time and
// reports failures as Result errors:
//   unreachable  -> retry with backoff, keep the last known state
//   not_found    -> (keepalive) the lease is gone: take a new one and re-register
//   stale        -> (watch) the revision or epoch is no longer served: re-read the snapshot
//   unauthorized / refused -> a person must fix the token or the input

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.hpp"
#include "common/model/consumer.hpp"
#include "common/model/model.hpp"
#include "common/model/rollout.hpp"
#include "common/model/traffic.hpp"
#include "common/model/traffic_view.hpp"
#include "common/net/asio.hpp"

namespace dstack::registry {

struct ServiceSummary {
  std::string name;
  std::size_t instances = 0;
  std::size_t routable = 0;  // passing or warning
  std::size_t routes = 0;
};

struct ServiceView {
  std::string name;
  std::vector<model::Instance> instances;
  std::vector<model::Route> routes;
};

// A directory token as listed (docs/security.md#tokens): never its secret.
struct TokenInfo {
  std::string name;
  std::vector<std::string> policies;
  std::uint64_t created = 0;               // seconds since the Unix epoch
  std::optional<std::uint64_t> expires;    // none: until revoked
  std::optional<std::uint64_t> last_used;  // none: not since the directory started
};

// What GET /v1/traffic is asked (docs/api.md#traffic); absent: the directory's defaults.
struct TrafficQuery {
  std::optional<std::string> service;
  std::optional<std::chrono::milliseconds> window;
  std::optional<std::string> consumer;
};

struct NewToken {
  TokenInfo token;
  std::string secret;  // shown once
};

// An open watch. Keep-alive lines are consumed inside and only advance revision().
class Watch {
 public:
  virtual ~Watch() = default;
  virtual awaitable<Result<model::Event>> next() = 0;
  virtual std::uint64_t revision() const = 0;  // the newest revision seen on this stream
};

class Registry {
 public:
  virtual ~Registry() = default;
  virtual std::string describe() const = 0;  // the address, for messages

  virtual awaitable<Result<model::DirectoryHealth>> health() = 0;

  virtual awaitable<Result<model::Lease>> grant_lease(std::chrono::seconds ttl,
                                                      std::string owner) = 0;
  virtual awaitable<Status> keepalive(std::string lease_id) = 0;
  virtual awaitable<Status> revoke(std::string lease_id) = 0;

  virtual awaitable<Status> put_instance(model::Instance instance) = 0;
  virtual awaitable<Status> delete_instance(std::string service, std::string id) = 0;

  virtual awaitable<Result<std::vector<ServiceSummary>>> services() = 0;
  virtual awaitable<Result<ServiceView>> service(std::string name) = 0;
  virtual awaitable<Result<model::Snapshot>> snapshot() = 0;
  // Events after `since`; `epoch` must be the one the revision came from.
  virtual awaitable<Result<std::unique_ptr<Watch>>> watch(std::uint64_t since,
                                                          std::string epoch) = 0;

  // All routes, or those of one service.
  virtual awaitable<Result<std::vector<model::Route>>> routes(
      std::optional<std::string> service) = 0;
  // The route for everyone (consumer empty) or for one consumer; not_found when there is none.
  virtual awaitable<Result<model::Route>> route(std::string service, std::string consumer) = 0;
  virtual awaitable<Status> put_route(model::Route route) = 0;
  virtual awaitable<Status> delete_route(std::string service, std::string consumer) = 0;
  // Puts back what the route's last change replaced
  // (docs/api.md#post-v1routessvcrollbackconsumerc): the route now in force, or nullopt when it
  // went back to none. Only the dstack directory keeps what a route replaced; the others answer
  // `refused`.
  virtual awaitable<Result<std::optional<model::Route>>> rollback_route(std::string service,
                                                                        std::string consumer);

  // Traffic policies (docs/api.md#traffic-policies): every service's, one service's (not_found
  // when it has none), set one (validated by the caller), remove one (not_found when none).
  virtual awaitable<Result<std::vector<model::TrafficPolicy>>> policies() = 0;
  virtual awaitable<Result<model::TrafficPolicy>> policy(std::string service) = 0;
  virtual awaitable<Status> put_policy(model::TrafficPolicy policy) = 0;
  virtual awaitable<Status> delete_policy(std::string service) = 0;

  // Tokens (admin only). Only the dstack directory keeps them; the others answer `refused`
  // saying where their access control lives.
  virtual awaitable<Result<NewToken>> create_token(std::string name,
                                                   std::vector<std::string> policies,
                                                   std::optional<std::int64_t> ttl_seconds);
  virtual awaitable<Result<std::vector<TokenInfo>>> tokens();
  virtual awaitable<Status> revoke_token(std::string name);

  // Consumers and their traffic (docs/insight.md). Only the dstack directory keeps them; the
  // others answer `refused` (docs/etcd.md#traffic-insight).
  virtual awaitable<Result<model::Consumer>> put_consumer(model::Consumer consumer);
  virtual awaitable<Status> report_traffic(std::string consumer, model::TrafficReport report);
  virtual awaitable<Result<std::vector<model::Consumer>>> consumers();
  virtual awaitable<Result<model::TrafficView>> traffic(TrafficQuery query);

  // Rollouts (docs/rollouts.md). Only the dstack directory runs them; the others answer
  // `refused` (docs/etcd.md).
  virtual awaitable<Result<std::vector<model::RolloutView>>> rollouts();
  virtual awaitable<Result<model::RolloutView>> rollout(std::string service);
  virtual awaitable<Result<model::RolloutView>> start_rollout(model::RolloutSpec spec);
  // `command`: pause, resume, promote or abort.
  virtual awaitable<Result<model::RolloutView>> rollout_command(std::string service,
                                                                std::string command);
  virtual awaitable<Status> delete_rollout(std::string service);

 protected:
  // The refusal of the token calls by a registry that keeps no tokens.
  virtual Error no_tokens() const;
  // The same for consumers and traffic.
  virtual Error no_consumers() const;
  // The same for rollouts.
  virtual Error no_rollouts() const;
};

}  // namespace dstack::registry
