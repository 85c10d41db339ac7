// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs a short command to its end with a deadline, collecting its output: `haproxy -c`,
// reload commands, the handover's --check-config, watson's exec checks. Nothing is polled: the
// command's end is a pidfd becoming readable, its output a pipe.

#include <cstddef>
#include <string>
#include <vector>

#include "common/core/duration.hpp"
#include "common/net/asio.hpp"

namespace dstack::process {

struct RunOptions {
  Duration timeout = std::chrono::seconds(10);  // then SIGKILL
  std::size_t max_output = 64 << 10;  // bytes of stdout + stderr kept; the rest read and dropped
  // The command in a process group of its own, killed whole at the deadline and when the command
  // ends, so what it left running in the background cannot outlive it.
  bool own_group = false;
  bool search_path = false;   // argv[0] without a '/' looked up in $PATH
  std::vector<int> keep_fds;  // descriptors the command keeps (spawn.hpp)
};

struct CommandResult {
  int code = -1;   // exit code, 128 + N for signal N; -1 when it did not run
  int signal = 0;  // N when signal N ended it
  bool timed_out = false;
  // stdout and stderr together, at most max_output bytes; why it did not run when code is -1
  std::string output;
};

// A command that cannot be started gives code -1 and the reason as output; one whose exec fails
// in the child gives 127 and "cannot run PROGRAM: why" as output, as a shell would.
awaitable<CommandResult> run_command(std::vector<std::string> argv, RunOptions options);

}  // namespace dstack::process
