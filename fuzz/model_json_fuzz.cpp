// SPDX-License-Identifier: Apache-2.0
// The JSON bodies of the wire API (docs/api.md) as common/model reads them: leases, instances,
// routes, events, snapshots, health and traffic policies from a directory, and the bodies of PUT
// instance, PUT route, PUT policy and PUT rollout as the directory reads them. Whatever is accepted
// must come back the same through to_json and the same reader, and the streamed snapshot reader
// must agree with the tree one.
#include "common/model/json.hpp"
#include "common/model/rollout.hpp"
#include "common/model/traffic_policy.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;
using nlohmann::json;

namespace {

// Accepted values survive a round trip through their JSON.
template <class T, class Read>
void round_trip(const json& j, Read read) {
  auto parsed = read(j);
  auto* value = std::get_if<T>(&parsed);
  if (!value) return;
  auto again = read(model::to_json(*value));
  auto* back = std::get_if<T>(&again);
  FUZZ_CHECK(back && *back == *value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    round_trip<model::Lease>(j, model::lease_from_json);
    round_trip<model::Instance>(j, model::instance_from_json);
    round_trip<model::Route>(j, model::route_from_json);
    round_trip<model::Event>(j, model::event_from_json);
    round_trip<model::DirectoryHealth>(j, model::health_from_json);
    round_trip<model::Snapshot>(j, model::snapshot_from_json);

    // PUT bodies: the path's names go in apart, and the body the client sends is to_json's
    // without them (directory_client.cpp).
    auto instance = model::instance_from_request(j, "emitter", "vm101:8080");
    if (auto* in = std::get_if<model::Instance>(&instance)) {
      json body = model::to_json(*in);
      for (auto key : {"service", "id", "revision"}) body.erase(key);
      auto again = model::instance_from_request(body, "emitter", "vm101:8080");
      FUZZ_CHECK(std::holds_alternative<model::Instance>(again) &&
                 std::get<model::Instance>(again) == *in);
    }
    auto route = model::route_from_request(j, "emitter", "monolith");
    if (auto* r = std::get_if<model::Route>(&route)) {
      json body = model::to_json(*r);
      for (auto key : {"service", "consumer", "revision"}) body.erase(key);
      auto again = model::route_from_request(body, "emitter", "monolith");
      FUZZ_CHECK(std::holds_alternative<model::Route>(again) &&
                 std::get<model::Route>(again) == *r);
    }
    // Traffic policies (traffic_policy.hpp): what a request sets is what a reader gets back,
    // and whatever either accepts passes validation (so it is safe for HAProxy's config).
    auto policy = model::traffic_policy_from_request(j, "emitter");
    if (auto* p = std::get_if<model::TrafficPolicy>(&policy)) {
      FUZZ_CHECK(model::validate_traffic_policy(*p).empty());
      json body = model::to_json(*p);
      for (auto key : {"service", "revision"}) body.erase(key);
      auto again = model::traffic_policy_from_request(body, "emitter");
      FUZZ_CHECK(std::holds_alternative<model::TrafficPolicy>(again) &&
                 std::get<model::TrafficPolicy>(again) == *p);
    }
    round_trip<model::TrafficPolicy>(j, model::traffic_policy_from_json);
    // A rollout's body (rollout.hpp): what is accepted is valid and reads back the same.
    auto rollout = model::rollout_spec_from_request(j, "emitter");
    if (auto* r = std::get_if<model::RolloutSpec>(&rollout)) {
      FUZZ_CHECK(model::validate_rollout_spec(*r, false).empty());
      auto again = model::rollout_spec_from_request(model::to_request_json(*r), "emitter");
      FUZZ_CHECK(std::holds_alternative<model::RolloutSpec>(again) &&
                 std::get<model::RolloutSpec>(again) == *r);
    }
    // A rollout as the API answers it (what dw reads): what is accepted reads back the same.
    round_trip<model::RolloutView>(j, model::rollout_view_from_json);
  }

  // The streamed snapshot reader: what it accepts, the tree reader accepts the same, and its
  // text (snapshot_text) is to_json's byte for byte.
  auto streamed = model::snapshot_from_text(text);
  if (auto* s = std::get_if<model::Snapshot>(&streamed)) {
    auto tree = model::snapshot_from_json(j);
    FUZZ_CHECK(std::holds_alternative<model::Snapshot>(tree) &&
               std::get<model::Snapshot>(tree) == *s);
    const std::string out = model::snapshot_text(*s);
    FUZZ_CHECK(out == model::to_json(*s).dump());
    auto again = model::snapshot_from_text(out);
    FUZZ_CHECK(std::holds_alternative<model::Snapshot>(again) &&
               std::get<model::Snapshot>(again) == *s);
  }
  return 0;
}
