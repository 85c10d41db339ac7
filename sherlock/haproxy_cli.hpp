// SPDX-License-Identifier: Apache-2.0
#pragma once
// HAProxy's CLI over its Unix sockets: the worker's admin socket (runtime API) and the master
// socket (reload, show proc). One connection per batch, never kept open: a connection held
// across a reload would stay on the old worker and keep it alive (docs/notes/haproxy-2.6.md §9.4).
//
// A batch runs in prompt mode, so each command's answer can be told apart: HAProxy ends each
// answer with "\n> ". The client half-closes after the last command and reads to the end.

#include <string>
#include <vector>

#include "common/core/duration.hpp"
#include "common/core/result.hpp"
#include "common/net/asio.hpp"

namespace dstack::sherlock {

// One answer per command, trimmed of surrounding blank lines. unreachable when the socket cannot
// be reached or the batch does not finish within `timeout`; protocol when the answers do not
// add up.
awaitable<Result<std::vector<std::string>>> cli_batch(std::string socket_path,
                                                      std::vector<std::string> commands,
                                                      Duration timeout);

// One command sent as is (no prompt), e.g. the master's `reload`; the raw answer.
awaitable<Result<std::string>> cli_command(std::string socket_path, std::string command,
                                           Duration timeout);

// Answers that mean the command worked: empty, `New server registered.`, `Server deleted.`,
// `IP changed from ...`, `no need to change the addr...`.
bool cli_success(const std::string& answer);

// Splits a prompt-mode transcript (the part after `prompt`) into answers. Pure, for tests.
std::vector<std::string> split_prompt_answers(const std::string& transcript);

// The answers of a batch of `commands` commands from its whole transcript (what cli_batch
// returns once the socket is read): protocol when the count does not add up. Pure, for tests.
Result<std::vector<std::string>> batch_answers(const std::string& transcript, std::size_t commands);

}  // namespace dstack::sherlock
