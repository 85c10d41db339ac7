// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <string>

#include "common/config/reader.hpp"

namespace dstack::config {
namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> lines)
    : std::runtime_error(join_lines(lines)), lines_(std::move(lines)) {}

void Errors::add(std::string_view file, const YAML::Mark& at, std::string_view key,
                 std::string_view problem) {
  // Nodes built in code (the empty map of an empty file) have no position; the file's first
  // character is the honest answer for "where".
  const int line = at.is_null() ? 1 : at.line + 1;
  const int col = at.is_null() ? 1 : at.column + 1;
  std::string text(file);
  text += ':' + std::to_string(line) + ':' + std::to_string(col) + ": ";
  if (!key.empty()) {
    text += key;
    text += ": ";
  }
  text += problem;
  push(std::move(text));
}

void Errors::add(std::string_view file, std::string_view problem) {
  std::string text(file);
  text += ": ";
  text += problem;
  push(std::move(text));
}

void Errors::push(std::string line) {
  if (std::find(lines_.begin(), lines_.end(), line) == lines_.end()) {
    lines_.push_back(std::move(line));
  }
}

void Errors::throw_if_any() const {
  if (!lines_.empty()) throw ConfigError(lines_);
}

}  // namespace dstack::config
