// SPDX-License-Identifier: Apache-2.0
#include "dw/terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace dstack::dw {

namespace {

void write_all(const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n <= 0) return;  // nothing sensible to do about a closed terminal
    done += static_cast<std::size_t>(n);
  }
}

winsize window_size() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0) ws = winsize{};
  return ws;
}

}  // namespace

bool Terminal::interactive() {
  return ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
}

Terminal::Terminal() {
  if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
  termios raw = saved_;
  // Keys arrive one at a time, unechoed; Ctrl-C still interrupts (ISIG stays), and output is
  // processed as usual.
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) return;
  active_ = true;
  write_all("\x1b[?1049h\x1b[?25l");  // alternate screen, cursor hidden
}

Terminal::~Terminal() {
  restore();
}

void Terminal::restore() {
  if (!active_) return;
  active_ = false;
  write_all("\x1b[?25h\x1b[?1049l");
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
}

void Terminal::draw(const std::vector<std::string>& lines) {
  std::string screen = "\x1b[H";  // home; every line cleared after its text, the rest below
  for (std::size_t i = 0; i < lines.size(); ++i) {
    screen += lines[i];
    screen += "\x1b[K";
    if (i + 1 < lines.size()) screen += "\n";  // output processing makes it \r\n
  }
  screen += "\x1b[J";
  write_all(screen);
}

std::size_t Terminal::width() const {
  const auto ws = window_size();
  return ws.ws_col ? ws.ws_col : 80;
}

std::size_t Terminal::height() const {
  const auto ws = window_size();
  return ws.ws_row ? ws.ws_row : 24;
}

}  // namespace dstack::dw
