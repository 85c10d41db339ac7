// SPDX-License-Identifier: Apache-2.0
#pragma once
// Numbers as operators type them on a command line or in a query: the whole text must be the
// number ("12x" and "" are refused), and a ratio may be written as a percent ("2%" is 0.02).

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <system_error>

namespace dstack {

// An integer or floating-point number that is the whole of `text`; finite for floating point.
template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if constexpr (std::is_floating_point_v<T>)
    if (!std::isfinite(value)) return std::nullopt;
  return value;
}

// A share from 0 to 1: "0.02" or "2%".
inline std::optional<double> parse_ratio(std::string_view text) {
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.remove_suffix(1);
  auto v = parse_number<double>(text);
  if (!v) return std::nullopt;
  if (percent) *v /= 100;
  if (!(*v >= 0 && *v <= 1)) return std::nullopt;
  return v;
}

}  // namespace dstack
