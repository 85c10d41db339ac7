// SPDX-License-Identifier: Apache-2.0
#include "sherlock/host_resolver.hpp"

#include <arpa/inet.h>

#include <array>

#include "common/log/log.hpp"

namespace dstack::sherlock {
namespace {

std::optional<std::string> canonical_ip(const std::string& text) {
  std::array<unsigned char, 16> bytes{};
  char out[INET6_ADDRSTRLEN] = {};
  if (::inet_pton(AF_INET, text.c_str(), bytes.data()) == 1)
    return std::string(::inet_ntop(AF_INET, bytes.data(), out, sizeof out));
  if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1)
    return std::string(::inet_ntop(AF_INET6, bytes.data(), out, sizeof out));
  return std::nullopt;
}

}  // namespace

HostResolver::HostResolver(asio::any_io_executor ex, Duration refresh, OnResolved on_resolved)
    : ex_(ex), refresh_(refresh), on_resolved_(std::move(on_resolved)), timer_(ex) {}

HostResolver::~HostResolver() = default;

void HostResolver::stop() {
  stopped_ = true;
  timer_.cancel();
}

void HostResolver::seed(const std::map<std::string, std::string>& addresses) {
  for (const auto& [host, address] : addresses) {
    auto ip = canonical_ip(address);
    if (!ip || canonical_ip(host) || cache_.count(host)) continue;
    cache_[host] = *ip;
    if (!stopped_ && pending_.insert(host).second)
      asio::co_spawn(ex_, resolve(host), asio::detached);
  }
  if (!cache_.empty() && !refreshing_ && !stopped_) {
    refreshing_ = true;
    asio::co_spawn(ex_, refresh_loop(), asio::detached);
  }
}

std::size_t HostResolver::unresolved() const {
  return failed_.size();
}

std::optional<std::string> HostResolver::lookup(const std::string& host) {
  if (auto ip = canonical_ip(host)) return ip;
  if (auto it = cache_.find(host); it != cache_.end()) return it->second;
  if (!stopped_ && pending_.insert(host).second) asio::co_spawn(ex_, resolve(host), asio::detached);
  if (!refreshing_ && !stopped_) {
    refreshing_ = true;
    asio::co_spawn(ex_, refresh_loop(), asio::detached);
  }
  return std::nullopt;
}

awaitable<void> HostResolver::resolve(std::string host) {
  auto log = log::get("resolve");
  net::tcp::resolver resolver(ex_);
  error_code ec;
  auto op = resolver.async_resolve(host, "", asio::redirect_error(use_awaitable, ec));
  auto results = co_await std::move(op);
  pending_.erase(host);
  if (stopped_) co_return;
  std::optional<std::string> v4, v6;
  if (!ec) {
    for (const auto& entry : results) {
      auto addr = entry.endpoint().address();
      if (addr.is_v4() && !v4) v4 = addr.to_string();
      if (addr.is_v6() && !v6) v6 = addr.to_string();
    }
  }
  auto found = v4 ? v4 : v6;
  if (!found) {
    if (failed_.insert(host).second && !cache_.count(host))
      log->warn("cannot resolve {}: {}; its instances are left out until it resolves", host,
                ec ? ec.message() : "no address");
    co_return;  // a known address is kept
  }
  failed_.erase(host);
  auto& slot = cache_[host];
  if (slot == *found) co_return;
  if (!slot.empty()) log->info("{} now resolves to {} (was {})", host, *found, slot);
  slot = *found;
  on_resolved_({host});
}

awaitable<void> HostResolver::refresh_loop() {
  while (!stopped_) {
    timer_.expires_after(refresh_);
    error_code ec;
    auto op = timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(op);
    if (stopped_) co_return;
    std::set<std::string> hosts;
    for (const auto& [host, ip] : cache_) hosts.insert(host);
    hosts.insert(failed_.begin(), failed_.end());
    for (const auto& h : hosts)
      if (pending_.insert(h).second) asio::co_spawn(ex_, resolve(h), asio::detached);
  }
}

}  // namespace dstack::sherlock
