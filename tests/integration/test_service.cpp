// SPDX-License-Identifier: Apache-2.0
#include "test_service.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace dstack::test {

namespace {

constexpr std::size_t kMaxHead = 16 * 1024;  // a longer head is not a client we want
// Beyond this, new connections are closed at once: the peers and the test share the default
// limit of 1024 descriptors (and poll its count).
constexpr std::size_t kMaxPeers = 512;
constexpr std::size_t kMaxPaths = 256;
constexpr auto kLingerFor = 1s;  // after an answer, how long to wait for the peer's close
constexpr auto kMaxPollWait = 200ms;

std::string answer(int status, const char* reason, const std::string& body, bool head_only,
                   std::uint64_t length) {
  std::string a = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                  "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(length) +
                  "\r\nConnection: close\r\n\r\n";
  if (!head_only) a += body;
  return a;
}

}  // namespace

struct TestService::Peer {
  enum class State { reading, hanging, waiting, sending, lingering };
  int fd = -1;
  State state = State::reading;
  std::string in;
  bool head_only = false;  // a HEAD request: no body
  std::string out;
  std::size_t out_sent = 0;
  std::uint64_t big_left = 0;  // body bytes still to generate (Mode::big)
  Clock::time_point due{};     // waiting: when to answer; lingering: when to give up
};

std::int64_t TestService::to_ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

TestService::TestService(Mode mode) : mode_(mode) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  listen_now();  // binds port 0 and learns the port, even when starting stopped
  if (mode == Mode::stopped) {
    ::close(listener_);
    listener_ = -1;
  }
  thread_ = std::thread([this] { run(); });
}

TestService::~TestService() {
  quit_ = true;
  wake();
  thread_.join();
  for (auto& p : peers_) close_peer(p);
  if (listener_ >= 0) ::close(listener_);
  ::close(wake_fd_);
}

std::string TestService::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void TestService::set_mode(Mode mode) {
  std::unique_lock lock(mutex_);
  mode_ = mode;
  const auto generation = ++wanted_;
  wake();
  if (!applied_cv_.wait_for(lock, 5s, [&] { return applied_ >= generation; }))
    throw std::runtime_error("TestService: the loop did not take a mode change within 5 s");
  if (!error_.empty()) throw std::runtime_error(std::exchange(error_, {}));
}

std::vector<std::string> TestService::paths() const {
  std::lock_guard lock(mutex_);
  return {paths_.begin(), paths_.end()};
}

std::string TestService::last_header(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string wanted = lower(name) + ":";
  for (std::size_t at = last_head_.find("\r\n"); at != std::string::npos;) {
    const auto end = last_head_.find("\r\n", at + 2);
    if (end == std::string::npos) break;
    const auto line = last_head_.substr(at + 2, end - at - 2);
    if (lower(line.substr(0, wanted.size())) == wanted) {
      const auto value = line.find_first_not_of(' ', wanted.size());
      return value == std::string::npos ? std::string() : line.substr(value);
    }
    at = end;
  }
  return {};
}

std::string TestService::last_path() const {
  std::lock_guard lock(mutex_);
  return paths_.empty() ? std::string() : paths_.back();
}

void TestService::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void TestService::listen_now() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  // Listening again on the port after `stopped` must not trip over connections in TIME_WAIT.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 512) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("TestService cannot listen on 127.0.0.1:" + std::to_string(port_) +
                             ": " + why);
  }
  port_ = ntohs(a.sin_port);
  listener_ = fd;
}

// A pending mode change: `stopped` closes the listener and drops every connection (the service
// died); any other mode after `stopped` listens again.
void TestService::apply_mode() {
  std::lock_guard lock(mutex_);
  if (applied_ == wanted_) return;
  if (mode_ == Mode::stopped) {
    if (listener_ >= 0) ::close(std::exchange(listener_, -1));
    for (auto& p : peers_) close_peer(p);
  } else if (listener_ < 0) {
    try {
      listen_now();
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  applied_ = wanted_;
  applied_cv_.notify_all();
}

void TestService::close_peer(Peer& p, bool reset) {
  if (p.fd < 0) return;
  if (reset) {
    linger l{1, 0};  // close sends RST instead of FIN
    ::setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(std::exchange(p.fd, -1));
  --open_;
}

void TestService::run() {
  std::vector<pollfd> fds;
  while (!quit_) {
    apply_mode();
    peers_.erase(std::remove_if(peers_.begin(), peers_.end(), [](auto& p) { return p.fd < 0; }),
                 peers_.end());

    // Wake for the next timer (a slow answer, a lingering close), or at the latest soon.
    auto now = Clock::now();
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(kMaxPollWait);
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listener_, POLLIN, 0});  // a negative fd is ignored by poll
    for (auto& p : peers_) {
      const bool out = p.state == Peer::State::sending;
      fds.push_back({p.fd, static_cast<short>(out ? POLLOUT : POLLIN), 0});
      if (p.state == Peer::State::waiting || p.state == Peer::State::lingering)
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(p.due - now),
                          std::chrono::milliseconds(0), wait);
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait.count())) < 0 && errno != EINTR)
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));

    if (fds[0].revents) {
      std::uint64_t n;
      [[maybe_unused]] auto r = ::read(wake_fd_, &n, sizeof n);
    }
    if (listener_ >= 0 && (fds[1].revents & POLLIN)) {
      for (int fd;
           (fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
        if (peers_.size() >= kMaxPeers) {
          ::close(fd);
          continue;
        }
        ++open_;
        peers_.push_back(Peer{.fd = fd});
      }
    }
    // peers_ may grow above (accepted now, not polled yet): only the polled ones are looked at.
    const std::size_t polled = fds.size() - 2;
    now = Clock::now();
    for (std::size_t i = 0; i < polled; ++i) {
      Peer& p = peers_[i];
      if (p.fd < 0) continue;
      if (fds[i + 2].revents & POLLOUT) {
        pump(p);
      } else if (fds[i + 2].revents) {
        handle_readable(p);
      }
      if (p.fd < 0 || p.due > now) continue;
      if (p.state == Peer::State::waiting) {
        p.out = answer(200, "OK", "ok", p.head_only, 2);
        p.state = Peer::State::sending;
        pump(p);
      } else if (p.state == Peer::State::lingering) {
        close_peer(p);
      }
    }
  }
}

// Reads what is there. A complete head decides the answer; the peer's close ends the connection
// in any state (a client that gave up on a hanging answer).
void TestService::handle_readable(Peer& p) {
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(p.fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return close_peer(p);
    if (p.state != Peer::State::reading) continue;  // anything after the head is ignored
    p.in.append(buf, static_cast<std::size_t>(n));
    if (p.in.find("\r\n\r\n") != std::string::npos) {
      start_answer(p);
      if (p.fd < 0) return;
    } else if (p.in.size() > kMaxHead) {
      return close_peer(p);
    }
  }
}

void TestService::set_ok_body(std::string body) {
  std::lock_guard lock(mutex_);
  ok_body_ = std::move(body);
}

void TestService::start_answer(Peer& p) {
  // "GET /path HTTP/1.1": the method and the target.
  const auto line = p.in.substr(0, p.in.find("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = line.find(' ', sp1 == std::string::npos ? sp1 : sp1 + 1);
  p.head_only = line.compare(0, sp1, "HEAD") == 0;
  {
    std::lock_guard lock(mutex_);
    paths_.push_back(sp1 == std::string::npos ? std::string()
                                              : line.substr(sp1 + 1, sp2 - sp1 - 1));
    if (paths_.size() > kMaxPaths) paths_.pop_front();
    last_head_ = p.in.substr(0, p.in.find("\r\n\r\n") + 2);
  }
  ++requests_;
  switch (mode_.load()) {
    case Mode::ok: {
      std::string body;
      {
        std::lock_guard lock(mutex_);
        body = ok_body_;
      }
      p.out = answer(200, "OK", body, p.head_only, body.size());
      break;
    }
    case Mode::fail:
      p.out = answer(503, "Service Unavailable", "down", p.head_only, 4);
      break;
    case Mode::hang:
      p.state = Peer::State::hanging;
      return;
    case Mode::close:
    case Mode::stopped:  // the stop is on its way: the service is as good as gone
      return close_peer(p);
    case Mode::reset:
      return close_peer(p, true);
    case Mode::slow:
      p.state = Peer::State::waiting;
      p.due = Clock::now() + std::chrono::milliseconds(delay_ms_.load());
      return;
    case Mode::big:
      p.out = answer(200, "OK", "", true, kBigBody);
      p.big_left = p.head_only ? 0 : kBigBody;
      break;
  }
  p.state = Peer::State::sending;
  pump(p);
}

// Sends until the socket is full or everything went. Then half-closes and waits (bounded) for
// the peer to close first, so a close never races the peer's read of the answer.
void TestService::pump(Peer& p) {
  static const std::string filler(64 * 1024, 'x');
  for (;;) {
    const char* data;
    std::size_t size;
    const bool big = p.out_sent == p.out.size();
    if (!big) {
      data = p.out.data() + p.out_sent;
      size = p.out.size() - p.out_sent;
    } else if (p.big_left > 0) {
      data = filler.data();
      size = static_cast<std::size_t>(std::min<std::uint64_t>(filler.size(), p.big_left));
    } else {
      ::shutdown(p.fd, SHUT_WR);
      p.state = Peer::State::lingering;
      p.due = Clock::now() + kLingerFor;
      return;
    }
    const ssize_t n = ::send(p.fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return close_peer(p);  // the peer is gone: stop streaming
    if (big) {
      p.big_left -= static_cast<std::uint64_t>(n);
      big_sent_ += static_cast<std::uint64_t>(n);
    } else {
      p.out_sent += static_cast<std::size_t>(n);
    }
  }
}

}  // namespace dstack::test
