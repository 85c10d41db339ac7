// SPDX-License-Identifier: Apache-2.0
#pragma once
// The access log (docs/sherlock.md#access-log): HAProxy keeps one line per request in a ring
// buffer and forwards the ring over a stream socket in run_dir, which sherlock listens on; each
// line becomes one JSON line (request_log.hpp) in the file access_log names, or on stdout
// ("stdout", for the journal under systemd). SIGUSR1 reopens the file, for logrotate. Lines are
// written as they come and flushed after each read.
//
// The ring holds what sherlock has not read yet, up to its size, and HAProxy reconnects when
// sherlock listens again. What a worker still holds when it starts stopping (a reload) is lost:
// HAProxy 2.6 stops forwarding a stopping worker's ring (docs/sherlock.md#access-log).

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/net/asio.hpp"  // first: <utility> before Asio

#include <boost/asio/local/stream_protocol.hpp>

namespace dstack::sherlock {

struct AccessLogCounters {
  std::uint64_t lines = 0;         // written
  std::uint64_t not_requests = 0;  // lines that were not request lines (HAProxy's notices)
  std::uint64_t write_errors = 0;
};

class AccessLog {
 public:
  // The version of an instance of a service now, or "" when unknown.
  using VersionOf = std::function<std::string(const std::string& service, const std::string& id)>;

  // `target` is a file path or "stdout"; `socket_path` where HAProxy connects (replaced if there).
  // Throws std::runtime_error naming the path when either cannot be opened.
  AccessLog(asio::any_io_executor ex, std::string target, std::string socket_path,
            std::string consumer, VersionOf version_of);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void start();  // accepts HAProxy's connections until stop()
  void stop();
  // Closes and opens the file again (SIGUSR1); a failure is logged and the old file kept.
  void reopen();

  const AccessLogCounters& counters() const { return counters_; }

 private:
  awaitable<void> accept();
  awaitable<void> receive(std::shared_ptr<asio::local::stream_protocol::socket> connection);
  void write(std::string_view line);
  std::FILE* open_target() const;

  std::string target_, socket_path_, consumer_;
  VersionOf version_of_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::vector<std::weak_ptr<asio::local::stream_protocol::socket>> connections_;
  std::FILE* out_ = nullptr;
  AccessLogCounters counters_;
};

}  // namespace dstack::sherlock
