// SPDX-License-Identifier: Apache-2.0
#pragma once
// What a server process has spent, from /proc: the time its threads ran on a CPU and the time
// they were ready to run but waited for one. A figure can then be judged by the server's cost
// per operation, and a server that ran + waited the whole time was the bottleneck, however
// much of its core other work on the machine took.

#include <optional>

namespace dstack::bench {

struct CpuTimes {
  double ran = 0;     // seconds on a CPU, all threads
  double waited = 0;  // seconds runnable but not running
  double user = 0;    // of `ran`, seconds in the process's own code (clock ticks: 10 ms steps)
};

// Sums /proc/PID/task/*/schedstat, and reads utime from /proc/PID/stat; nullopt when `pid` is 0
// or cannot be read.
std::optional<CpuTimes> cpu_times(int pid);

}  // namespace dstack::bench
