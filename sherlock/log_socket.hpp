// SPDX-License-Identifier: Apache-2.0
#pragma once
// The socket HAProxy's per-request lines arrive on (docs/insight.md#how-requests-are-seen): HAProxy
// keeps one line per request in a ring buffer and forwards the ring over a stream socket in
// run_dir, which sherlock listens on. Each complete line is handed to `on_line`, and `on_batch`
// runs after each read's lines, so a writer can flush once per batch rather than per line.
//
// The ring holds what sherlock has not read yet, up to its size, and HAProxy reconnects when
// sherlock listens again. What a worker still holds when it starts stopping (a reload) is lost:
// HAProxy 2.6 stops forwarding a stopping worker's ring (docs/insight.md#what-it-cannot-see).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/asio.hpp"  // first: <utility> before Asio

#include <boost/asio/local/stream_protocol.hpp>

namespace dstack::sherlock {

class LogSocket {
 public:
  using OnLine = std::function<void(std::string_view line)>;
  using OnBatch = std::function<void()>;

  // Listens at `socket_path` (replaced if there, mode 0600). Throws std::runtime_error naming
  // the path when it cannot.
  LogSocket(asio::any_io_executor ex, std::string socket_path, OnLine on_line, OnBatch on_batch);
  LogSocket(const LogSocket&) = delete;
  LogSocket& operator=(const LogSocket&) = delete;

  void start();  // accepts HAProxy's connections until stop()
  void stop();

  // Connections HAProxy made (one per worker, again after each reload).
  std::uint64_t connections() const { return connections_made_; }

 private:
  awaitable<void> accept();
  awaitable<void> receive(std::shared_ptr<asio::local::stream_protocol::socket> connection);

  std::string socket_path_;
  OnLine on_line_;
  OnBatch on_batch_;
  asio::local::stream_protocol::acceptor acceptor_;
  std::vector<std::weak_ptr<asio::local::stream_protocol::socket>> connections_;
  std::uint64_t connections_made_ = 0;
};

}  // namespace dstack::sherlock
