// SPDX-License-Identifier: Apache-2.0
#pragma once
// What routes.log's records say (framing: record_log_format.hpp), kept free of I/O so every
// decision is tested directly on byte strings.
//
//   magic   := "DSTACK-ROUTES 1\n"
//   payload := {"op":"put","service":S,"consumer":C,"targets":[{"version":V,"weight":W}],
//               "revision":R[,"previous":[{"version":V,"weight":W}]|null]}
//            |  {"op":"delete","service":S,"consumer":C}                      (compact JSON)
//
// `previous` (since the console's rollback, docs/api.md#post-v1routessvcrollbackconsumerc): the
// targets of the route this put replaced, null when there was none. Records from before it have
// no `previous`: then it is not known. Directories from before it ignore the member.
//
// The payload is the store's own JSON, not model/json.hpp's wire format: the API format may
// evolve, the file must stay readable by the version header alone.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/model/model.hpp"
#include "directory/record_log_format.hpp"

namespace dstack::directory::route_log {

inline constexpr std::string_view kMagic = "DSTACK-ROUTES 1\n";

// What a route was before its last put.
struct Previous {
  bool known = false;                                      // false: a record from before
  std::optional<std::vector<model::RouteTarget>> targets;  // nullopt: there was no route
  bool operator==(const Previous&) const = default;
};

struct Op {
  bool remove = false;
  model::Route route;  // for a remove only service and consumer matter
  Previous previous;   // for a put
};

// The payload. Fails, with *why set, for anything decode_payload would refuse or not
// reproduce exactly (bad ranges, invalid UTF-8, too large): a record we cannot load again must
// never reach the file, or one bad put would make the store unloadable.
bool encode(const Op& op, std::string& payload, std::string* why = nullptr);

// Parses and sanity-checks one payload: types, a non-empty service, weights 0..100. Naming
// rules are validate.hpp's business, applied before a route reaches the store.
bool decode_payload(std::string_view payload, Op& op, std::string* why = nullptr);

// The record log's key of a route: one per (service, consumer).
std::string key(const std::string& service, const std::string& consumer);

// routes.log for record_log::parse and RecordLog.
const record_log::Format& format();

}  // namespace dstack::directory::route_log
