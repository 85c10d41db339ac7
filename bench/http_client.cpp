// SPDX-License-Identifier: Apache-2.0
#include "bench/http_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dstack::bench {

HttpClient::HttpClient(std::string host_port) {
  auto colon = host_port.rfind(':');
  host_ = host_port.substr(0, colon);
  port_ = host_port.substr(colon + 1);
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool HttpClient::connect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &res) != 0) return false;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  ::freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return false;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  return true;
}

HttpAnswer HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body) {
  std::string wire;
  append_request(wire, method, target, host_ + ":" + port_, body);
  return send(wire);
}

HttpAnswer HttpClient::send(const std::string& wire) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ < 0 && !connect()) return {};
    auto answer = exchange(wire);
    if (answer.status != 0) return answer;
    ::close(fd_);
    fd_ = -1;
  }
  return {};
}

// Reads one answer, Content-Length or chunked (etcd's gateway chunks answers past 2 KiB).
HttpAnswer HttpClient::exchange(const std::string& wire) {
  for (std::size_t sent = 0; sent < wire.size();) {
    ssize_t n = ::send(fd_, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return {};
    sent += static_cast<std::size_t>(n);
  }
  for (;;) {
    Response r;
    std::size_t consumed = 0;
    switch (parse_response(buffer_, r, consumed)) {
      case Parse::done:
        buffer_.erase(0, consumed);
        return r;
      case Parse::bad:
        return {};
      case Parse::more:
        break;
    }
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {};
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace dstack::bench
