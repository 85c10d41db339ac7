// SPDX-License-Identifier: Apache-2.0
// The bodies a sherlock sends the directory for traffic insight (common/model/traffic.hpp,
// common/model/consumer.hpp, docs/api.md#consumers-and-traffic): a traffic report, or a consumer
// registration; and what dw reads back, the directory's /v1/traffic answer
// (common/model/traffic_view.hpp). Anything accepted reads back to the same value from its own
// JSON, and every version's durations add up to its requests, so a report cannot skew the
// percentiles. The text reader the directory tries first (traffic_rows_from_text) accepts
// nothing the document reader refuses, and agrees with it on what both accept.
#include <nlohmann/json.hpp>
#include <numeric>

#include "common/model/consumer.hpp"
#include "common/model/traffic.hpp"
#include "common/model/traffic_view.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::text(data, size);
  const auto fast = model::traffic_rows_from_text(text);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  FUZZ_CHECK(!fast || !j.is_discarded());
  if (j.is_discarded()) return 0;

  auto report = model::traffic_report_from_request(j);
  if (fast) {
    FUZZ_CHECK(std::holds_alternative<model::TrafficReport>(report));
    FUZZ_CHECK(model::rows_of(std::get<model::TrafficReport>(report)) == *fast);
  }
  if (auto* r = std::get_if<model::TrafficReport>(&report)) {
    // What a sherlock sends (the canonical form) goes the fast way.
    FUZZ_CHECK(model::traffic_rows_from_text(model::to_json(*r).dump()) == model::rows_of(*r));
    for (const auto& [service, versions] : r->services)
      for (const auto& [version, c] : versions) {
        const auto observed =
            std::accumulate(c.duration.begin(), c.duration.end(), std::uint64_t{0});
        FUZZ_CHECK(observed == c.total());
        if (c.total() > 0) FUZZ_CHECK(model::duration_quantile_ms(c, 0.99).has_value());
      }
    auto back = model::traffic_report_from_request(model::to_json(*r));
    FUZZ_CHECK(std::holds_alternative<model::TrafficReport>(back));
    FUZZ_CHECK(std::get<model::TrafficReport>(back) == *r);
  } else {
    FUZZ_CHECK(!std::get<std::vector<std::string>>(report).empty());
  }

  auto consumer = model::consumer_from_request(j, "web-1");
  if (auto* c = std::get_if<model::Consumer>(&consumer)) {
    FUZZ_CHECK(std::is_sorted(c->services.begin(), c->services.end()));
    auto back = model::consumer_from_json(model::to_json(*c));
    FUZZ_CHECK(std::holds_alternative<model::Consumer>(back));
    FUZZ_CHECK(std::get<model::Consumer>(back) == *c);
  }

  auto view = model::traffic_view_from_json(j);
  if (auto* v = std::get_if<model::TrafficView>(&view)) {
    const auto written = model::to_json(*v);
    auto back = model::traffic_view_from_json(written);
    FUZZ_CHECK(std::holds_alternative<model::TrafficView>(back));
    FUZZ_CHECK(model::to_json(std::get<model::TrafficView>(back)) == written);
  } else {
    FUZZ_CHECK(!std::get<std::vector<std::string>>(view).empty());
  }
  return 0;
}
