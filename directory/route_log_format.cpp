// SPDX-License-Identifier: Apache-2.0
#include "directory/route_log_format.hpp"

#include "directory/store_json.hpp"

namespace dstack::directory::route_log {
using nlohmann::json;
using store_json::fail;
using store_json::get_string;

bool encode(const Op& op, std::string& payload_out, std::string* why) {
  json j = {{"op", op.remove ? "delete" : "put"},
            {"service", op.route.service},
            {"consumer", op.route.consumer}};
  const auto targets_json = [](const std::vector<model::RouteTarget>& targets) {
    json out = json::array();
    for (const auto& t : targets) out.push_back({{"version", t.version}, {"weight", t.weight}});
    return out;
  };
  if (!op.remove) {
    j["targets"] = targets_json(op.route.targets);
    j["revision"] = op.route.revision;
    if (op.previous.known)
      j["previous"] = op.previous.targets ? targets_json(*op.previous.targets) : json(nullptr);
  }
  return store_json::round_trip<Op>(
      j, decode_payload,
      [&](const Op& back) {
        return back.route.service == op.route.service && back.route.consumer == op.route.consumer &&
               (op.remove || (back.route == op.route && back.previous == op.previous));
      },
      "route", payload_out, why);
}

namespace {

bool read_targets(const json& array, std::vector<model::RouteTarget>& out, std::string* why) {
  for (const json& t : array) {
    if (!t.is_object()) return fail(why, "a target is not an object");
    model::RouteTarget target;
    if (!get_string(t, "version", target.version, why)) return false;
    const auto weight = t.find("weight");
    // Negative numbers are not number_unsigned, so this also rejects them.
    if (weight == t.end() || !weight->is_number_unsigned() || weight->get<std::uint64_t>() > 100)
      return fail(why, "target weight missing or not an integer 0..100");
    target.weight = static_cast<int>(weight->get<std::uint64_t>());
    out.push_back(std::move(target));
  }
  return true;
}

}  // namespace

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = store_json::parse_object(payload, why);
  if (j.is_discarded()) return false;
  std::string kind;
  op = Op{};
  if (!get_string(j, "op", kind, why) || !get_string(j, "service", op.route.service, why) ||
      !get_string(j, "consumer", op.route.consumer, why))
    return false;
  if (op.route.service.empty()) return fail(why, "empty service");
  if (kind == "delete") {
    op.remove = true;
    return true;
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");

  if (!store_json::get_unsigned(j, "revision", op.route.revision, why)) return false;
  const auto targets = j.find("targets");
  if (targets == j.end() || !targets->is_array())
    return fail(why, "\"targets\" missing or not an array");
  if (!read_targets(*targets, op.route.targets, why)) return false;
  const auto previous = j.find("previous");
  if (previous == j.end()) return true;
  op.previous.known = true;
  if (previous->is_null()) return true;
  if (!previous->is_array()) return fail(why, "\"previous\" neither an array nor null");
  op.previous.targets.emplace();
  return read_targets(*previous, *op.previous.targets, why);
}

std::string key(const std::string& service, const std::string& consumer) {
  // Length-prefixed, so no pair of names can make another pair's key.
  return std::to_string(service.size()) + ":" + service + consumer;
}

const record_log::Format& format() {
  static const record_log::Format f{
      kMagic, "route log",
      [](std::string_view payload, record_log::Change& change, std::string* why) {
        Op op;
        if (!decode_payload(payload, op, why)) return false;
        change = {key(op.route.service, op.route.consumer), op.remove};
        return true;
      }};
  return f;
}

}  // namespace dstack::directory::route_log
