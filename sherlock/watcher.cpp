// SPDX-License-Identifier: Apache-2.0
#include "sherlock/watcher.hpp"

#include "common/core/exception_text.hpp"
#include "common/log/log.hpp"

namespace dstack::sherlock {
namespace {

constexpr Duration kUnsyncedPoll = std::chrono::seconds(1);

}  // namespace

Watcher::Watcher(asio::any_io_executor ex,
                 std::vector<std::unique_ptr<registry::Registry>> directories, DirectoryView& view,
                 OnChange on_change)
    : ex_(ex),
      directories_(std::move(directories)),
      view_(view),
      on_change_(std::move(on_change)),
      timer_(ex),
      backoff_(std::chrono::milliseconds(200), std::chrono::seconds(5)) {}

void Watcher::start() {
  asio::co_spawn(ex_, run(), [](std::exception_ptr e) {
    if (e) log::get("watch")->critical("the directory watcher stopped: {}", exception_text(e));
  });
}

void Watcher::stop() {
  stopped_ = true;
  timer_.cancel();
}

awaitable<void> Watcher::pause(Duration d) {
  timer_.expires_after(d);
  error_code ec;
  auto op = timer_.async_wait(asio::redirect_error(use_awaitable, ec));
  co_await std::move(op);
}

awaitable<Status> Watcher::load_snapshot(registry::Registry& dir) {
  auto op = dir.snapshot();
  auto snap = co_await std::move(op);
  // A snapshot answered after stop() changes nothing: the view may already have been saved for
  // the next sherlock (prepare_handover), and nobody applies plans any more.
  if (stopped_) co_return Error{ErrorKind::unreachable, "stopped", "stopped"};
  if (!snap) co_return snap.error();
  ++snapshots_;
  auto changed = view_.load(*snap);
  on_change_(changed);
  co_return Ok{};
}

awaitable<Status> Watcher::snapshot_if_stale(registry::Registry& dir, Error why) {
  // 410: the directory no longer serves the revision asked from; anything else ends following.
  if (why.kind != ErrorKind::stale) co_return why;
  log::get("watch")->info("{}: {}; reading a fresh snapshot", dir.describe(), why.message);
  auto op = load_snapshot(dir);
  co_return co_await std::move(op);
}

awaitable<Error> Watcher::follow(registry::Registry& dir) {
  auto log = log::get("watch");
  {
    auto op = load_snapshot(dir);
    auto st = co_await std::move(op);
    if (!st) co_return st.error();
  }
  if (!connected_ || current_ != dir.describe()) {
    log->info("following {} from revision {}{}", dir.describe(), view_.revision(),
              view_.synced() ? "" : " (not synced yet: nothing is removed until it is)");
  }
  connected_ = true;
  current_ = dir.describe();
  last_error_.clear();
  backoff_.reset();
  while (!stopped_) {
    if (!view_.synced()) {
      // The watch stream would not say when the directory becomes synced; its snapshot does.
      auto p = pause(kUnsyncedPoll);
      co_await std::move(p);
      if (stopped_) break;
      auto op = load_snapshot(dir);
      auto st = co_await std::move(op);
      if (!st) co_return st.error();
      if (view_.synced()) log->info("{} is synced: held instances are dropped", dir.describe());
      continue;
    }
    auto open = dir.watch(view_.revision(), view_.epoch());
    auto watch = co_await std::move(open);
    if (!watch) {
      auto op = snapshot_if_stale(dir, watch.error());
      auto st = co_await std::move(op);
      if (!st) co_return st.error();
      continue;
    }
    for (;;) {
      auto next = (*watch)->next();
      auto event = co_await std::move(next);
      if (stopped_) co_return Error{ErrorKind::unreachable, "stopped", "stopped"};
      if (!event) {
        auto op = snapshot_if_stale(dir, event.error());
        auto st = co_await std::move(op);
        if (!st) co_return st.error();
        break;
      }
      ++events_;
      auto changed = view_.apply(*event);
      std::set<std::string> services;
      if (changed) services.insert(*changed);
      on_change_(services);
    }
  }
  co_return Error{ErrorKind::unreachable, "stopped", "stopped"};
}

awaitable<void> Watcher::run() {
  auto log = log::get("watch");
  while (!stopped_) {
    for (auto& dir : directories_) {
      if (stopped_) co_return;
      auto op = follow(*dir);
      Error why = co_await std::move(op);
      if (stopped_) co_return;
      if (connected_) {
        log->warn("lost {}: {}; keeping the last state and trying the directories in order",
                  dir->describe(), why.message);
        ++failovers_;
      } else if (last_error_ != why.message) {
        log->warn("{}: {}", dir->describe(), why.message);
      }
      connected_ = false;
      last_error_ = why.message;
    }
    auto p = pause(backoff_.next());
    co_await std::move(p);
  }
}

nlohmann::json Watcher::status() const {
  nlohmann::json j;
  j["connected"] = connected_;
  j["directory"] = connected_ ? nlohmann::json(current_) : nlohmann::json(nullptr);
  j["revision"] = view_.revision();
  j["epoch"] = view_.epoch();
  j["synced"] = view_.synced();
  j["held_instances"] = view_.held().size();
  j["last_error"] = last_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_error_);
  j["events"] = events_;
  j["snapshots"] = snapshots_;
  j["failovers"] = failovers_;
  return j;
}

}  // namespace dstack::sherlock
