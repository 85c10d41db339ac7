// SPDX-License-Identifier: Apache-2.0
#include "bench/conn.hpp"

#include <sys/socket.h>
#include <time.h>

#include <cerrno>
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
  while (sent < data.size() && !ec) {
    auto write_some = sock_.async_write_some(asio::buffer(data.data() + sent, data.size() - sent),
                                             redirect_error(use_awaitable, ec));
    sent += co_await std::move(write_some);
  }
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
  if (record_arrivals_) {
    // Readiness from Asio, the read itself with recvmsg: only it returns the timestamp.
    for (;;) {
      auto readable =
          sock_.async_wait(net::tcp::socket::wait_read, redirect_error(use_awaitable, ec));
      co_await std::move(readable);
      if (ec) co_return ec;
      auto n = read_recording_arrival(ec);
      if (ec == asio::error::would_block) continue;
      end_ += n;
      co_return ec;
    }
  }
  auto read_some = sock_.async_read_some(asio::buffer(data_.data() + end_, data_.size() - end_),
                                         redirect_error(use_awaitable, ec));
  auto n = co_await std::move(read_some);
  end_ += n;
  co_return ec;
}

bool Conn::record_arrivals() {
  int on = 1;
  record_arrivals_ =
      ::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  return record_arrivals_;
}

std::size_t Conn::read_recording_arrival(error_code& ec) {
  iovec iov{data_.data() + end_, data_.size() - end_};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock_.native_handle(), &msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ec = error_code(errno, asio::error::get_system_category());
    if (errno == EAGAIN || errno == EWOULDBLOCK) ec = asio::error::would_block;
    return 0;
  }
  if (n == 0) {
    ec = asio::error::eof;
    return 0;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec ts;
    std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
    arrived_ = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
  }
  return static_cast<std::size_t>(n);
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
    auto filled = fill();
    if (auto ec = co_await std::move(filled)) co_return ec;
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
    auto filled = fill();
    if (auto ec = co_await std::move(filled)) co_return ec;
  }
}

}  // namespace dstack::bench
