// SPDX-License-Identifier: Apache-2.0
#include "common/core/size.hpp"

#include <cctype>
#include <limits>

namespace dstack {

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (n > (std::uint64_t{1} << 40)) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  std::uint64_t scale;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KiB" || unit == "KB" || unit == "K")
    scale = 1024;
  else if (unit == "MiB" || unit == "MB" || unit == "M")
    scale = 1024 * 1024;
  else if (unit == "GiB" || unit == "GB" || unit == "G")
    scale = 1024 * 1024 * 1024;
  else
    return std::nullopt;
  // "1099511627776GiB" would wrap to 0: a size that does not fit is not a size.
  if (n > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
  return n * scale;
}

}  // namespace dstack
