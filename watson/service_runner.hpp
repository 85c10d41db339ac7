// SPDX-License-Identifier: Apache-2.0
#pragma once
// One instance this host offers: its check loop, its health, and what the directory should hold
// for it. The runner decides; the Agent tells the directories (through `publish`).
//
// Lifecycle: construct, start(), then stop() before dropping it. The check loop keeps the runner
// alive while a check is in flight; after stop() that check's result is ignored and nothing more
// is published.
//
// What the directory should hold (desired()):
// - routable (rise passes, fewer than fall failures since): the instance with its health;
// - maintenance switched on while it was routable: the instance with health `maintenance` for
//   the definition's `drain`, so consumers stop sending new requests before it disappears; then
//   nothing;
// - otherwise nothing.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/log/log.hpp"
#include "common/model/model.hpp"
#include "common/net/asio.hpp"
#include "watson/check_result.hpp"
#include "watson/health_state.hpp"
#include "watson/service_config.hpp"

namespace dstack::watson {

class ServiceRunner : public std::enable_shared_from_this<ServiceRunner> {
 public:
  using Publish = std::function<void(const ServiceRunner&)>;

  ServiceRunner(asio::any_io_executor ex, ServiceDefinition def, Publish publish);
  ServiceRunner(const ServiceRunner&) = delete;
  ServiceRunner& operator=(const ServiceRunner&) = delete;

  void start();  // the first check runs within a second (spread over phases: first_check_delay)
  // No more checks and no more publishing; a drain in progress is abandoned.
  void stop();
  // No more checks, but maintenance and drains still publish (watson's own shutdown).
  void stop_checks();

  // A reloaded definition for the same (service, id). Registered fields take effect at once; a
  // changed check starts over with the new one, keeping the health history (see
  // HealthState::with_thresholds).
  void update(ServiceDefinition def);
  void set_maintenance(bool on, const std::string& reason);

  std::optional<model::Instance> desired() const;
  // True while a maintenance drain keeps the instance registered.
  bool draining() const;

  const ServiceDefinition& definition() const { return def_; }
  const HealthState& health() const { return health_; }
  const std::optional<CheckOutcome>& last_outcome() const { return last_; }
  std::uint64_t results(CheckStatus s) const { return counts_[static_cast<int>(s)]; }

 private:
  static awaitable<void> check_loop(std::shared_ptr<ServiceRunner> self);
  void record(const CheckOutcome& outcome);
  void begin_drain();
  void changed();

  asio::any_io_executor ex_;
  ServiceDefinition def_;
  Publish publish_;
  std::shared_ptr<spdlog::logger> log_;
  HealthState health_;
  std::optional<CheckOutcome> last_;
  std::uint64_t counts_[3] = {0, 0, 0};

  asio::steady_timer next_check_;
  asio::steady_timer drain_end_;
  std::chrono::steady_clock::time_point drain_until_{};
  std::uint64_t check_generation_ = 0;  // bumped when the check changes: older results are dropped
  bool checking_ = false;
  bool stopped_ = false;
};

}  // namespace dstack::watson
