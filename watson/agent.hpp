// SPDX-License-Identifier: Apache-2.0
#pragma once
// watson's core: the instances this host offers (one ServiceRunner each) and the directories they
// are registered with (one Registrar each). Every change a runner reports is sent to every
// directory; each directory catches up on its own, so one that is down delays no other.
//
// Single-threaded: everything runs on the executor's thread.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"
#include "watson/registrar.hpp"
#include "watson/service_config.hpp"
#include "watson/service_runner.hpp"

namespace dstack::watson {

class Agent {
 public:
  Agent(asio::any_io_executor ex, std::vector<std::unique_ptr<Registrar>> registrars);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void start();  // starts the registrars; runners start as apply() adds them

  // The instances to offer from now on, at most one per (service, id). New ones start checking,
  // changed ones take the new definition without losing their health, and missing ones stop and
  // are deregistered.
  void apply(const std::vector<ServiceDefinition>& definitions);
  // The problems of the last read of the service files, for the status page.
  void set_problems(std::vector<std::string> problems) { problems_ = std::move(problems); }

  // Maintenance on or off for every instance of `service`; how many there are (0: unknown).
  std::size_t set_maintenance(const std::string& service, bool on, const std::string& reason);

  // SIGTERM: every instance to maintenance, the longest drain among those registered, then each
  // directory deregisters and revokes its lease; gives up on directories still busy after
  // `deadline`.
  awaitable<void> shutdown(Duration deadline);

  nlohmann::json status() const;
  std::string metrics() const;

 private:
  using Key = std::pair<std::string, std::string>;  // service, id
  void publish(const ServiceRunner& runner);

  asio::any_io_executor ex_;
  std::vector<std::unique_ptr<Registrar>> registrars_;
  std::map<Key, std::shared_ptr<ServiceRunner>> runners_;
  std::vector<std::string> problems_;
};

}  // namespace dstack::watson
