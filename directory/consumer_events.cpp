// SPDX-License-Identifier: Apache-2.0
#include "directory/consumer_events.hpp"

#include <chrono>

namespace dstack::directory {

using nlohmann::json;

nlohmann::json consumer_json(const Consumers& consumers, const model::Consumer& consumer) {
  json j = model::to_json(consumer);
  // Reports are timed on the steady clock: the wall clock's now, less how long ago.
  const auto last = consumers.last_report(consumer.name);
  if (!last) {
    j["last_report"] = nullptr;
    return j;
  }
  const auto ago =
      std::chrono::duration_cast<std::chrono::milliseconds>(consumers.clock().now() - *last);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  j["last_report"] = (wall - ago).count();
  return j;
}

std::string consumers_event_line(const Consumers& consumers, std::uint64_t revision) {
  json list = json::array();
  for (const auto& c : consumers.list()) list.push_back(consumer_json(consumers, c));
  return json{{"type", "consumers"}, {"revision", revision}, {"consumers", std::move(list)}}
             .dump() +
         "\n";
}

std::string consumer_event_line(const Consumers& consumers, const std::string& name,
                                const model::Consumer* now, std::uint64_t revision) {
  const json line = now ? json{{"type", "consumer_put"},
                               {"revision", revision},
                               {"consumer", consumer_json(consumers, *now)}}
                        : json{{"type", "consumer_delete"}, {"revision", revision}, {"name", name}};
  return line.dump() + "\n";
}

}  // namespace dstack::directory
