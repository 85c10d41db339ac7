// SPDX-License-Identifier: Apache-2.0
#pragma once
// The framing of a streamed body (NDJSON): bytes in as they arrive, lines out. Kept apart from
// the socket so the client's line reading is fuzzed on bytes (docs/fuzzing.md).

#include <cstddef>
#include <string>
#include <string_view>

namespace dstack::net {

class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line) : max_line_(max_line) {}

  void append(std::string_view bytes) { pending_.append(bytes); }

  enum class Next { line, need_more, too_long };
  // The next line, without its '\n'. `body_done`: no more bytes will come, so what is left is
  // the last line. too_long: no '\n' within max_line bytes (a protocol error, not a wait).
  Next next(std::string& line, bool body_done);

 private:
  std::size_t max_line_;
  std::string pending_;  // bytes not yet handed out start at start_
  std::size_t start_ = 0;
};

}  // namespace dstack::net
