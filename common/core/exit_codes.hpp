// SPDX-License-Identifier: Apache-2.0
#pragma once
// Exit codes shared by every program (sysexits.h values), as docs/operations.md#exit-codes
// and docs/dw.md#exit-codes state them.

namespace dstack::exit_code {
inline constexpr int ok = 0;
inline constexpr int usage = 64;         // bad command line
inline constexpr int refused = 65;       // input refused (by us or by the directory)
inline constexpr int unavailable = 69;   // directory unreachable
inline constexpr int failure = 70;       // internal error
inline constexpr int unauthorized = 77;  // token missing or wrong
inline constexpr int config = 78;        // config error at start
}  // namespace dstack::exit_code
