// SPDX-License-Identifier: Apache-2.0
#pragma once
// The benchmark's scenarios. Each prints one line of `key=value` figures on stdout (for
// bench/run to collect) and returns a process exit code; progress and problems go to stderr.

#include <chrono>
#include <cstddef>
#include <string>

#include "bench/target.hpp"
#include "common/net/asio.hpp"

namespace dstack::bench {

struct Common {
  Target target{Kind::directory, "127.0.0.1:7400"};
  net::tcp::endpoint endpoint;
  std::size_t connections = 64;
  std::size_t depth = 32;
  std::chrono::seconds limit{60};
  int server_pid = 0;  // the server's process, to report its CPU time per operation
};

struct RegisterOptions {
  std::size_t leases = 10000;
  std::size_t instances = 100000;
  std::size_t services = 100;
  int ttl = 300;
  std::string leases_file;  // where the granted lease ids go, one per line
};

struct FanoutOptions {
  std::size_t watchers = 100;
  std::size_t rounds = 20;
  int ttl = 300;
};

// Grants leases, then registers instances spread over them and over services.
int run_register(const Common& common, const RegisterOptions& options);
// Renews the leases in `leases_file` round-robin for `common.limit`.
int run_keepalive(const Common& common, const std::string& leases_file);
// Opens N watch streams, then changes one instance `rounds` times and times each delivery from
// just before the write is sent to each watcher's receipt.
int run_fanout(const Common& common, const FanoutOptions& options);
// Polls the target's health endpoint until it answers 200 or `common.limit` passes.
int run_wait(const Common& common);

}  // namespace dstack::bench
