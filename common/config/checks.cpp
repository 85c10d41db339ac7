// SPDX-License-Identifier: Apache-2.0
#include "common/config/checks.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace dstack::config {

std::optional<std::string> readable_file(std::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return "\"" + std::string(path) + "\": cannot read: " + std::strerror(errno);
  return std::nullopt;
}

std::optional<std::string> read_token(std::string_view path, std::string& token) {
  const std::string quoted = "\"" + std::string(path) + "\"";
  std::ifstream in{std::string(path)};
  if (!in) return quoted + ": cannot read: " + std::strerror(errno);
  std::string line(kMaxTokenLine + 1, '\0');
  in.read(line.data(), static_cast<std::streamsize>(line.size()));
  line.resize(static_cast<std::size_t>(in.gcount()));
  const auto newline = line.find('\n');
  if (newline == std::string::npos && line.size() > kMaxTokenLine)
    return quoted + ": its first line is longer than " + std::to_string(kMaxTokenLine) +
           " bytes: not a token";
  line.resize(std::min(newline, line.size()));
  const auto first = line.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return quoted + ": is empty";
  token = line.substr(first, line.find_last_not_of(" \t\r\n") - first + 1);
  return std::nullopt;
}

std::optional<std::string> without_field(std::optional<std::string> problem) {
  if (problem && !problem->empty() && problem->front() == ' ') problem->erase(0, 1);
  return problem;
}

}  // namespace dstack::config
