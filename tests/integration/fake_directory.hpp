// SPDX-License-Identifier: Apache-2.0
#pragma once
// A directory that misbehaves on purpose, for what the real one will not do on demand: it
// serves a snapshot the test sets, and answers each watch as the test scripts it (410 "your
// revision is gone", or a stream that stays open and silent). Plain blocking sockets on
// loopback, one thread per connection; everything is closed and joined on destruction.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dstack::test {

class FakeDirectory {
 public:
  enum class WatchAnswer { gone, silent_stream };

  FakeDirectory();
  ~FakeDirectory();
  FakeDirectory(const FakeDirectory&) = delete;
  FakeDirectory& operator=(const FakeDirectory&) = delete;

  std::uint16_t port() const { return port_; }
  void set_snapshot(std::string json);
  // Called for every watch request (with its target); says how to answer it.
  void on_watch(std::function<WatchAnswer(const std::string& target)> f);
  int snapshots_served() const { return snapshots_; }
  int watches_seen() const { return watches_; }

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> snapshots_{0}, watches_{0};
  std::mutex mu_;
  std::string snapshot_;
  std::function<WatchAnswer(const std::string&)> on_watch_;
  std::vector<int> open_fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace dstack::test
