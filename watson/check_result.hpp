// SPDX-License-Identifier: Apache-2.0
#pragma once
// What one health check concluded, and the pure rules that turn raw results (an HTTP status, an
// exit code, a connect) into it. No I/O here: the probes live elsewhere and call these.
//
// `output` is what the status page shows. Its first line is the verdict ("HTTP 200", "exit 1",
// "timed out after 1s"); what the target sent (HTTP body, program output) follows on the next
// lines, trailing whitespace trimmed. It is always sanitised and bounded (see bound_output), so a
// hostile target cannot bloat the status page or break its JSON.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/duration.hpp"

namespace dstack::watson {

enum class CheckStatus { passing, warning, critical };

const char* to_string(CheckStatus s);

struct CheckOutcome {
  CheckStatus status = CheckStatus::critical;
  std::string output;
  bool operator==(const CheckOutcome&) const = default;
};

inline constexpr std::size_t kMaxCheckOutput = 4096;

// At most kMaxCheckOutput bytes of valid UTF-8: control characters other than \n and \t (C0,
// DEL, C1) and bytes that are not valid UTF-8 become '?'; text that does not fit is cut at a
// character boundary and ends in "...".
std::string bound_output(std::string_view raw);

// An HTTP answer. Passing when the status is expected (an empty list means any 2xx; redirects
// are never followed, so a 3xx fails unless listed) and, when expect_body is not empty, the body
// contains it. Otherwise critical: `HTTP 503, expected 2xx`, `HTTP 200, body lacks "ok"`.
CheckOutcome evaluate_http(int status_code, std::string_view body,
                           const std::vector<int>& expect_status, const std::string& expect_body);

// The HTTP check got no usable answer (`connection refused`, `timed out after 1s`,
// `body over 64 KiB`): critical, with `why` as the output.
CheckOutcome http_failure(std::string_view why);

// An exec check's end. exit_code_or_minus_signal is the exit code, or -N when killed by signal N.
// timed_out wins over the code (the process was killed because of it): critical
// `timed out after <timeout>`. Exit 0 passing, 1 warning, anything else critical.
CheckOutcome evaluate_exec(int exit_code_or_minus_signal, bool timed_out, Duration timeout,
                           std::string_view output);

// A TCP connect. Passing `connected` (or `why` when given); critical with `why`.
CheckOutcome evaluate_tcp(bool connected, std::string_view why);

}  // namespace dstack::watson
