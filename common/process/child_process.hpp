// SPDX-License-Identifier: Apache-2.0
#pragma once
// A long-lived process a daemon supervises (sherlock's HAProxy master): started or adopted, and
// its exit awaited through a pidfd, so the io thread never blocks and no SIGCHLD handler is
// needed. A pidfd also watches a process this image did not start (an HAProxy left by an earlier
// sherlock).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/core/fd.hpp"
#include "common/core/result.hpp"
#include "common/net/asio.hpp"

namespace dstack::process {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the daemon's stdout and stderr, in a process group of its own
  // (a Ctrl-C on the daemon's terminal is the daemon's to handle). Refuses a program that cannot
  // be run, naming it and why.
  // `keep_fds`: descriptors it is handed (spawn.hpp).
  static Result<std::unique_ptr<ChildProcess>> spawn(asio::any_io_executor ex,
                                                     const std::vector<std::string>& argv,
                                                     std::vector<int> keep_fds = {});
  // Watches a process this image did not start. Its exit code can be read (and it is reaped)
  // only when it is our child all the same (started before an exec in place); else the exit is
  // reported as -1.
  static Result<std::unique_ptr<ChildProcess>> adopt(asio::any_io_executor ex, pid_t pid);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Completes when the process has ended: its exit code, 128 + N for signal N, -1 if unknown.
  awaitable<int> wait();
  // Cancels a pending wait().
  void cancel();

 private:
  ChildProcess(pid_t pid, bool child, Fd pidfd, asio::any_io_executor ex);
  struct Impl;
  pid_t pid_;
  bool child_;
  bool reaped_ = false;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dstack::process
