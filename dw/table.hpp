// SPDX-License-Identifier: Apache-2.0
#pragma once
// Plain-text tables for people: a header row and columns two spaces apart, left-aligned unless
// made right-aligned (numbers, so their digits line up).
// Cells are made safe for a terminal (control characters shown as '?').

#include <ostream>
#include <string>
#include <vector>

namespace dstack::dw {

// `s` with control characters shown as '?', so no text from elsewhere can steer the terminal.
std::string terminal_safe(std::string s);

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  void align_right(std::size_t column);
  void print(std::ostream& out) const;
  // The lines print() writes, without their newlines.
  std::vector<std::string> lines() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

}  // namespace dstack::dw
