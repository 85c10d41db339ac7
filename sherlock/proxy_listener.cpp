// SPDX-License-Identifier: Apache-2.0
#include "sherlock/proxy_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dstack::sherlock {
namespace {

constexpr int kFirstSystemdFd = 3;  // SD_LISTEN_FDS_START

// The addresses `address` names (a host name may name several).
std::vector<sockaddr_storage> resolve(const net::HostPort& address) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(address.port);
  if (::getaddrinfo(address.host.empty() ? nullptr : address.host.c_str(), port.c_str(), &hints,
                    &list) != 0)
    return {};
  std::vector<sockaddr_storage> out;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    sockaddr_storage s{};
    std::memcpy(&s, a->ai_addr, a->ai_addrlen);
    out.push_back(s);
  }
  ::freeaddrinfo(list);
  return out;
}

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

// A listening TCP socket bound to one of `wanted`.
bool listens_on(int fd, const std::vector<sockaddr_storage>& wanted) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
    return false;
  sockaddr_storage bound{};
  len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return false;
  for (const auto& w : wanted)
    if (same_address(bound, w)) return true;
  return false;
}

std::string local_address(int fd) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (bound.ss_family == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(bound);
    ::inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
  } else if (bound.ss_family == AF_INET6) {
    auto& in = reinterpret_cast<sockaddr_in6&>(bound);
    ::inet_ntop(AF_INET6, &in.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in.sin6_port));
  } else {
    return "a non-TCP socket";
  }
  return std::string(host) + ":" + std::to_string(port);
}

std::optional<long> env_number(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (*end != '\0') return std::nullopt;
  return n;
}

// Descriptors handed to this process: a handover's, then systemd's (for this pid only). The
// variables are cleared so nothing started later takes them for its own.
std::vector<int> inherited_fds() {
  std::vector<int> fds;
  if (auto fd = env_number(ProxyListener::kHandoverEnv); fd && *fd >= 3) fds.push_back(int(*fd));
  const auto pid = env_number("LISTEN_PID");
  const auto count = env_number("LISTEN_FDS");
  if (pid && count && *pid == ::getpid())
    for (long i = 0; i < *count && i < 64; ++i) fds.push_back(kFirstSystemdFd + int(i));
  for (const char* name :
       {ProxyListener::kHandoverEnv, "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"})
    ::unsetenv(name);
  return fds;
}

}  // namespace

ProxyListener ProxyListener::inherited(const net::HostPort& address,
                                       std::vector<std::string>& notes) {
  const auto wanted = resolve(address);
  Fd found;
  for (int fd : inherited_fds()) {
    if (::fcntl(fd, F_GETFD) < 0) continue;  // not open: nothing to close either
    if (!found && listens_on(fd, wanted)) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // handed on only on purpose (spawn's keep_fds)
      found.reset(fd);
    } else {
      notes.push_back("closed an inherited socket on " + local_address(fd) +
                      ": the proxy listens on " + address.to_string() + " (proxy.listen)");
      ::close(fd);
    }
  }
  return ProxyListener(std::move(found));
}

std::optional<std::string> ProxyListener::bind(const net::HostPort& address) {
  if (fd_) return std::nullopt;
  const auto wanted = resolve(address);
  if (wanted.empty()) return "cannot resolve " + address.host;
  const sockaddr_storage& addr = wanted.front();
  Fd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return std::string("socket: ") + std::strerror(errno);
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const socklen_t len = addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0)
    return address.to_string() + ": " + std::strerror(errno);
  if (::listen(fd.get(), SOMAXCONN) != 0)
    return address.to_string() + ": listen: " + std::strerror(errno);
  fd_ = std::move(fd);
  return std::nullopt;
}

void ProxyListener::pass_on_exec() const {
  if (!fd_) return;
  ::fcntl(fd_.get(), F_SETFD, 0);
  ::setenv(kHandoverEnv, std::to_string(fd_.get()).c_str(), 1);
}

}  // namespace dstack::sherlock
