// SPDX-License-Identifier: Apache-2.0
#pragma once
// One client connection of the load driver: raw bytes out, pipelined responses or a stream in.
// The owner keeps it alive (shared_ptr) for as long as a coroutine uses it.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bench/http_wire.hpp"
#include "common/net/asio.hpp"

namespace dstack::bench {

class Conn {
 public:
  explicit Conn(asio::io_context& io) : sock_(io), data_(64 << 10) {}

  // Blocking connect, with TCP_NODELAY as every client here would set it.
  error_code connect(const net::tcp::endpoint& ep);
  void close();
  asio::any_io_executor executor() { return sock_.get_executor(); }

  awaitable<error_code> write(std::string data);
  // Reads until `n` complete responses have arrived; they are then in responses().
  awaitable<error_code> read_responses(std::size_t n);
  const std::vector<Response>& responses() const { return responses_; }

  // For streams: reads a chunked response's head; the body's first bytes stay in pending().
  awaitable<error_code> read_head();
  int head_status() const { return head_status_; }
  // Appends whatever the peer sends next to pending().
  awaitable<error_code> fill();

  // From now on, fill() also records when the kernel received the bytes it read (SO_TIMESTAMPNS):
  // the time they reached this host, before the driver, busy with other connections, got to
  // read them. False when the socket refuses the option.
  bool record_arrivals();
  // The receive time of the last segment fill() read; the epoch when none was recorded.
  std::chrono::system_clock::time_point arrived() const { return arrived_; }
  std::string_view pending() const { return {data_.data() + begin_, end_ - begin_}; }
  void consume(std::size_t n);

 private:
  net::tcp::socket sock_;
  std::vector<char> data_;
  std::size_t begin_ = 0, end_ = 0;
  std::vector<Response> responses_;
  int head_status_ = 0;
  bool record_arrivals_ = false;
  std::chrono::system_clock::time_point arrived_{};

  std::size_t read_recording_arrival(error_code& ec);
};

}  // namespace dstack::bench
