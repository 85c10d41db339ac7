// SPDX-License-Identifier: Apache-2.0
#pragma once
// An in-memory registry::Registry for unit tests of watson's and sherlock's logic: fast, and it
// misbehaves on demand (down, one refused call, an expired lease), which a real directory does
// only with effort. It answers as the directory does (docs/api.md) where the agents depend on it:
//   - leases are granted as "L1", "L2"...; keepalive or revoke of an unknown lease, and a put
//     naming one, are not_found with code lease_not_found;
//   - revoking or expiring a lease removes its instances;
//   - every change to instances, routes or policies bumps the revision and is an event; a put that
//   changes
//     nothing is not a change;
//   - a consumer's put needs its lease; a traffic report is accepted;
//   - a watch gets the events after `since`, in order, then waits for the next; one from another
//     epoch, or from beyond the revision, is stale.
// It is not a second directory: no validation, no limits, no clock (expire() stands for a TTL
// passing).
//
// Every call is recorded when it is awaited, as a real client sends it then ("grant 10",
// "keepalive L1", "put emitter/a L1", "delete emitter/a", "revoke L1"; the first word names the
// operation for refuse_next). Its answer is decided at that moment and delivered after one turn
// of the executor, as a real answer is never synchronous. Use it on its executor's thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/asio.hpp"
#include "common/registry/registry.hpp"

namespace dstack::test {

class FakeState;  // what a FakeRegistry holds (fake_registry.cpp)

class FakeRegistry final : public registry::Registry {
 public:
  // `name` is what describe() answers.
  explicit FakeRegistry(asio::any_io_executor ex, std::string name = "fake");
  ~FakeRegistry() override;

  // ---- misbehaviour on demand ----
  // While down every call fails as unreachable; going down also ends the open watches so (a cut
  // stream stays cut when the registry comes back).
  void down(bool is_down);
  // The next call of `op` (health, grant, keepalive, revoke, put, delete, services, service,
  // snapshot, watch, routes, route, put_route, delete_route, policies, policy, put_policy,
  // delete_policy, put_consumer, report) fails with `error`; several are
  // answered in turn. Down comes first: a call made while down leaves the refusal queued.
  void refuse_next(const std::string& op, Error error);
  // A slow directory: while held, calls are recorded and decided but answered only once the
  // answers are let go.
  void hold_answers(bool hold);
  // Ends the open watches with `error`: a cut stream (unreachable), or a history compacted away
  // under a slow reader (stale, as etcd answers).
  void end_watches(Error error);
  // Drops a lease and its instances as if its TTL had passed; false when there is no such lease.
  bool expire(const std::string& lease);
  // A restarted directory's new epoch: watches asked from the old one are stale.
  void set_epoch(std::string epoch);
  // What snapshots and health report (false: a restarted directory whose watsons are coming back).
  void set_synced(bool synced);

  // ---- changes made by someone else (another watson, dw): not recorded, never refused ----
  std::string add_lease(std::chrono::seconds ttl = std::chrono::seconds(10),
                        std::string owner = "test");
  Status add_instance(model::Instance instance);  // under instance.lease
  Status remove_instance(const std::string& service, const std::string& id);
  Status add_route(model::Route route);
  Status remove_route(const std::string& service, const std::string& consumer);
  Status add_policy(model::TrafficPolicy policy);

  // ---- what it holds, and what it was sent ----
  const std::vector<std::string>& calls() const;
  std::optional<model::Instance> instance(const std::string& service, const std::string& id) const;
  std::vector<model::Instance> instances() const;
  std::vector<std::string> leases() const;
  std::uint64_t revision() const;
  const std::string& epoch() const;
  std::size_t open_watches() const;  // watches not yet destroyed nor ended
  // Calls awaited and not yet answered, now and at most ever. A client of the real directory
  // sends one request at a time (net::HttpClient), so a caller must never have two.
  int calls_in_flight() const;
  int most_calls_at_once() const;

  // ---- registry::Registry ----
  std::string describe() const override;
  awaitable<Result<model::DirectoryHealth>> health() override;
  awaitable<Result<model::Lease>> grant_lease(std::chrono::seconds ttl, std::string owner) override;
  awaitable<Status> keepalive(std::string lease_id) override;
  awaitable<Status> revoke(std::string lease_id) override;
  awaitable<Status> put_instance(model::Instance instance) override;
  awaitable<Status> delete_instance(std::string service, std::string id) override;
  awaitable<Result<std::vector<registry::ServiceSummary>>> services() override;
  awaitable<Result<registry::ServiceView>> service(std::string name) override;
  awaitable<Result<model::Snapshot>> snapshot() override;
  awaitable<Result<std::unique_ptr<registry::Watch>>> watch(std::uint64_t since,
                                                            std::string epoch) override;
  awaitable<Result<std::vector<model::Route>>> routes(std::optional<std::string> service) override;
  awaitable<Result<model::Route>> route(std::string service, std::string consumer) override;
  awaitable<Status> put_route(model::Route route) override;
  awaitable<Status> delete_route(std::string service, std::string consumer) override;
  awaitable<Result<std::vector<model::TrafficPolicy>>> policies() override;
  awaitable<Result<model::TrafficPolicy>> policy(std::string service) override;
  awaitable<Status> put_policy(model::TrafficPolicy policy) override;
  awaitable<Status> delete_policy(std::string service) override;
  // Consumers are kept as far as a lease check ("put_consumer vm L1"); reports are recorded
  // ("report vm") and accepted.
  awaitable<Result<model::Consumer>> put_consumer(model::Consumer consumer) override;
  awaitable<Status> report_traffic(std::string consumer, model::TrafficReport report) override;

 private:
  // Shared with open watches, which may outlive the registry inside a coroutine frame.
  std::shared_ptr<FakeState> d_;
};

// Runs `io` in short slices until `done()` holds (true) or `timeout` passes (false), or until
// `io` runs out of work (then nothing can change any more). Tests wait for an outcome with a
// deadline, never by sleeping.
bool run_until(asio::io_context& io, std::chrono::milliseconds timeout,
               const std::function<bool()>& done);
// The same one handler at a time, for a test that acts between two steps of a coroutine (after
// a call is made and before its answer is read, say).
bool step_until(asio::io_context& io, std::chrono::milliseconds timeout,
                const std::function<bool()>& done);

}  // namespace dstack::test
