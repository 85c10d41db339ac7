// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock's moving parts joined: the watcher fills the view, each change re-plans only the
// services it touched (with their hosts resolved), the HAProxy manager applies the new plan, and
// the view is saved to state_dir a moment later. HAProxy's per-request lines feed the traffic
// counter (reported to the directory) and the access log. Also what the local API reports.

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/net/asio.hpp"  // first: <utility> before Asio

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/registry/registry.hpp"
#include "sherlock/access_log.hpp"
#include "sherlock/directory_view.hpp"
#include "sherlock/haproxy_manager.hpp"
#include "sherlock/host_resolver.hpp"
#include "sherlock/log_socket.hpp"
#include "sherlock/reporter.hpp"
#include "sherlock/state_store.hpp"
#include "sherlock/traffic_counter.hpp"
#include "sherlock/watcher.hpp"

namespace dstack::sherlock {

class Agent {
 public:
  // `directories` are followed; `report_to` (the same addresses, their own clients) get the
  // consumer's registration and traffic reports.
  Agent(asio::any_io_executor ex, const SherlockConfig& config,
        std::vector<std::unique_ptr<registry::Registry>> directories,
        std::vector<std::unique_ptr<registry::Registry>> report_to = {});

  // Before start(): HAProxy is handed the proxy's socket (proxy_listener.hpp).
  void use_listener(ProxyListener& listener) { haproxy_.use_listener(listener); }
  // Loads the saved view (if any), starts HAProxy, follows the directories.
  void start();
  awaitable<void> stop();
  // Why a handover (handover.hpp) cannot be made now: the view could not be saved lately.
  std::optional<std::string> handover_refusal() const;
  // The first half of a handover: stops following the directories and managing HAProxy (left
  // running) and saves the view and the host addresses for the next sherlock.
  awaitable<void> prepare_handover();

  // SIGUSR1: the access log's file is opened again (after logrotate moved it).
  void reopen_logs();

  nlohmann::json status() const;
  std::string metrics() const;

 private:
  void changed(const std::set<std::string>& services);
  // Puts `service`'s backend as the view now says into `plan` (sorted by service), or takes it out.
  void replan(const std::string& service, Plan& plan);
  // The version the view has for an instance of a service, or "".
  std::string version_of(const std::string& service, const std::string& id) const;
  // The same, nullopt when the view has no such instance; for the id "", "" when the view has
  // the service (TrafficCounter::VersionOf).
  std::optional<std::string> version_in_view(const std::string& service,
                                             const std::string& id) const;
  // One line from HAProxy's request log socket.
  void request_line(std::string_view line);
  void start_request_log();
  void schedule_save();
  awaitable<void> save_later();
  void saved(const std::string& error);

  asio::any_io_executor ex_;
  const SherlockConfig& config_;
  DirectoryView view_;
  StateStore store_;
  HostResolver resolver_;
  HaproxyManager haproxy_;
  Watcher watcher_;
  TrafficCounter counter_;
  std::unique_ptr<Reporter> reporter_;     // with insight and a consumer name
  std::unique_ptr<LogSocket> log_socket_;  // with insight or an access log
  std::string log_socket_error_;           // why it could not listen at start
  std::unique_ptr<AccessLog> access_log_;  // with access_log in sherlock.yaml
  std::string access_log_error_;           // why it could not be opened at start
  std::uint64_t not_requests_ = 0;         // lines that were not request lines

  std::map<std::string, std::vector<std::string>> problems_;    // by service
  std::map<std::string, std::set<std::string>> host_services_;  // host -> services using it
  bool save_scheduled_ = false;
  std::string save_error_;
  // Last: destroyed (joined) first. One thread, so saves never overlap.
  asio::thread_pool saver_{1};
};

}  // namespace dstack::sherlock
