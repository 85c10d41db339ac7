// SPDX-License-Identifier: Apache-2.0
#pragma once
// Drives request/response load over many kept-alive connections, each pipelining a batch of
// requests in one write and then reading the batch's responses. The same loop serves every
// target, so a difference in the figures is the server's.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "bench/http_wire.hpp"
#include "common/net/asio.hpp"

namespace dstack::bench {

using Clock = std::chrono::steady_clock;

struct PipelineSpec {
  net::tcp::endpoint endpoint;
  std::size_t connections = 64;
  std::size_t depth = 32;                  // requests in flight per connection
  std::chrono::milliseconds limit{60000};  // stop sending new batches after this long
  int server_pid = 0;  // when set, the server's CPU time over the run is measured too
  // Appends connection `conn`'s next request to `out` and names it by `tag`; false when there is
  // nothing more to send.
  std::function<bool(std::size_t conn, std::string& out, std::uint64_t& tag)> next;
  // Judges one response; false counts it as failed.
  std::function<bool(std::uint64_t tag, const Response& response)> done;
};

struct PipelineResult {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  double seconds = 0;
  double server_cpu = -1;   // seconds the server ran, when known
  double server_wait = -1;  // seconds it was ready to run but waited for a CPU
  std::string error;        // the first connection error, if any
  double rate() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
  // The server's CPU microseconds per successful request, or -1.
  double cpu_us_per_ok() const {
    return server_cpu >= 0 && ok > 0 ? server_cpu * 1e6 / static_cast<double>(ok) : -1;
  }
  // How much of the run the server spent running, and waiting to run; -1 when unknown.
  double cpu_share() const { return server_cpu >= 0 && seconds > 0 ? server_cpu / seconds : -1; }
  double wait_share() const { return server_wait >= 0 && seconds > 0 ? server_wait / seconds : -1; }
};

PipelineResult run_pipeline(const PipelineSpec& spec);

}  // namespace dstack::bench
