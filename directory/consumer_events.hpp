// SPDX-License-Identifier: Apache-2.0
#pragma once
// Consumers as the API shows them, and the watch stream's consumer events
// (docs/api.md#consumer-events): the list as a stream opened with consumers=1 starts, then one
// line each time a consumer registers, changes what it says, or goes. Like traffic events they
// are not changes: they carry the current revision, are not in the history and are not replayed.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/model/consumer.hpp"
#include "directory/consumers.hpp"

namespace dstack::directory {

// One consumer as GET /v1/consumers lists it: with `last_report`, ms since the epoch or null.
nlohmann::json consumer_json(const Consumers& consumers, const model::Consumer& consumer);

// {"type":"consumers","revision":N,"consumers":[...]}: every consumer, as GET /v1/consumers.
std::string consumers_event_line(const Consumers& consumers, std::uint64_t revision);

// {"type":"consumer_put","revision":N,"consumer":{...}} or, `now` null,
// {"type":"consumer_delete","revision":N,"name":NAME}.
std::string consumer_event_line(const Consumers& consumers, const std::string& name,
                                const model::Consumer* now, std::uint64_t revision);

}  // namespace dstack::directory
