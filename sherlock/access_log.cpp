// SPDX-License-Identifier: Apache-2.0
#include "sherlock/access_log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log/log.hpp"
#include "sherlock/request_log.hpp"

namespace dstack::sherlock {

namespace {
using datagram = asio::local::datagram_protocol;

// Room for the bursts HAProxy sends while sherlock is busy elsewhere (a reload, a snapshot).
constexpr int kReceiveBuffer = 8 << 20;
}  // namespace

AccessLog::AccessLog(asio::any_io_executor ex, std::string target, std::string socket_path,
                     std::string consumer, VersionOf version_of)
    : target_(std::move(target)),
      socket_path_(std::move(socket_path)),
      consumer_(std::move(consumer)),
      version_of_(std::move(version_of)),
      socket_(ex) {
  out_ = open_target();
  if (!out_)
    throw std::runtime_error("access_log: \"" + target_ +
                             "\": cannot open: " + std::strerror(errno));
  ::unlink(socket_path_.c_str());  // a previous sherlock's
  error_code ec;
  socket_.open(datagram(), ec);
  if (!ec) socket_.bind(datagram::endpoint(socket_path_), ec);
  if (ec) throw std::runtime_error("access log socket \"" + socket_path_ + "\": " + ec.message());
  ::chmod(socket_path_.c_str(), 0600);
  socket_.set_option(asio::socket_base::receive_buffer_size(kReceiveBuffer), ec);
}

AccessLog::~AccessLog() {
  if (out_ && out_ != stdout) std::fclose(out_);
}

std::FILE* AccessLog::open_target() const {
  if (target_ == "stdout") return stdout;
  return std::fopen(target_.c_str(), "a");
}

void AccessLog::start() {
  asio::co_spawn(socket_.get_executor(), receive(), asio::detached);
}

void AccessLog::stop() {
  error_code ec;
  socket_.close(ec);
}

void AccessLog::reopen() {
  if (target_ == "stdout") return;
  std::FILE* next = open_target();
  if (!next) {
    log::get("sherlock")
        ->error("access_log: \"{}\": cannot reopen: {}; still writing to the old file", target_,
                std::strerror(errno));
    return;
  }
  std::fclose(out_);
  out_ = next;
  log::get("sherlock")->info("access_log: reopened {}", target_);
}

awaitable<void> AccessLog::receive() {
  std::array<char, 8192> buf;
  for (;;) {
    error_code ec;
    auto wait = socket_.async_receive(asio::buffer(buf), asio::redirect_error(use_awaitable, ec));
    const std::size_t n = co_await std::move(wait);
    if (ec == asio::error::operation_aborted || !socket_.is_open()) co_return;
    if (ec) continue;
    write(std::string_view(buf.data(), n));
    // What else has arrived meanwhile, then one flush for the batch.
    while (socket_.available(ec) > 0 && !ec) {
      const std::size_t more = socket_.receive(asio::buffer(buf), 0, ec);
      if (ec) break;
      write(std::string_view(buf.data(), more));
    }
    if (std::fflush(out_) != 0) ++counters_.write_errors;
  }
}

void AccessLog::write(std::string_view datagram) {
  const auto record = parse_request_log(datagram);
  if (!record) {
    ++counters_.not_requests;
    return;
  }
  const std::string service = service_of(*record);
  const std::string version =
      service.empty() ? std::string() : version_of_(service, record->server);
  const std::string line = access_log_line(*record, consumer_, version);
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
    ++counters_.write_errors;
    return;
  }
  ++counters_.lines;
}

}  // namespace dstack::sherlock
