// SPDX-License-Identifier: Apache-2.0
#include "dw/table.hpp"

#include <algorithm>

namespace dstack::dw {

std::string terminal_safe(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

Table::Table(std::vector<std::string> header)
    : header_(std::move(header)), right_(header_.size(), false) {}

void Table::align_right(std::size_t column) {
  if (column < right_.size()) right_[column] = true;
}

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) cell = terminal_safe(std::move(cell));
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

std::vector<std::string> Table::lines() const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t i = 0; i < header_.size(); ++i) width[i] = header_[i].size();
  for (auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::vector<std::string> out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::size_t pad = width[i] - row[i].size();
      if (right_[i]) text.append(pad, ' ');
      text += row[i];
      if (i + 1 < row.size()) text.append((right_[i] ? 0 : pad) + 2, ' ');
    }
    out.push_back(std::move(text));
  };
  line(header_);
  for (auto& row : rows_) line(row);
  return out;
}

void Table::print(std::ostream& out) const {
  for (const auto& line : lines()) out << line << '\n';
}

}  // namespace dstack::dw
