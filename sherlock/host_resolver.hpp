// SPDX-License-Identifier: Apache-2.0
#pragma once
// Host names in instance URLs, resolved off the planning path. Numeric addresses need no lookup.
// A name is looked up the first time a plan needs it (until then its instances are left out),
// then again every `refresh`; the callback says which names got a new address. A lookup that
// fails keeps the last good address (fail static), so a DNS outage never empties a backend.
// The first IPv4 address is preferred, then the first IPv6 one.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"

namespace dstack::sherlock {

class HostResolver {
 public:
  using OnResolved = std::function<void(const std::set<std::string>& hosts)>;

  HostResolver(asio::any_io_executor ex, Duration refresh, OnResolved on_resolved);
  ~HostResolver();

  // The address for `host` now, if known; starts a lookup when it is not.
  std::optional<std::string> lookup(const std::string& host);
  void stop();
  // Addresses known from elsewhere (the sherlock that handed HAProxy over): used at once and
  // looked up again straight away, so one that changed meanwhile is corrected.
  void seed(const std::map<std::string, std::string>& addresses);
  const std::map<std::string, std::string>& addresses() const { return cache_; }

  std::size_t known() const { return cache_.size(); }
  std::size_t unresolved() const;

 private:
  awaitable<void> resolve(std::string host);
  awaitable<void> refresh_loop();

  asio::any_io_executor ex_;
  Duration refresh_;
  OnResolved on_resolved_;
  asio::steady_timer timer_;
  std::map<std::string, std::string> cache_;  // host -> address
  std::set<std::string> pending_;             // lookups in flight
  std::set<std::string> failed_;              // never resolved yet
  bool refreshing_ = false;
  bool stopped_ = false;
};

}  // namespace dstack::sherlock
