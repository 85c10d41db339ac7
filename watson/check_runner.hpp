// SPDX-License-Identifier: Apache-2.0
#pragma once
// Runs one health check once, on the caller's io_context, without ever blocking it: every probe
// is asynchronous, so a hanging target delays only its own check.
//
// Contract: run_check completes within check.timeout plus a small margin, never throws, and
// leaves nothing behind (no open sockets; for exec, the whole process group is killed and the
// child reaped). Any failure is a critical CheckOutcome that says why.

#include "common/net/asio.hpp"
#include "watson/check_result.hpp"
#include "watson/service_config.hpp"

namespace dstack::watson {

// http: a fresh client per run (no redirects, body up to 64 KiB, https against the system CAs).
// tcp: a connect. exec: argv without a shell, in its own process group, stdin from /dev/null,
// stdout and stderr kept (bounded); SIGKILLed with its group at the timeout. none: passing.
awaitable<CheckOutcome> run_check(Check check);

// The exec part of run_check, on its own for callers that already hold an argv.
awaitable<CheckOutcome> run_exec_check(std::vector<std::string> argv, Duration timeout);

}  // namespace dstack::watson
