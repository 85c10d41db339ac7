// SPDX-License-Identifier: Apache-2.0
#pragma once
// The terminal dw top draws on: keys read one at a time without echo, the alternate screen (so
// the shell's lines come back on exit, as with top and less), the cursor hidden. Everything is
// put back by the destructor, and by restore() before then.

#include <cstddef>
#include <string>
#include <vector>

#include <termios.h>

namespace dstack::dw {

class Terminal {
 public:
  // Takes over the terminal on standard input and output (both must be one).
  Terminal();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  void restore();
  // Replaces the screen with `lines`, each cleared to the end of its line.
  void draw(const std::vector<std::string>& lines);
  // Columns and rows; 80x24 when the terminal does not say.
  std::size_t width() const;
  std::size_t height() const;

  // Whether both standard input and output are a terminal.
  static bool interactive();

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace dstack::dw
