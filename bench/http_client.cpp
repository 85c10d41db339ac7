#include "bench/http_client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

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
  std::string wire =
      method + " " + target + " HTTP/1.1\r\nHost: " + host_ + ":" + port_ +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ < 0 && !connect()) return {};
    auto answer = exchange(wire);
    if (answer.status != 0) return answer;
    ::close(fd_);
    fd_ = -1;
  }
  return {};
}

// Reads one answer with a Content-Length body (what the directory sends to these requests).
HttpAnswer HttpClient::exchange(const std::string& wire) {
  for (std::size_t sent = 0; sent < wire.size();) {
    ssize_t n = ::send(fd_, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return {};
    sent += static_cast<std::size_t>(n);
  }
  auto fill = [&] {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) return {};
  HttpAnswer a;
  a.status = std::atoi(buffer_.c_str() + buffer_.find(' ') + 1);
  std::size_t length = 0;
  for (std::size_t at = buffer_.find("\r\n") + 2; at < head_end;) {
    auto eol = buffer_.find("\r\n", at);
    if (strncasecmp(buffer_.c_str() + at, "content-length:", 15) == 0)
      length = std::strtoul(buffer_.c_str() + at + 15, nullptr, 10);
    at = eol + 2;
  }
  while (buffer_.size() < head_end + 4 + length)
    if (!fill()) return {};
  a.body = buffer_.substr(head_end + 4, length);
  buffer_.erase(0, head_end + 4 + length);
  return a;
}

}  // namespace dstack::bench
