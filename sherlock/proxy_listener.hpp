// SPDX-License-Identifier: Apache-2.0
#pragma once
// The proxy's listening socket, owned by sherlock rather than by HAProxy
// (docs/sherlock.md#the-proxys-listening-socket). HAProxy is handed it (`bind fd@N`), so while
// HAProxy's worker dies and HAProxy starts again, or while sherlock and HAProxy restart under a
// systemd socket unit, connections wait in the socket's backlog instead of being refused.
//
// Where it comes from: the sherlock this one replaced by a handover (the descriptor survives the
// exec), or systemd's socket activation (LISTEN_FDS, dstack-sherlock.socket) when one of its
// sockets listens on the proxy address; else sherlock binds it before it starts HAProxy. An
// HAProxy left running by a sherlock that died holds the address: it is taken over with the
// socket it has, and the next HAProxy started gets a socket bound then.

#include <optional>
#include <string>
#include <vector>

#include "common/core/fd.hpp"
#include "common/net/address.hpp"

namespace dstack::sherlock {

class ProxyListener {
 public:
  // The inherited socket listening on `address`, if any. Inherited sockets that are not for it
  // are closed and named in `notes` (one line each).
  static ProxyListener inherited(const net::HostPort& address, std::vector<std::string>& notes);

  ProxyListener() = default;
  bool owned() const { return static_cast<bool>(fd_); }
  int fd() const { return fd_.get(); }
  // Binds and listens on `address` unless a socket is held already. nullopt when one is held
  // after it, else why not (the address is in use, say).
  std::optional<std::string> bind(const net::HostPort& address);
  // Before sherlock execs itself: the socket stays open across the exec and the new image's
  // acquire() finds it.
  void pass_on_exec() const;

  // The environment variable a handover passes the descriptor in.
  static constexpr const char* kHandoverEnv = "DSTACK_SHERLOCK_PROXY_FD";

 private:
  explicit ProxyListener(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace dstack::sherlock
