// SPDX-License-Identifier: Apache-2.0
#include "common/core/duration.hpp"

#include <cctype>
#include <cstdint>
#include <limits>

namespace dstack {

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Ten years is far beyond any sensible timer; refusing larger values keeps the arithmetic safe.
  constexpr std::int64_t kMaxMs = std::int64_t{10} * 366 * 24 * 3600 * 1000;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    std::int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return std::nullopt;
      ++i;
    }
    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale;
    if (unit == "ms")
      scale = 1;
    else if (unit == "s")
      scale = 1000;
    else if (unit == "m")
      scale = 60 * 1000;
    else if (unit == "h")
      scale = 3600 * 1000;
    else if (unit == "d")
      scale = 24 * 3600 * 1000;
    else
      return std::nullopt;
    if (n > kMaxMs / scale) return std::nullopt;
    total += n * scale;
    if (total > kMaxMs) return std::nullopt;
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % (3600 * 1000) == 0) return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0) return std::to_string(ms / (60 * 1000)) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace dstack
