// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock's moving parts joined: the watcher fills the view, each change re-plans only the
// services it touched (with their hosts resolved), the HAProxy manager applies the new plan, and
// the view is saved to state_dir a moment later. Also what the local API reports.

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
#include "sherlock/state_store.hpp"
#include "sherlock/watcher.hpp"

namespace dstack::sherlock {

class Agent {
 public:
  Agent(asio::any_io_executor ex, const SherlockConfig& config,
        std::vector<std::unique_ptr<registry::Registry>> directories);

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
  std::unique_ptr<AccessLog> access_log_;  // with access_log in sherlock.yaml
  std::string access_log_error_;           // why it could not be opened at start

  std::map<std::string, std::vector<std::string>> problems_;    // by service
  std::map<std::string, std::set<std::string>> host_services_;  // host -> services using it
  bool save_scheduled_ = false;
  std::string save_error_;
  // Last: destroyed (joined) first. One thread, so saves never overlap.
  asio::thread_pool saver_{1};
};

}  // namespace dstack::sherlock
