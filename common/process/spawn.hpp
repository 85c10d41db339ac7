// SPDX-License-Identifier: Apache-2.0
#pragma once
// fork + execv, never a shell, for every program dstack starts (HAProxy, `haproxy -c`, reload
// commands, watson's exec checks). Between fork and exec the child makes async-signal-safe calls
// only: the daemons are multi-threaded, and anything else there can deadlock on a lock another
// thread held at the fork. The child gets stdin from /dev/null, every signal unblocked, SIGPIPE
// at its default, and none of the daemon's descriptors but 0-2.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/core/fd.hpp"
#include "common/core/result.hpp"

namespace dstack::process {

struct SpawnOptions {
  int output = -1;               // >= 0: the child's stdout and stderr; else the daemon's own
  bool own_group = false;        // a process group of its own (killed as a whole; no Ctrl-C)
  bool die_with_parent = false;  // SIGKILLed when the thread that spawned it ends
  bool search_path = false;      // argv[0] without a '/' is looked up in $PATH
  // Descriptors the child keeps, under the same numbers (sockets it is handed, such as
  // sherlock's proxy listener for HAProxy's `bind fd@N`); every other one >= 3 is closed.
  std::vector<int> keep_fds;
};

struct Spawned {
  pid_t pid = -1;
  Fd pidfd;  // readable once the child has ended (Linux >= 5.3)
};

// Starts argv. An exec that fails in the child is reported by the child itself: "cannot run
// PROGRAM: why" on its output and exit code 127, as a shell does. Errors here (no argv, fork or
// pidfd failing) name the program.
Result<Spawned> spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// A pidfd on a process that already runs; an invalid Fd when it does not (errno set).
Fd open_pidfd(pid_t pid);

// The exit code of a waitpid() status: the code itself, or 128 + N for signal N.
int exit_code(int wait_status);

// argv[0] as execv needs it: itself when it holds a '/', else the first executable of that name
// in $PATH (itself when there is none, so the exec fails with a clear reason).
std::string find_program(const std::string& name);

}  // namespace dstack::process
