// SPDX-License-Identifier: Apache-2.0
#include "common/log/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace dstack::log {

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn" || text == "warning") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  if (text == "off") return spdlog::level::off;
  return std::nullopt;
}

std::optional<std::string> check_level(std::string_view text) {
  if (parse_level(text)) return std::nullopt;
  return "\"" + std::string(text) + "\" is not a log level (trace, debug, info, warn, error, off)";
}

void setup(spdlog::level::level_enum level) {
  spdlog::set_level(level);
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    spdlog::set_pattern("%l %n: %v");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %n: %v");
  }
}

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  if (auto existing = spdlog::get(component)) return existing;
  // stderr sinks are shared so lines from different components never interleave mid-line.
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(component, sink);
  logger->set_level(spdlog::get_level());
  spdlog::initialize_logger(logger);
  return logger;
}

}  // namespace dstack::log
