// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs a Registry (directory or etcd client) from a test: the client lives on the test's own
// io_context, and run() drives it until one operation completes or its deadline passes.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "common/net/asio.hpp"
#include "common/registry/directory_client.hpp"
#include "harness.hpp"

namespace dstack::test {

// How an operation failed; nullopt when it succeeded. One EXPECT_EQ says "failed, and so".
template <class R>
std::optional<ErrorKind> failure_kind(const R& result) {
  if (result) return std::nullopt;
  return result.error().kind;
}

class RegistryRunner {
 public:
  // Throws when `address` does not parse. `ca_file`: trust that CA for https:// and etcds://;
  // `cert` and `key`: present that client certificate there. As the daemons build their
  // settings (registry::client_settings).
  explicit RegistryRunner(const std::string& address, std::string token = {},
                          std::string ca_file = {}, std::string cert = {}, std::string key = {}) {
    auto parsed = registry::parse_directory_address(address);
    if (auto* why = std::get_if<std::string>(&parsed)) throw std::runtime_error(*why);
    auto settings = registry::client_settings(std::move(token), std::move(ca_file), std::move(cert),
                                              std::move(key));
    // The daemons' own timeouts: tests see what watson, sherlock and dw would.
    settings.watch_idle_timeout = 5s;
    reg_ = registry::make_registry(io_.get_executor(), std::get<registry::DirectoryAddress>(parsed),
                                   settings);
  }

  registry::Registry& operator*() { return *reg_; }
  registry::Registry* operator->() { return reg_.get(); }

  // The operation's result; a test failure (and an unreachable Error) if it takes longer than
  // `timeout`. State is shared with the completion handler, so an operation left running after
  // a timeout writes nowhere it should not.
  template <class T>
  T run(asio::awaitable<T> op, Clock::duration timeout = 15s) {
    auto done = std::make_shared<std::optional<T>>();
    auto failed = std::make_shared<std::exception_ptr>();
    // Results are not default-constructible, as co_spawn's handler needs: store from inside.
    auto store = [](asio::awaitable<T> op,
                    std::shared_ptr<std::optional<T>> done) -> awaitable<void> {
      done->emplace(co_await std::move(op));
    };
    asio::co_spawn(io_, store(std::move(op), done), [failed](std::exception_ptr e) {
      if (e) *failed = e;
    });
    const auto deadline = Clock::now() + timeout;
    while (!*done && !*failed && Clock::now() < deadline) {
      io_.restart();
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    if (*failed) std::rethrow_exception(*failed);
    if (!*done) {
      ADD_FAILURE() << "registry operation still running after the deadline";
      return T(Error{ErrorKind::unreachable, "test_timeout", "the test's deadline passed"});
    }
    return std::move(**done);
  }

 private:
  asio::io_context io_;
  std::unique_ptr<registry::Registry> reg_;
};

}  // namespace dstack::test
