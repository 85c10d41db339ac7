// SPDX-License-Identifier: Apache-2.0
#pragma once
// Keeps ONE directory's view of this host's instances true: one lease per directory, keepalive
// every ttl/3, a new lease and full re-registration when the lease is gone, jittered capped
// backoff while the directory is unreachable, prompt and coalesced puts and removes
// (docs/watson.md#health-and-registration).
//
// Not thread-safe: construct, call and destroy it on its executor's thread. The loop started by
// start() refers to the Registrar, so await shutdown() (or stop the executor) before destroying it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/core/clock.hpp"
#include "common/log/log.hpp"
#include "common/model/model.hpp"
#include "common/net/asio.hpp"
#include "common/registry/registry.hpp"
#include "watson/registration.hpp"

namespace dstack::watson {

class Registrar {
 public:
  Registrar(asio::any_io_executor ex, std::unique_ptr<registry::Registry> reg,
            std::chrono::seconds ttl, std::string owner, const Clock& clock = real_clock());
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  void start();  // spawns the loop; call once
  // Registers or updates one instance; the lease field is filled in here. The latest desired
  // state of an instance wins; nothing is sent when it equals what the directory already has.
  void put(model::Instance desired);
  void remove(const std::string& service, const std::string& id);
  // Deregisters everything, revokes the lease and stops the loop. Bounded by the client's
  // timeouts; gives up on the first unreachable answer.
  awaitable<void> shutdown();

  struct Status {
    std::string directory;
    bool connected = false;
    std::string lease;
    std::string last_error;
    std::size_t registered = 0;  // desired instances the directory has as desired
    std::size_t pending = 0;     // puts and removes still to send (refused ones excluded)
  };
  Status status() const;
  // One instance as this directory sees it: `registered`, `pending` (a put or remove still to
  // send), `absent`, or `refused: <the directory's message>`.
  std::string state_of(const std::string& service, const std::string& id) const;
  // True once nothing is left to send (refused instances aside).
  bool settled() const;

 private:
  awaitable<void> run();
  awaitable<void> put_one(model::Instance want);
  awaitable<void> remove_one(std::string service, std::string id);
  awaitable<void> wait_until(std::chrono::steady_clock::time_point until, bool wakeable);
  awaitable<void> finish();  // the shutdown work once the loop has stopped
  void failed(const Error& error, const char* what, const model::Instance* maybe_applied = {});
  void connected(bool just_now);
  void wake();

  asio::any_io_executor ex_;
  std::unique_ptr<registry::Registry> reg_;
  std::chrono::seconds ttl_;
  std::string owner_;
  const Clock& clock_;
  std::shared_ptr<spdlog::logger> log_;
  Registration registration_;  // what to do next; this class does it

  asio::steady_timer wake_;
  asio::steady_timer done_;
  bool waiting_wakeable_ = false;
  bool dirty_ = false;
  bool started_ = false;
  bool stopping_ = false;
  bool loop_done_ = false;
};

}  // namespace dstack::watson
