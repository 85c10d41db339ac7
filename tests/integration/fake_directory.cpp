// SPDX-License-Identifier: Apache-2.0
#include "fake_directory.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace dstack::test {
namespace {

void send_all(int fd, const std::string& text) {
  for (std::size_t sent = 0; sent < text.size();) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

std::string answer(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

FakeDirectory::FakeDirectory() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error("fake directory: cannot listen on loopback");
  port_ = ntohs(addr.sin_port);
  on_watch_ = [](const std::string&) { return WatchAnswer::silent_stream; };
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeDirectory::~FakeDirectory() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& t : threads_) t.join();
}

void FakeDirectory::set_snapshot(std::string json) {
  std::lock_guard lock(mu_);
  snapshot_ = std::move(json);
}

void FakeDirectory::on_watch(std::function<WatchAnswer(const std::string&)> f) {
  std::lock_guard lock(mu_);
  on_watch_ = std::move(f);
}

void FakeDirectory::accept_loop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::lock_guard lock(mu_);
    open_fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

// One request per connection (each answer closes it), as any HTTP/1.1 client handles.
void FakeDirectory::serve(int fd) {
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const auto sp1 = request.find(' '), sp2 = request.find(' ', sp1 + 1);
  const std::string target = sp1 == std::string::npos ? "" : request.substr(sp1 + 1, sp2 - sp1 - 1);
  if (target.rfind("/v1/snapshot", 0) == 0) {
    ++snapshots_;
    std::string body;
    {
      std::lock_guard lock(mu_);
      body = snapshot_;
    }
    send_all(fd, answer(200, "OK", body));
  } else if (target.rfind("/v1/watch", 0) == 0) {
    ++watches_;
    std::function<WatchAnswer(const std::string&)> decide;
    {
      std::lock_guard lock(mu_);
      decide = on_watch_;
    }
    if (decide(target) == WatchAnswer::gone) {
      send_all(fd, answer(410, "Gone",
                          R"({"error":"compacted","message":"revision no longer served"})"));
    } else {
      send_all(fd,
               "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
      while (!stopping_ && ::recv(fd, buf, sizeof buf, 0) > 0) {
      }  // silent until the peer or the test goes
    }
  } else {
    send_all(fd, answer(404, "Not Found", R"({"error":"not_found","message":"fake"})"));
  }
  ::shutdown(fd, SHUT_WR);
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
  std::lock_guard lock(mu_);
  ::close(fd);
  std::erase(open_fds_, fd);
}

}  // namespace dstack::test
