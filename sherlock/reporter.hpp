// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock as a consumer (docs/insight.md#reports): registers this host in the directory on a
// lease of its own, with the services it routes, and sends what its proxy forwarded every
// report_interval. What a report could not deliver is sent with the next one; a directory that
// restarted is registered with again. An etcd directory keeps no consumers: the reporter says so
// once and stops (the counts stay on /metrics). The decisions are ReportSchedule's.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/clock.hpp"
#include "common/model/traffic.hpp"
#include "common/net/asio.hpp"
#include "common/registry/registry.hpp"
#include "sherlock/report_schedule.hpp"

#include <boost/asio/steady_timer.hpp>

namespace dstack::sherlock {

struct ReporterSettings {
  std::string consumer;  // its name
  std::string host;      // this host's name, as the consumer's `host`
  std::string api;       // sherlock's local API, host:port
  std::chrono::seconds ttl{10};
  Duration interval = std::chrono::seconds(5);
};

class Reporter {
 public:
  using TakeTraffic = std::function<model::TrafficByVersion()>;

  Reporter(asio::any_io_executor ex, std::vector<std::unique_ptr<registry::Registry>> directories,
           ReporterSettings settings, TakeTraffic take, const Clock& clock = real_clock());
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void start();
  // The services this host routes now (sorted); registered again when they change.
  void set_services(std::vector<std::string> services);
  // Ends the loop (once its request in flight is answered), then reports what is not reported
  // yet, and with `revoke` revokes the lease (the directory drops the consumer at once; a
  // handover leaves it to lapse).
  awaitable<void> stop(bool revoke);

  struct Status {
    bool registered = false;
    std::string directory;
    std::string last_error;
    std::uint64_t reports = 0;   // delivered
    std::uint64_t failures = 0;  // requests to the directory that failed
  };
  const Status& status() const { return status_; }

 private:
  awaitable<void> run();
  awaitable<void> step(ReportSchedule::Action action);
  void failed(const Error& e, const char* what);
  registry::Registry& directory() { return *directories_[current_]; }

  asio::any_io_executor ex_;
  std::vector<std::unique_ptr<registry::Registry>> directories_;
  std::size_t current_ = 0;
  ReporterSettings settings_;
  TakeTraffic take_;
  const Clock& clock_;
  ReportSchedule schedule_;
  std::vector<std::string> services_;
  model::TrafficByVersion pending_;  // taken from the counter, not delivered yet
  Clock::TimePoint pending_since_;
  asio::steady_timer wake_;
  asio::steady_timer run_ended_;  // never expires; cancelled when run() returns
  bool stopping_ = false;
  bool running_ = false;
  bool unsupported_ = false;  // the directory keeps no consumers (etcd)
  Status status_;
};

}  // namespace dstack::sherlock
