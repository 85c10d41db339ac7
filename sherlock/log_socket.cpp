// SPDX-License-Identifier: Apache-2.0
#include "sherlock/log_socket.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <stdexcept>

#include "common/net/line_buffer.hpp"

namespace dstack::sherlock {

namespace {
using stream = asio::local::stream_protocol;

// HAProxy's ring cuts lines at its maxlen (haproxy_config.cpp); more is not a line of ours.
constexpr std::size_t kMaxLine = 8192;
}  // namespace

LogSocket::LogSocket(asio::any_io_executor ex, std::string socket_path, OnLine on_line,
                     OnBatch on_batch)
    : socket_path_(std::move(socket_path)),
      on_line_(std::move(on_line)),
      on_batch_(std::move(on_batch)),
      acceptor_(ex) {
  std::error_code dir_error;  // run_dir: HaproxyFiles makes it 0700 before HAProxy starts
  std::filesystem::create_directories(std::filesystem::path(socket_path_).parent_path(), dir_error);
  ::unlink(socket_path_.c_str());  // a previous sherlock's
  error_code ec;
  acceptor_.open(stream(), ec);
  if (!ec) acceptor_.bind(stream::endpoint(socket_path_), ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("request log socket \"" + socket_path_ + "\": " + ec.message());
  ::chmod(socket_path_.c_str(), 0600);
}

void LogSocket::start() {
  asio::co_spawn(acceptor_.get_executor(), accept(), asio::detached);
}

void LogSocket::stop() {
  error_code ec;
  acceptor_.close(ec);
  for (auto& weak : connections_)
    if (auto c = weak.lock()) c->close(ec);
  connections_.clear();
}

awaitable<void> LogSocket::accept() {
  for (;;) {
    error_code ec;
    auto connection = std::make_shared<stream::socket>(acceptor_.get_executor());
    auto op = acceptor_.async_accept(*connection, asio::redirect_error(use_awaitable, ec));
    co_await std::move(op);
    if (!acceptor_.is_open()) co_return;
    if (ec) continue;
    ++connections_made_;
    std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
    connections_.push_back(connection);
    asio::co_spawn(acceptor_.get_executor(), receive(connection), asio::detached);
  }
}

awaitable<void> LogSocket::receive(std::shared_ptr<stream::socket> connection) {
  net::LineBuffer lines(kMaxLine);
  std::array<char, 65536> buf;
  std::string line;
  for (;;) {
    error_code ec;
    auto op =
        connection->async_read_some(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    const std::size_t n = co_await std::move(op);
    if (ec) co_return;  // HAProxy left (a reload's old worker) or stop()
    lines.append(std::string_view(buf.data(), n));
    for (;;) {
      const auto next = lines.next(line, false);
      if (next == net::LineBuffer::Next::need_more) break;
      if (next == net::LineBuffer::Next::too_long) {
        connection->close(ec);  // not HAProxy's ring: HAProxy reconnects
        co_return;
      }
      on_line_(line);
    }
    on_batch_();
  }
}

}  // namespace dstack::sherlock
