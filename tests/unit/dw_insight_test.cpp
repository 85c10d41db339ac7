// SPDX-License-Identifier: Apache-2.0
// What dw traffic, dw consumers and dw top show (docs/dw.md#traffic-insight), from a traffic view
// read back from its JSON as the directory serves it; and when the directory sends traffic
// events (docs/api.md#traffic-events).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/model/traffic_view.hpp"
#include "directory/traffic_events.hpp"
#include "directory/traffic_window.hpp"
#include "dw/top_screen.hpp"
#include "dw/traffic_tables.hpp"

namespace dstack {
namespace {

using model::CodeClass;
using namespace std::chrono_literals;

// Two services seen by two consumers over a minute: api has a canary (version 2) failing 10 %.
model::TrafficView sample_view() {
  FakeClock clock;
  directory::TrafficWindow w;
  model::TrafficByVersion a, b;
  for (int i = 0; i < 900; ++i) a["api"]["1"].observe(CodeClass::c2xx, 4);
  for (int i = 0; i < 90; ++i) a["api"]["2"].observe(CodeClass::c2xx, 40);
  for (int i = 0; i < 10; ++i) a["api"]["2"].observe(CodeClass::c5xx, 40);
  for (int i = 0; i < 60; ++i) b["search"]["7"].observe(CodeClass::c2xx, 300);
  w.add("web-1", model::rows_of(a), 60s, clock.now());
  w.add("web-2", model::rows_of(b), 60s, clock.now());
  return directory::view_of(w.query({1min, {}, {}}, clock.now()), 1min,
                            w.reporting(1min, clock.now()), true);
}

std::string text(const dw::Table& t) {
  std::ostringstream out;
  t.print(out);
  return out.str();
}

TEST(TrafficView, ReadsBackAsServed) {
  const auto view = sample_view();
  const auto j = model::to_json(view);
  EXPECT_EQ(j["window"], "1m");
  EXPECT_EQ(j["services"][0]["versions"][1]["codes"]["5xx"], 10);
  // Rounded as shown: no binary fraction noise (49.800000000000004) in the answer.
  EXPECT_EQ(j["services"][0]["versions"][1]["p99_ms"].dump(), "49.8");
  EXPECT_EQ(j["services"][0]["versions"][1]["rps"].dump(), "1.667");
  auto back = model::traffic_view_from_json(j);
  ASSERT_TRUE(std::holds_alternative<model::TrafficView>(back));
  EXPECT_EQ(std::get<model::TrafficView>(back), view);
}

TEST(TrafficView, AMalformedAnswerIsRefusedNamingThePath) {
  auto j = model::to_json(sample_view());
  j["services"][0]["versions"][1]["rps"] = "fast";
  j["services"][1]["versions"][0].erase("codes");
  j["extra"] = "ignored";  // a newer directory may add members
  auto back = model::traffic_view_from_json(j);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(back));
  const auto& problems = std::get<std::vector<std::string>>(back);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0], "services[0].versions[1].rps: expected a number >= 0");
  EXPECT_EQ(problems[1], "services[1].versions[0].codes: missing");
  EXPECT_FALSE(
      std::holds_alternative<model::TrafficView>(model::traffic_view_from_json(nlohmann::json(3))));
}

TEST(DwTraffic, VersionsShowTheirShareRatesErrorsAndCodes) {
  const auto view = sample_view();
  const std::string table = text(dw::versions_table(view.services[0]));
  EXPECT_EQ(table,
            "VERSION  SHARE   RPS  ERRORS     P50     P90     P99  REQUESTS  2XX  3XX  4XX  5XX  "
            "CONN_ERROR\n"
            "1        90.0%  15.0   0.00%  4.00ms  4.80ms  4.98ms       900  900    0    0    0  "
            "         0\n"
            "2        10.0%  1.67  10.00%  40.0ms  48.0ms  49.8ms       100   90    0    0   10  "
            "         0\n");
  const std::string per = text(dw::consumers_traffic_table(view.services[0]));
  EXPECT_NE(per.find("web-1     2        "), std::string::npos) << per;
}

TEST(DwConsumers, ListsHostApiLastReportAndServices) {
  std::vector<model::Consumer> list = {
      {"web-1", "a1", "web-1.internal", "127.0.0.1:7402", {"api", "search"}, 1'000'000},
      {"web-2", "a2", "web-2", "", {}, 0}};
  EXPECT_EQ(text(dw::consumers_table(list, 1'004'500)),
            "CONSUMER  HOST            API             LAST REPORT  SERVICES\n"
            "web-1     web-1.internal  127.0.0.1:7402  4s ago       api,search\n"
            "web-2     web-2           -               never        -\n");
}

TEST(DwTop, SortsServicesKeepingVersionsTogether) {
  const auto view = sample_view();
  auto first_service = [&](dw::TopSort sort) {
    auto lines = dw::top_table(view, sort).lines();
    return lines.at(1).substr(0, lines[1].find(' '));
  };
  EXPECT_EQ(first_service(dw::TopSort::rps), "api");     // 16.7 rps against 1
  EXPECT_EQ(first_service(dw::TopSort::errors), "api");  // 10 % against none
  EXPECT_EQ(first_service(dw::TopSort::p99), "search");  // ~300 ms against ~50
  EXPECT_EQ(first_service(dw::TopSort::name), "api");
  auto lines = dw::top_table(view, dw::TopSort::p99).lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2].substr(0, 6), "api   ");
  EXPECT_EQ(lines[3].substr(0, 6), "api   ");
  EXPECT_EQ(dw::top_sort_for_key('e'), dw::TopSort::errors);
  EXPECT_FALSE(dw::top_sort_for_key('x'));
}

TEST(DwTop, TheScreenFitsTheTerminalAndSaysWhatFailed) {
  dw::TopFrame f;
  f.directory = "http://127.0.0.1:8500";
  f.clock = "23:44:10";
  f.window = "1m";
  f.view = sample_view();
  auto lines = dw::render_top(f);
  EXPECT_EQ(lines[0], "dw top - 23:44:10 - http://127.0.0.1:8500 - last 1m");
  EXPECT_EQ(lines[1], "2 services, 3 versions, 2 consumers, 17.7 rps, 0.94% errors");
  EXPECT_EQ(lines.back().substr(0, 14), "sorted by rps ");
  EXPECT_EQ(lines.size(), 3u + 4u + 2u);  // header lines, table, blank and keys
  f.height = 7;
  f.width = 20;
  f.problem = "directory http://127.0.0.1:8500 unreachable\x1b[2J";
  lines = dw::render_top(f);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[1], "refresh failed: dire");
  EXPECT_EQ(lines[3].substr(0, 7), "SERVICE");
  EXPECT_EQ(lines[4].substr(0, 10), "... 3 more");
  for (const auto& line : lines) {
    EXPECT_LE(line.size(), 20u);
    EXPECT_EQ(line.find('\x1b'), std::string::npos);
  }
}

TEST(TrafficEvents, AtMostOnceASecondWhenReportsCameAndEveryTenSecondsAnyway) {
  FakeClock clock;
  directory::TrafficEventPacer pacer;
  EXPECT_TRUE(pacer.due(clock.now(), 0));  // the first listener gets one at once
  clock.advance(500ms);
  EXPECT_FALSE(pacer.due(clock.now(), 5));  // too soon
  clock.advance(500ms);
  EXPECT_TRUE(pacer.due(clock.now(), 5));
  clock.advance(3s);
  EXPECT_FALSE(pacer.due(clock.now(), 5));  // nothing new
  clock.advance(7s);
  EXPECT_TRUE(pacer.due(clock.now(), 5));  // figures age: one every 10 s regardless
  const auto line = directory::traffic_event_line(sample_view(), 42);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["type"], "traffic");
  EXPECT_EQ(j["revision"], 42);
  EXPECT_EQ(line.back(), '\n');
}

}  // namespace
}  // namespace dstack
