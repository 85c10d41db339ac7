// SPDX-License-Identifier: Apache-2.0
#pragma once
// Plain-text tables for people: a header row and left-aligned columns two spaces apart.
// Cells are made safe for a terminal (control characters shown as '?').

#include <ostream>
#include <string>
#include <vector>

namespace dstack::dw {

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace dstack::dw
