// SPDX-License-Identifier: Apache-2.0
#pragma once
// A small HTTP service the tests start and misdirect: it answers well, fails, hangs, closes,
// resets, answers late, floods, or stops listening, as the test says at any moment. It stands in
// for the service watson health-checks.
//
// One thread runs a poll loop over non-blocking sockets (no Asio or Beast, so it builds fast).
// The mode in force when a request's head has arrived decides that connection's fate. Calls from
// the test thread never wait on a peer: a mode change waits only for the loop to take it, which is
// bounded and quick because the loop never blocks on a socket.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace dstack::test {

class TestService {
 public:
  enum class Mode {
    ok,       // 200 "ok"
    fail,     // 503 "down"
    hang,     // read the request, never answer (the connection stays until the peer leaves)
    close,    // read the request, close without a byte
    reset,    // read the request, close with SO_LINGER 0: the peer sees a reset
    slow,     // 200 "ok" after delay()
    big,      // 200 with a 100 MiB body, streamed until sent or the peer closes
    stopped,  // no listener: connects are refused; open connections are dropped
  };

  static constexpr std::uint64_t kBigBody = 100ull << 20;

  // Listens on a free loopback port at once, in `mode`.
  explicit TestService(Mode mode = Mode::ok);
  ~TestService();
  TestService(const TestService&) = delete;
  TestService& operator=(const TestService&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path = "/") const;

  // Takes effect for every request whose head arrives after the call returns. Leaving `stopped`
  // listens again on the same port. Throws if the loop does not take it within 5 s or the port
  // cannot be bound again.
  void set_mode(Mode mode);
  Mode mode() const { return mode_.load(); }
  void set_delay(Clock::duration delay) { delay_ms_ = to_ms(delay); }  // for Mode::slow
  // The body of Mode::ok's answers ("ok" until set): a peer that answers what it likes.
  void set_ok_body(std::string body);

  // Requests whose head arrived (any mode but stopped counts them).
  std::uint64_t requests() const { return requests_.load(); }
  // The targets of the last requests (up to 256), oldest first.
  std::vector<std::string> paths() const;
  std::string last_path() const;
  // A header of the last request (name in any case; "" when absent): what the proxy passed on.
  std::string last_header(const std::string& name) const;
  // Connections open now, and bytes of big bodies sent so far.
  std::size_t open_connections() const { return open_.load(); }
  std::uint64_t big_bytes_sent() const { return big_sent_.load(); }

 private:
  struct Peer;
  static std::int64_t to_ms(Clock::duration d);
  void run();
  void listen_now();  // in the loop thread (or the constructor before it starts)
  void wake();
  void handle_readable(Peer& p);
  void start_answer(Peer& p);
  void pump(Peer& p);
  void close_peer(Peer& p, bool reset = false);
  void apply_mode();

  std::uint16_t port_ = 0;
  int listener_ = -1;
  int wake_fd_ = -1;  // eventfd
  std::atomic<Mode> mode_;
  std::atomic<std::int64_t> delay_ms_{2000};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::size_t> open_{0};
  std::atomic<std::uint64_t> big_sent_{0};
  std::atomic<bool> quit_{false};

  // A mode change is a generation the loop acknowledges once it has applied it.
  mutable std::mutex mutex_;
  std::string ok_body_ = "ok";  // guarded by mutex_
  std::condition_variable applied_cv_;
  std::uint64_t wanted_ = 0, applied_ = 0;
  std::string error_;  // why the last re-listen failed
  std::deque<std::string> paths_;
  std::string last_head_;

  std::vector<Peer> peers_;  // loop thread only
  std::thread thread_;
};

}  // namespace dstack::test
