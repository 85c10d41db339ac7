// SPDX-License-Identifier: Apache-2.0
#pragma once
// Durations as operators write them: "250ms", "3s", "2m", "1h", or combinations like "1m30s".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dstack {

using Duration = std::chrono::milliseconds;

// Returns nullopt when the text is not a duration; a bare number is refused because its unit
// would be a guess.
std::optional<Duration> parse_duration(std::string_view text);

// The shortest exact form: 1500ms -> "1500ms", 3000ms -> "3s", 120000ms -> "2m".
std::string format_duration(Duration d);

}  // namespace dstack
