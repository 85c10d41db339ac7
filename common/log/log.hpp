// SPDX-License-Identifier: Apache-2.0
#pragma once
// Logging: one line per event on stderr (journald picks it up under systemd), one named logger
// per component. Format strings must be literals; user data goes in the arguments.

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace dstack::log {

std::optional<spdlog::level::level_enum> parse_level(std::string_view text);

// For config checks: nullopt for a level, else `"loud" is not a log level (trace, ...)`.
std::optional<std::string> check_level(std::string_view text);

// Sets the level and format of every logger, existing and future. Under systemd (JOURNAL_STREAM
// set) timestamps are left to the journal.
void setup(spdlog::level::level_enum level);

// The logger for a component ("api", "leases", ...), created on first use.
std::shared_ptr<spdlog::logger> get(const std::string& component);

}  // namespace dstack::log
