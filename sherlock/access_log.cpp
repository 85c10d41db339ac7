// SPDX-License-Identifier: Apache-2.0
#include "sherlock/access_log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/log/log.hpp"
#include "common/net/line_buffer.hpp"
#include "sherlock/request_log.hpp"

namespace dstack::sherlock {

namespace {
using stream = asio::local::stream_protocol;

// HAProxy's ring cuts lines at its maxlen (haproxy_config.cpp); more is not a line of ours.
constexpr std::size_t kMaxLine = 8192;
}  // namespace

AccessLog::AccessLog(asio::any_io_executor ex, std::string target, std::string socket_path,
                     std::string consumer, VersionOf version_of)
    : target_(std::move(target)),
      socket_path_(std::move(socket_path)),
      consumer_(std::move(consumer)),
      version_of_(std::move(version_of)),
      acceptor_(ex) {
  out_ = open_target();
  if (!out_)
    throw std::runtime_error("access_log: \"" + target_ +
                             "\": cannot open: " + std::strerror(errno));
  std::error_code dir_error;  // run_dir: HaproxyFiles makes it 0700 before HAProxy starts
  std::filesystem::create_directories(std::filesystem::path(socket_path_).parent_path(), dir_error);
  ::unlink(socket_path_.c_str());  // a previous sherlock's
  error_code ec;
  acceptor_.open(stream(), ec);
  if (!ec) acceptor_.bind(stream::endpoint(socket_path_), ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("access log socket \"" + socket_path_ + "\": " + ec.message());
  ::chmod(socket_path_.c_str(), 0600);
}

AccessLog::~AccessLog() {
  if (out_ && out_ != stdout) std::fclose(out_);
}

std::FILE* AccessLog::open_target() const {
  if (target_ == "stdout") return stdout;
  return std::fopen(target_.c_str(), "a");
}

void AccessLog::start() {
  asio::co_spawn(acceptor_.get_executor(), accept(), asio::detached);
}

void AccessLog::stop() {
  error_code ec;
  acceptor_.close(ec);
  for (auto& weak : connections_)
    if (auto c = weak.lock()) c->close(ec);
  connections_.clear();
}

void AccessLog::reopen() {
  if (target_ == "stdout") return;
  std::FILE* next = open_target();
  auto log = log::get("sherlock");
  if (!next) {
    log->error("access_log: \"{}\": cannot reopen: {}; still writing to the old file", target_,
               std::strerror(errno));
    return;
  }
  std::fclose(out_);
  out_ = next;
  log->info("access_log: reopened {}", target_);
}

awaitable<void> AccessLog::accept() {
  for (;;) {
    error_code ec;
    auto connection = std::make_shared<stream::socket>(acceptor_.get_executor());
    auto op = acceptor_.async_accept(*connection, asio::redirect_error(use_awaitable, ec));
    co_await std::move(op);
    if (!acceptor_.is_open()) co_return;
    if (ec) continue;
    std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
    connections_.push_back(connection);
    asio::co_spawn(acceptor_.get_executor(), receive(connection), asio::detached);
  }
}

awaitable<void> AccessLog::receive(std::shared_ptr<stream::socket> connection) {
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
      write(line);
    }
    if (std::fflush(out_) != 0) ++counters_.write_errors;
  }
}

void AccessLog::write(std::string_view text) {
  const auto record = parse_request_log(text);
  if (!record) {
    ++counters_.not_requests;
    return;
  }
  const std::string service = service_of(*record);
  const std::string version =
      service.empty() ? std::string() : version_of_(service, record->server);
  const std::string json = access_log_line(*record, consumer_, version);
  if (std::fwrite(json.data(), 1, json.size(), out_) != json.size()) {
    ++counters_.write_errors;
    return;
  }
  ++counters_.lines;
}

}  // namespace dstack::sherlock
