// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access log (docs/sherlock.md#access-log): HAProxy sends one datagram per request to a
// socket in run_dir; each becomes one JSON line (request_log.hpp) in the file access_log names,
// or on stdout ("stdout", for the journal under systemd). SIGUSR1 reopens the file, for
// logrotate. Lines are written as they come and flushed after each batch HAProxy has sent.
//
// HAProxy outlives sherlock (a restart, a handover): datagrams sent while no sherlock listens
// are lost, as is anything past the socket's receive buffer (counted by the kernel, not here).

#include <cstdio>
#include <functional>
#include <string>

#include "common/net/asio.hpp"  // first: <utility> before Asio

#include <boost/asio/local/datagram_protocol.hpp>

namespace dstack::sherlock {

struct AccessLogCounters {
  std::uint64_t lines = 0;         // written
  std::uint64_t not_requests = 0;  // datagrams that were not request lines (HAProxy's notices)
  std::uint64_t write_errors = 0;
};

class AccessLog {
 public:
  // The version of an instance of a service now, or "" when unknown.
  using VersionOf = std::function<std::string(const std::string& service, const std::string& id)>;

  // `target` is a file path or "stdout"; `socket_path` where HAProxy sends (replaced if there).
  // Throws std::runtime_error naming the path when either cannot be opened.
  AccessLog(asio::any_io_executor ex, std::string target, std::string socket_path,
            std::string consumer, VersionOf version_of);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void start();  // receives until stop()
  void stop();
  // Closes and opens the file again (SIGUSR1); a failure is logged and the old file kept.
  void reopen();

  const AccessLogCounters& counters() const { return counters_; }

 private:
  awaitable<void> receive();
  void write(std::string_view datagram);
  std::FILE* open_target() const;

  std::string target_, socket_path_, consumer_;
  VersionOf version_of_;
  asio::local::datagram_protocol::socket socket_;
  std::FILE* out_ = nullptr;
  AccessLogCounters counters_;
};

}  // namespace dstack::sherlock
