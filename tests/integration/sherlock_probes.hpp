// SPDX-License-Identifier: Apache-2.0
#pragma once
// Background probes for tests that kill parts of a cluster under sherlock: each runs on a thread
// of its own and touches only sockets (http), never the fixtures' Process objects, which are
// not thread-safe. A lease kept alive as watson would, a client calling through the proxy, and
// a monitor of the fewest servers a service ever had in HAProxy.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "etcd_fixture.hpp"
#include "harness.hpp"
#include "sherlock_fixture.hpp"

namespace dstack::test {

using Servers = std::map<std::string, int>;  // HAProxy server (the instance id) -> weight

// The servers sherlock's status shows for `service`, with their weights.
inline Servers servers_of(const json& status, const std::string& service) {
  Servers out;
  if (!status.is_object() || !status.contains("services")) return out;
  const auto& services = status.at("services");
  if (!services.contains(service)) return out;
  for (const auto& srv : services.at(service).at("servers"))
    out[srv.at("id").get<std::string>()] = srv.at("weight").get<int>();
  return out;
}

inline std::size_t routable(const Servers& servers) {
  std::size_t n = 0;
  for (const auto& [id, weight] : servers) n += weight > 0;
  return n;
}

// Runs `step` every `period` on a thread of its own until stop(). Background threads touch only
// sockets (http), never the fixtures' Process objects, which are not thread-safe.
class Repeater {
 public:
  Repeater(Clock::duration period, std::function<void()> step)
      : thread_([this, period, step = std::move(step)] {
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            lock.unlock();
            step();
            lock.lock();
            cv_.wait_for(lock, period, [&] { return stop_; });
          }
        }) {}
  ~Repeater() { stop(); }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the rest exists
};

// A lease's owner, as watson is: a keepalive every second on whichever member answers.
class LeaseKeeper {
 public:
  LeaseKeeper(const EtcdCluster& etcd, std::string lease) : lease_(std::move(lease)) {
    for (int i = 0; i < etcd.size(); ++i) ports_.push_back(etcd.client_port(i));
    repeater_ = std::make_unique<Repeater>(1s, [this] { keepalive(); });
  }
  std::uint64_t renewals() const { return renewals_; }

 private:
  void keepalive() {
    const std::string body = json{{"ID", lease_}}.dump();
    for (auto port : ports_) {
      auto r = http(port, "POST", "/v3/lease/keepalive", body, {}, 1s);
      auto j = json::parse(r.body, nullptr, false);
      if (r.status == 200 && j.is_object() && j.contains("result") &&
          j["result"].value("TTL", "0") != "0") {
        ++renewals_;
        return;
      }
    }
  }
  std::string lease_;
  std::vector<std::uint16_t> ports_;
  std::atomic<std::uint64_t> renewals_{0};
  std::unique_ptr<Repeater> repeater_;  // last: stopped first
};

// An application calling a service through sherlock's proxy: one request after the other,
// every answer that is not a 200 counted (and among them the connections refused), the first
// one kept to tell why.
class ClientLoop {
 public:
  ClientLoop(std::uint16_t proxy_port, std::string target)
      : repeater_(5ms, [this, proxy_port, target] {
          auto r = http(proxy_port, "GET", target, "", {}, 3s);
          if (r.status == 200) {
            ++ok_;
            return;
          }
          if (r.error.rfind("cannot connect", 0) == 0) ++refused_;
          if (failed_++ == 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            first_failure_ = std::to_string(r.status) + " " + r.error + " " + r.body;
          }
        }) {}
  void stop() { repeater_.stop(); }
  std::uint64_t ok() const { return ok_; }
  std::uint64_t failed() const { return failed_; }
  std::uint64_t refused() const { return refused_; }
  std::string first_failure() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_failure_;
  }

 private:
  std::atomic<std::uint64_t> ok_{0}, failed_{0}, refused_{0};
  mutable std::mutex mutex_;
  std::string first_failure_;
  Repeater repeater_;
};

// Watches sherlock's status all along: the fewest servers with traffic a service ever had.
class ServerCountMonitor {
 public:
  ServerCountMonitor(const Sherlock& sherlock, std::string service)
      : repeater_(20ms, [this, &sherlock, service] {
          auto s = sherlock.status();
          if (!s.is_object()) return;  // no answer says nothing about HAProxy's servers
          const auto n = routable(servers_of(s, service));
          std::lock_guard<std::mutex> lock(mutex_);
          ++samples_;
          if (n < min_) {
            min_ = n;
            at_min_ = s.dump(2);
          }
        }) {}
  void stop() { repeater_.stop(); }
  std::size_t min() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return min_;
  }
  std::size_t samples() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return samples_;
  }
  std::string at_min() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return at_min_;
  }

 private:
  mutable std::mutex mutex_;
  std::size_t min_ = SIZE_MAX, samples_ = 0;
  std::string at_min_;
  Repeater repeater_;
};

}  // namespace dstack::test
