// SPDX-License-Identifier: Apache-2.0
// The exec check: the command (never a shell) in its own process group, stdin from /dev/null,
// its output collected, the group SIGKILLed at the timeout and when the command ends; then the
// verdict from its exit code (docs/watson.md#service-files).
#include "common/process/run_command.hpp"
#include "watson/check_runner.hpp"

namespace dstack::watson {

awaitable<CheckOutcome> run_exec_check(std::vector<std::string> argv, Duration timeout) {
  if (argv.empty()) co_return CheckOutcome{CheckStatus::critical, "no command to run"};
  // A little more than can be shown is kept, so bound_output marks the cut.
  auto op = process::run_command(std::move(argv), {.timeout = timeout,
                                                   .max_output = kMaxCheckOutput + 8,
                                                   .own_group = true,
                                                   .search_path = true});
  process::CommandResult r = co_await std::move(op);
  if (r.code < 0) co_return CheckOutcome{CheckStatus::critical, bound_output(r.output)};
  co_return evaluate_exec(r.signal != 0 ? -r.signal : r.code, r.timed_out, timeout, r.output);
}

}  // namespace dstack::watson
