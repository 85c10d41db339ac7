// SPDX-License-Identifier: Apache-2.0
#include "bench/conn.hpp"

#include <cstring>

namespace dstack::bench {

using asio::redirect_error;

error_code Conn::connect(const net::tcp::endpoint& ep) {
  error_code ec;
  sock_.connect(ep, ec);
  if (!ec) sock_.set_option(net::tcp::no_delay(true), ec);
  return ec;
}

void Conn::close() {
  error_code ec;
  sock_.close(ec);
}

awaitable<error_code> Conn::write(std::string data) {
  error_code ec;
  std::size_t sent = 0;
  while (sent < data.size() && !ec)
    sent += co_await sock_.async_write_some(asio::buffer(data.data() + sent, data.size() - sent),
                                            redirect_error(use_awaitable, ec));
  co_return ec;
}

void Conn::consume(std::size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

awaitable<error_code> Conn::fill() {
  constexpr std::size_t min_room = 16 << 10;
  if (data_.size() - end_ < min_room) {
    std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    if (data_.size() - end_ < min_room) data_.resize(data_.size() * 2);
  }
  error_code ec;
  auto n = co_await sock_.async_read_some(asio::buffer(data_.data() + end_, data_.size() - end_),
                                          redirect_error(use_awaitable, ec));
  end_ += n;
  co_return ec;
}

awaitable<error_code> Conn::read_responses(std::size_t n) {
  responses_.resize(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t used = 0;
    auto p = parse_response(pending(), responses_[i], used);
    if (p == Parse::done) {
      consume(used);
      ++i;
      continue;
    }
    if (p == Parse::bad) co_return asio::error::invalid_argument;
    if (auto ec = co_await fill()) co_return ec;
  }
  co_return error_code{};
}

awaitable<error_code> Conn::read_head() {
  for (;;) {
    bool chunked = false;
    std::size_t used = 0;
    auto p = parse_head(pending(), head_status_, chunked, used);
    if (p == Parse::done) {
      consume(used);
      co_return chunked ? error_code{} : asio::error::invalid_argument;
    }
    if (p == Parse::bad) co_return asio::error::invalid_argument;
    if (auto ec = co_await fill()) co_return ec;
  }
}

}  // namespace dstack::bench
