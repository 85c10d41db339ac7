// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keeps a DirectoryView current from sherlock.yaml's directories (docs/sherlock.md#fail-static):
// - the first directory that answers wins: a snapshot, then the watch stream from its revision;
// - 410 (the revision or epoch is no longer served): a fresh snapshot, applied as a diff;
// - a directory that fails (unreachable, stream cut, nonsense) is left for the next one in the
//   list, round after round with jittered backoff; the view is kept as it was meanwhile (fail
//   static);
// - while the directory is not `synced` (it restarted and its watsons are still coming back) no
//   instance is removed (DirectoryView holds them), and the snapshot is re-read every second
//   instead of watching, until a synced one replaces the held instances.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/core/backoff.hpp"
#include "common/registry/registry.hpp"
#include "sherlock/directory_view.hpp"

namespace dstack::sherlock {

class Watcher {
 public:
  // Called with the services whose instances or routes changed (possibly empty after a
  // snapshot that changed nothing).
  using OnChange = std::function<void(const std::set<std::string>& services)>;

  Watcher(asio::any_io_executor ex, std::vector<std::unique_ptr<registry::Registry>> directories,
          DirectoryView& view, OnChange on_change);

  void start();
  void stop();

  bool connected() const { return connected_; }
  nlohmann::json status() const;
  std::uint64_t events() const { return events_; }
  std::uint64_t snapshots() const { return snapshots_; }

 private:
  awaitable<void> run();
  // Serves from one directory until it fails; returns why.
  awaitable<Error> follow(registry::Registry& dir);
  awaitable<Status> load_snapshot(registry::Registry& dir);
  // A fresh snapshot after a 410 (`why` is stale); any other error is handed back.
  awaitable<Status> snapshot_if_stale(registry::Registry& dir, Error why);
  awaitable<void> pause(Duration d);

  asio::any_io_executor ex_;
  std::vector<std::unique_ptr<registry::Registry>> directories_;
  DirectoryView& view_;
  OnChange on_change_;
  asio::steady_timer timer_;
  Backoff backoff_;
  bool stopped_ = false;
  bool connected_ = false;
  std::string current_;  // the directory being followed
  std::string last_error_;
  std::uint64_t events_ = 0;
  std::uint64_t snapshots_ = 0;
  std::uint64_t failovers_ = 0;
};

}  // namespace dstack::sherlock
