// SPDX-License-Identifier: Apache-2.0
#pragma once
// HAProxy's master process as sherlock drives it (docs/notes/haproxy-2.6.md §1): started in
// master-worker mode in the foreground, reloaded through the master CLI, judged by `show proc`
// because 2.6's `reload` answers nothing.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/duration.hpp"
#include "common/core/result.hpp"
#include "common/net/asio.hpp"

namespace dstack::sherlock {

// `show proc` on the master socket.
struct ProcList {
  pid_t master = 0;
  std::uint64_t reloads = 0;  // attempts since the master started
  std::uint64_t failed = 0;   // failed reloads since the last success
  std::vector<pid_t> workers;
  std::vector<pid_t> old_workers;
};

// nullopt when the text is not a `show proc` answer.
std::optional<ProcList> parse_show_proc(const std::string& text);

// A reload judged from `show proc` before it and now: nullopt while the master has not counted
// the attempt yet (poll again); ok when it has no failed reload and runs only new workers; an
// Error (ErrorKind::refused) otherwise, and the old worker keeps serving. Pure, for tests.
std::optional<Status> reload_outcome(const ProcList& before, const ProcList& now);

awaitable<Result<ProcList>> show_proc(std::string master_socket, Duration timeout);

// Waits until the master answers with a current worker, polling every 10 ms (its CLI is down
// for ~50 ms while it re-execs). unreachable after `timeout`.
awaitable<Result<ProcList>> wait_for_worker(std::string master_socket, Duration timeout);

// Sends `reload` and waits for its outcome: ok when the master counted the attempt, has no
// failed reload and runs a new worker. Error otherwise; the old worker keeps serving then.
awaitable<Status> reload_master(std::string master_socket, Duration timeout);

}  // namespace dstack::sherlock
