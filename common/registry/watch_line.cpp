// SPDX-License-Identifier: Apache-2.0
#include "common/registry/watch_line.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/model/json.hpp"

namespace dstack::registry {

using nlohmann::json;

std::optional<Result<model::Event>> read_watch_line(std::string_view line, std::uint64_t& revision,
                                                    const std::string& authority) {
  auto protocol = [&](const std::string& what) {
    return Result<model::Event>(
        Error{ErrorKind::protocol, "bad_response", authority + ": " + what});
  };
  if (line.empty()) return std::nullopt;
  auto j = json::parse(line, nullptr, false);
  if (!j.is_object()) return protocol("watch line is not a JSON object");
  // Not j.value("type", ""): it throws when "type" is there but not a string. A type that is
  // not a string is then refused by event_from_json, with the field named.
  if (const auto type = j.find("type"); type != j.end() && *type == "keepalive") {
    if (j.contains("revision") && j["revision"].is_number_unsigned())
      revision = std::max(revision, j["revision"].get<std::uint64_t>());
    return std::nullopt;
  }
  auto event = model::event_from_json(j);
  if (auto* problems = std::get_if<model::Problems>(&event))
    return protocol("watch event refused: " + model::join(*problems));
  revision = std::get<model::Event>(event).revision;
  return Result<model::Event>(std::get<model::Event>(std::move(event)));
}

}  // namespace dstack::registry
