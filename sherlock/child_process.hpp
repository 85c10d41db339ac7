#pragma once
// Programs sherlock runs: HAProxy's master (long-lived, supervised) and short commands
// (`haproxy -c`, reload_command). fork + execv, never a shell. Exits are awaited through a pidfd
// (Linux >= 5.3), so the io thread never blocks and sherlock needs no SIGCHLD handler; a pidfd
// also watches a process sherlock did not start (an HAProxy left by an earlier sherlock).

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/core/duration.hpp"
#include "common/core/result.hpp"
#include "common/net/asio.hpp"

namespace dstack::sherlock {

// A running process and a pidfd on it.
class ProcessHandle {
 public:
  // Starts argv[0] (a path) with sherlock's stdout and stderr. Error names the program and why.
  static Result<std::unique_ptr<ProcessHandle>> spawn(asio::any_io_executor ex,
                                                      const std::vector<std::string>& argv);
  // Watches a process this sherlock image did not start. Its exit code can be read (and it is
  // reaped) only when it is our child all the same (started before a handover's exec); else
  // the exit is reported as -1.
  static Result<std::unique_ptr<ProcessHandle>> adopt(asio::any_io_executor ex, pid_t pid);
  // Takes `pidfd`, an open pidfd on `pid`; `child`: sherlock started it (its status is read).
  ProcessHandle(pid_t pid, bool child, int pidfd, asio::any_io_executor ex);
  ~ProcessHandle();
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Completes when the process has ended: its exit code, 128 + N for signal N, -1 if unknown.
  awaitable<int> wait();
  // Cancels a pending wait().
  void cancel();

 private:
  struct Impl;
  pid_t pid_;
  bool child_;
  bool reaped_ = false;
  std::unique_ptr<Impl> impl_;
};

struct CommandResult {
  int code = -1;  // exit code, 128 + N for signal N, -1 when it could not run
  bool timed_out = false;
  std::string output;  // stdout and stderr together, at most 64 KiB
};

// Runs a command to its end, killed at `timeout`. A command that cannot start gives code -1 and
// the reason in `output`.
awaitable<CommandResult> run_command(std::vector<std::string> argv, Duration timeout);

}  // namespace dstack::sherlock
