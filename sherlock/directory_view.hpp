// SPDX-License-Identifier: Apache-2.0
#pragma once
// sherlock's copy of the directory: every service's instances, routes and traffic policy, kept
// current from a snapshot and then the watch stream. Pure state: the watcher feeds it, the
// planner reads it.
//
// The one rule beyond copying (docs/sherlock.md#fail-static): while the directory is not
// `synced` (it restarted and its watsons have not all re-registered yet), an instance is never
// removed. A snapshot that lacks an instance this view has keeps it, and a delete event keeps
// it; both are remembered as held. The next snapshot taken while the directory is synced is
// authoritative and drops them. Routes and policies are durable in the directory, so they are
// always taken as they come.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "common/model/model.hpp"
#include "sherlock/plan.hpp"

namespace dstack::sherlock {

class DirectoryView {
 public:
  // Replaces the view with a snapshot (at start, after a 410, after failing over), keeping held
  // instances when it is not synced. Returns the services whose instances, routes or policy
  // changed.
  std::set<std::string> load(const model::Snapshot& snapshot);
  // One watch event; returns the service it changed, if any.
  std::optional<std::string> apply(const model::Event& event);
  // The watch stream's keepalive: everything up to `revision` has been seen.
  void seen(std::uint64_t revision);

  const std::map<std::string, ServiceView>& services() const { return services_; }
  std::uint64_t revision() const { return revision_; }
  const std::string& epoch() const { return epoch_; }
  bool synced() const { return synced_; }
  // Instances kept only because the directory is not synced: (service, id).
  const std::set<std::pair<std::string, std::string>>& held() const { return held_; }

  // The view as a snapshot, to save in state_dir and load again after a restart.
  model::Snapshot to_snapshot() const;

 private:
  bool put_instance(const model::Instance& instance);
  bool remove_instance(const std::string& service, const std::string& id);
  bool put_route(const model::Route& route);
  bool remove_route(const std::string& service, const std::string& consumer);
  bool put_policy(const model::TrafficPolicy& policy);
  bool remove_policy(const std::string& service);
  // Drops a service that has nothing left.
  void erase_if_empty(std::map<std::string, ServiceView>::iterator it);

  std::map<std::string, ServiceView> services_;
  std::set<std::pair<std::string, std::string>> held_;
  std::uint64_t revision_ = 0;
  std::string epoch_;
  bool synced_ = true;
};

}  // namespace dstack::sherlock
