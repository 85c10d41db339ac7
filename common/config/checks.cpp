#include "common/config/checks.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace dstack::config {

std::optional<std::string> readable_file(std::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return "\"" + std::string(path) + "\": cannot read: " + std::strerror(errno);
  return std::nullopt;
}

}  // namespace dstack::config
