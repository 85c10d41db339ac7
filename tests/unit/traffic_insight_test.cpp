// SPDX-License-Identifier: Apache-2.0
// Traffic insight's pure parts (docs/insight.md): the report model, sherlock's counter and report
// schedule, the directory's window; each with a fake clock where time matters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/model/traffic.hpp"
#include "directory/packed_slots.hpp"
#include "directory/traffic_window.hpp"
#include "sherlock/report_schedule.hpp"
#include "sherlock/traffic_counter.hpp"

namespace dstack {
namespace {

using model::CodeClass;
using model::TrafficCounts;
using namespace std::chrono_literals;

TEST(TrafficModel, BucketsAreInclusiveUpperBounds) {
  EXPECT_EQ(model::duration_bucket(0), 0u);
  EXPECT_EQ(model::duration_bucket(1), 0u);
  EXPECT_EQ(model::duration_bucket(2), 1u);
  EXPECT_EQ(model::duration_bucket(60000), model::kDurationBuckets - 2);
  EXPECT_EQ(model::duration_bucket(60001), model::kDurationBuckets - 1);
}

TEST(TrafficModel, QuantilesAreWithinOneBucket) {
  TrafficCounts c;
  for (int i = 0; i < 90; ++i) c.observe(CodeClass::c2xx, 4);    // bucket (3, 5]
  for (int i = 0; i < 10; ++i) c.observe(CodeClass::c5xx, 120);  // bucket (100, 150]
  EXPECT_EQ(c.total(), 100u);
  EXPECT_EQ(c.errors(), 10u);
  const auto p50 = *model::duration_quantile_ms(c, 0.5);
  EXPECT_GT(p50, 3);
  EXPECT_LE(p50, 5);
  const auto p99 = *model::duration_quantile_ms(c, 0.99);
  EXPECT_GT(p99, 100);
  EXPECT_LE(p99, 150);
  EXPECT_FALSE(model::duration_quantile_ms(TrafficCounts{}, 0.5));
}

TEST(TrafficModel, AReportReadsBackAsWritten) {
  model::TrafficReport r;
  r.interval_ms = 5000;
  r.services["emitter"]["1"].observe(CodeClass::c2xx, 3);
  r.services["emitter"]["2"].observe(CodeClass::conn_error, 2000);
  r.services["emitter"][""].observe(CodeClass::conn_error, 0);
  auto back = model::traffic_report_from_request(model::to_json(r));
  ASSERT_TRUE(std::holds_alternative<model::TrafficReport>(back));
  EXPECT_EQ(std::get<model::TrafficReport>(back), r);
}

// The directory reads well-formed reports from their text, without a JSON document; it must
// accept exactly what the document reader accepts, with the same result, and leave the rest to
// it (which names the problems).
TEST(TrafficModel, TheTextReaderAcceptsWhatTheDocumentReaderAcceptsAndNothingElse) {
  model::TrafficReport r;
  r.interval_ms = 5000;
  for (int i = 0; i < 50; ++i) r.services["emitter"]["1"].observe(CodeClass::c2xx, i);
  r.services["emitter"]["2"].observe(CodeClass::c5xx, 2000);
  r.services["emitter"][""].observe(CodeClass::conn_error, 0);
  r.services["search"]["7"].observe(CodeClass::c4xx, 70000);  // the +Inf bucket
  r.services["idle"];                                         // routed, nothing counted
  for (const auto& text : {model::to_json(r).dump(), model::to_json(r).dump(2)}) {
    const auto fast = model::traffic_rows_from_text(text);
    ASSERT_TRUE(fast) << text;
    EXPECT_EQ(*fast, model::rows_of(r));
    EXPECT_EQ(std::get<model::TrafficReport>(
                  model::traffic_report_from_request(nlohmann::json::parse(text))),
              r);
  }
  const std::string good = model::to_json(r).dump();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  for (const auto& bad : {
           std::string(),
           std::string("{}"),
           // A UTF-8 sequence cut short by the end of the body (the fuzz target found RapidJSON
           // reading and writing past it; run under ASan in CI).
           std::string("{\"@[EEitnE=uest[\xf3 "),
           std::string("{\"b-rv[G[[[[[r\xef"),
           std::string("{\"services\":{\"a\xc3"),
           std::string("{\"") + std::string(40, 'a') + "\xef",  // beyond a short string's room
           good.substr(0, good.size() - 1),
           with("\"interval_ms\":5000", "\"interval_ms\":0"),
           with("\"interval_ms\":5000", "\"interval_ms\":5000.0"),
           with("\"interval_ms\":5000", "\"interval_ms\":5000,\"extra\":1"),
           with("\"interval_ms\":5000", "\"interval_ms\":5000,\"interval_ms\":5000"),
           with("[1,2,3,5,", "[1,2,3,4,"),
           with(",60000]", "]"),
           with("\"search\"", "\"Search\""),
           with("\"7\":", "\"7 x\":"),
           with("\"4xx\":1", "\"4xx\":2"),  // durations no longer add up
           with("\"4xx\":1", "\"7xx\":1"),
           with("\"4xx\":1", "\"4xx\":-1"),
           with("\"4xx\":1", "\"4xx\":1,\"4xx\":1"),
           with("\"4xx\":1", "\"4xx\":null"),
           with("\"sum\":70000", "\"sum\":70000,\"sum\":1"),
       }) {
    EXPECT_FALSE(model::traffic_rows_from_text(bad)) << bad;
  }
}

TEST(TrafficModel, ABadReportIsRefusedNamingEachProblem) {
  model::TrafficReport r;
  r.interval_ms = 5000;
  r.services["emitter"]["1"].observe(CodeClass::c2xx, 3);
  auto j = model::to_json(r);
  j["services"]["emitter"]["1"]["requests"]["2xx"] = 2;  // counts no longer add up
  j["services"]["Bad Name"] = nlohmann::json::object();
  j["buckets_ms"] = {1, 2, 3};
  j["interval_ms"] = 0;
  auto out = model::traffic_report_from_request(j);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(out));
  const std::string all = nlohmann::json(std::get<std::vector<std::string>>(out)).dump();
  EXPECT_NE(all.find("interval_ms"), std::string::npos) << all;
  EXPECT_NE(all.find("buckets_ms"), std::string::npos) << all;
  EXPECT_NE(all.find("Bad Name"), std::string::npos) << all;
  EXPECT_NE(all.find("add up to 1 but requests to 2"), std::string::npos) << all;
}

TEST(TrafficCounter, CountsByVersionInstanceAndClassAndHandsOutOnlyWhatIsNew) {
  sherlock::TrafficCounter counter(
      [](const std::string&, const std::string& id) -> std::optional<std::string> {
        return id == "a1" ? std::string("1") : std::string("2");
      },
      true);
  auto line = [](const char* server, const char* status, const char* term) {
    return std::string("1796315220\t973\tbe_api\t") + server + "\t" + status +
           "\t0\t0\t1\t3\t4\t73\tGET\t-\t0\t" + term;
  };
  const std::string ok = line("a1", "200", "----"), bad = line("a2", "503", "----"),
                    refused = line("a2", "503", "SC--"), none = line("<NOSRV>", "503", "SC--");
  for (const auto* text : {&ok, &ok, &bad, &refused, &none})
    counter.count(*sherlock::parse_request_log(*text));
  EXPECT_EQ(counter.counted(), 5u);
  auto first = counter.take_new();
  EXPECT_EQ(first["api"]["1"].requests[0], 2u);
  EXPECT_EQ(first["api"]["2"].requests[3], 1u);  // 5xx
  EXPECT_EQ(first["api"]["2"].requests[4], 1u);  // conn_error: refused
  EXPECT_EQ(first["api"][""].requests[4], 1u);   // no instance
  EXPECT_TRUE(counter.take_new().empty());
  counter.count(*sherlock::parse_request_log(ok));
  EXPECT_EQ(counter.take_new()["api"]["1"].total(), 1u);
  metrics::Writer w;
  counter.write_metrics(w);
  EXPECT_NE(w.text().find("dstack_sherlock_requests_total{service=\"api\",version=\"1\","
                          "instance=\"a1\",code=\"2xx\"} 3"),
            std::string::npos)
      << w.text();
}

// The series of instances that left the view, then their versions, leave /metrics in turn.
TEST(TrafficCounter, SeriesOfInstancesThatLeftGoTenMinutesLaterAndTheirVersionOnceTaken) {
  std::map<std::string, std::string> view{{"a1", "1"}, {"a2", "2"}};
  sherlock::TrafficCounter counter(
      [&view](const std::string&, const std::string& id) -> std::optional<std::string> {
        if (id.empty()) return std::string();
        auto it = view.find(id);
        return it == view.end() ? std::nullopt : std::optional(it->second);
      },
      true);
  auto request = [&counter](const char* server) {
    counter.count(*sherlock::parse_request_log(std::string("1796315220\t973\tbe_api\t") + server +
                                               "\t200\t0\t0\t1\t3\t4\t73\tGET\t-\t0\t----"));
  };
  auto metrics = [&counter] {
    metrics::Writer w;
    counter.write_metrics(w);
    return w.text();
  };
  FakeClock clock;
  request("a1");
  request("a2");
  view.erase("a2");
  counter.view_changed(clock.now());
  request("a2");  // under way when it left: counted under the version ""
  EXPECT_EQ(counter.instance_series(), 3u);
  clock.advance(9min + 59s);
  counter.drop_departed(clock.now());
  EXPECT_NE(metrics().find("instance=\"a2\""), std::string::npos) << "kept for scrapes";

  clock.advance(10s);  // 10 minutes after the departure was seen
  counter.drop_departed(clock.now());
  EXPECT_EQ(counter.instance_series(), 2u);  // a1, and the late request's (seen gone at 9:59)
  EXPECT_EQ(metrics().find("version=\"2\",instance=\"a2\""), std::string::npos);
  EXPECT_NE(metrics().find("version=\"2\""), std::string::npos) << "its figures not taken yet";
  EXPECT_EQ(counter.take_new()["api"]["2"].total(), 1u);
  clock.advance(10s);
  counter.drop_departed(clock.now());
  EXPECT_EQ(metrics().find("version=\"2\""), std::string::npos) << metrics();
  clock.advance(10min);
  counter.drop_departed(clock.now());
  EXPECT_EQ(counter.instance_series(), 1u);  // a1 only
  EXPECT_EQ(counter.version_series(), 1u);

  // An instance back within the 10 minutes keeps counting in the series it had.
  clock.advance(10s);
  view.erase("a1");
  counter.view_changed(clock.now());
  clock.advance(5min);
  view["a1"] = "1";
  counter.view_changed(clock.now());
  clock.advance(6min);
  counter.drop_departed(clock.now());
  request("a1");
  EXPECT_NE(metrics().find("instance=\"a1\",code=\"2xx\"} 2"), std::string::npos) << metrics();

  // Departures are looked for at most every 10 s: each look asks the view for every series.
  view.clear();
  clock.advance(5s);
  counter.view_changed(clock.now());  // 5 s after the last look: not looked at
  clock.advance(10min);
  counter.drop_departed(clock.now());  // a1's departure is seen only now
  EXPECT_EQ(counter.instance_series(), 1u);
  clock.advance(10min);
  counter.drop_departed(clock.now());
  EXPECT_EQ(counter.instance_series(), 0u);
}

TEST(TrafficCounter, WithoutAReportAVersionGoesWithItsLastInstance) {
  std::map<std::string, std::string> view{{"a1", "1"}};
  sherlock::TrafficCounter counter(
      [&view](const std::string&, const std::string& id) -> std::optional<std::string> {
        auto it = view.find(id);
        return it == view.end() ? std::nullopt : std::optional(it->second);
      },
      false);
  counter.count(*sherlock::parse_request_log(
      "1796315220\t973\tbe_api\ta1\t200\t0\t0\t1\t3\t4\t73\tGET\t-\t0\t----"));
  FakeClock clock;
  view.clear();
  counter.view_changed(clock.now());
  clock.advance(10min);
  counter.drop_departed(clock.now());
  EXPECT_EQ(counter.instance_series(), 0u);
  EXPECT_EQ(counter.version_series(), 0u);
}

TEST(ReportSchedule, LeaseThenRegistrationThenKeepalivesAndReports) {
  FakeClock clock;
  sherlock::ReportSchedule s(9s, 5s, clock.now());
  using A = sherlock::ReportSchedule::Action;
  EXPECT_EQ(s.next().action, A::grant);
  s.granted("L1", clock.now());
  EXPECT_EQ(s.next().action, A::register_consumer);
  s.registered(clock.now());
  EXPECT_EQ(s.next().action, A::keepalive);  // at ttl/3, before the first report
  EXPECT_EQ(s.next().at, clock.now() + 3s);
  clock.advance(3s);
  s.kept_alive(clock.now());
  EXPECT_EQ(s.next().action, A::report);
  clock.advance(2s);
  s.consumer_lost(clock.now());  // the directory restarted
  EXPECT_EQ(s.next().action, A::register_consumer);
  s.failed(clock.now());
  EXPECT_EQ(s.next().at, clock.now() + 500ms);
  s.failed(clock.now());
  EXPECT_EQ(s.next().at, clock.now() + 1s);  // doubling
  s.lease_lost(clock.now());
  EXPECT_EQ(s.next().action, A::grant);
}

TEST(ReportSchedule, ServicesThatChangeWhileRegisteringAreRegisteredAgain) {
  FakeClock clock;
  sherlock::ReportSchedule s(9s, 5s, clock.now());
  using A = sherlock::ReportSchedule::Action;
  s.granted("L1", clock.now());
  s.registering();       // sent with no services yet...
  s.services_changed();  // ...and the view arrives while it is on its way
  s.registered(clock.now());
  EXPECT_EQ(s.next().action, A::register_consumer);
  s.registering();
  s.registered(clock.now());
  EXPECT_EQ(s.next().action, A::keepalive);
}

TEST(PackedSlots, KeepsEveryCountCompactlyAndDropsOldSlots) {
  directory::PackedSlots p;
  TrafficCounts minute1, minute2, big;
  for (int i = 0; i < 600; ++i) minute1.observe(CodeClass::c2xx, i % 40);
  for (int i = 0; i < 6; ++i) minute1.observe(CodeClass::c5xx, 900);
  minute2.observe(CodeClass::c4xx, 3);
  big.requests[0] = big.duration[26] = 5'000'000'000ull;  // beyond 32 bits
  using E = directory::PackedSlots::Entry;
  const std::vector<E> first{{3, &minute1}, {9, &minute2}};
  EXPECT_EQ(p.add(100, first), 100);
  const std::vector<E> again{{1, &minute2}, {3, &minute1}, {300, &big}};
  EXPECT_EQ(p.add(100, again), 100);  // the same minute: merged into its block, in id order
  EXPECT_EQ(p.add(99, std::vector<E>{{9, &minute2}}), 100);  // the clock stepped back
  EXPECT_EQ(p.add(101, std::vector<E>{{9, &minute2}}), 101);
  EXPECT_EQ(p.add(102, std::vector<E>{{3, &big}}), 102);
  // Six records in three blocks: under a quarter of them as TrafficCounts.
  EXPECT_LT(p.size_bytes(), 6 * sizeof(TrafficCounts) / 4);

  auto sums_from = [&](std::int64_t slot) {
    std::map<std::uint32_t, TrafficCounts> sums;
    p.sum_from(slot, [&](std::uint32_t id) { return &sums[id]; });
    return sums;
  };
  auto minus_sum = [](TrafficCounts c) {
    c.duration_sum_ms = 0;  // not kept per consumer
    return c;
  };
  auto twice = minute1;
  twice.add(minute1);
  auto minute2x3 = minute2;
  minute2x3.add(minute2);
  minute2x3.add(minute2);
  auto big_and_twice = twice;
  big_and_twice.add(big);
  const auto all = sums_from(100);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all.at(1), minus_sum(minute2));
  EXPECT_EQ(all.at(3), minus_sum(big_and_twice));
  EXPECT_EQ(all.at(9), minus_sum(minute2x3));
  EXPECT_EQ(all.at(300), minus_sum(big));
  // A reader takes only the ids it wants; the others are skipped whole.
  TrafficCounts only9;
  p.sum_from(0, [&](std::uint32_t id) { return id == 9 ? &only9 : nullptr; });
  EXPECT_EQ(only9.total(), 3u);
  EXPECT_EQ(sums_from(101).at(3).total(), 5'000'000'000ull);
  p.drop_before(102);
  const auto left = sums_from(0);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left.at(3).total(), 5'000'000'000ull);
  p.drop_before(103);
  EXPECT_TRUE(p.empty());
}

TEST(TrafficWindow, MergesConsumersAndAgesOut) {
  FakeClock clock;
  directory::TrafficWindow w;
  const auto empty_bytes = w.bytes();
  model::TrafficByVersion a, b;
  for (int i = 0; i < 30; ++i) a["api"]["1"].observe(CodeClass::c2xx, 4);
  for (int i = 0; i < 10; ++i) b["api"]["1"].observe(CodeClass::c5xx, 4);
  w.add("web-1", model::rows_of(a), 5s, clock.now());
  w.add("web-2", model::rows_of(b), 5s, clock.now());
  const auto full_bytes = w.bytes();  // what dstack_directory_traffic_window_bytes says
  EXPECT_GT(full_bytes, empty_bytes + 2 * sizeof(model::TrafficCounts));
  auto all = w.query({}, clock.now());
  ASSERT_EQ(all.size(), 1u);
  const auto& v = all[0].versions.at(0);
  EXPECT_EQ(v.merged.counts.total(), 40u);
  EXPECT_DOUBLE_EQ(v.merged.error_ratio(), 0.25);
  EXPECT_DOUBLE_EQ(v.merged.rps(), 8.0);  // 40 over the 5 s the first reports cover
  EXPECT_EQ(v.consumers.at("web-1").counts.total(), 30u);
  directory::TrafficQuery one;
  one.consumer = "web-2";
  EXPECT_EQ(w.query(one, clock.now()).at(0).versions.at(0).merged.counts.total(), 10u);
  directory::TrafficQuery fleet;
  fleet.breakdown = false;  // the whole fleet: how many consumers, not each one's share
  const auto counted = w.query(fleet, clock.now()).at(0).versions.at(0);
  EXPECT_EQ(counted.reporting, 2u);
  EXPECT_TRUE(counted.consumers.empty());
  EXPECT_EQ(counted.merged.counts.total(), 40u);
  EXPECT_EQ(w.reporting(1min, clock.now()), 2u);
  w.remove("web-2");  // its lease ended
  EXPECT_FALSE(w.query({}, clock.now()).at(0).versions.at(0).consumers.contains("web-2"));
  // Past the merged window but not the consumer's minute: not shown for the old share.
  clock.advance(70s);
  directory::TrafficQuery last_minute{1min, {}, {}};
  EXPECT_TRUE(w.query(last_minute, clock.now()).empty());
  clock.advance(11min);
  w.expire(clock.now());
  EXPECT_TRUE(w.query({}, clock.now()).empty());
  EXPECT_EQ(w.consumer_series(), 0u);
  EXPECT_LT(w.bytes(), full_bytes - sizeof(model::TrafficCounts));  // the memory went too
  // Everything went, names included: a new version after them starts afresh.
  model::TrafficByVersion c;
  c["api"]["3"].observe(CodeClass::c2xx, 4);
  w.add("web-1", model::rows_of(c), 5s, clock.now());
  const auto after = w.query({}, clock.now());
  ASSERT_EQ(after.size(), 1u);
  ASSERT_EQ(after[0].versions.size(), 1u);
  EXPECT_EQ(after[0].versions[0].version, "3");
  EXPECT_EQ(after[0].versions[0].merged.counts.total(), 1u);
}

// The console's charts: steps of whole slots ending with the current one, oldest first, each
// with the seconds it covers (none before the first report, up to now for the last).
TEST(TrafficWindow, SeriesStepsThroughTheWindowOldestFirst) {
  FakeClock clock;  // at the start of a 10-second slot
  directory::TrafficWindow w;
  const auto report = [&](const char* version, int ok, int failed) {
    model::TrafficByVersion t;
    for (int i = 0; i < ok; ++i) t["api"][version].observe(CodeClass::c2xx, 4);
    for (int i = 0; i < failed; ++i) t["api"][version].observe(CodeClass::c5xx, 4);
    w.add("web-1", model::rows_of(t), 5s, clock.now());
  };
  report("1", 10, 0);  // covers the 5 s before it
  clock.advance(25s);
  report("1", 20, 5);
  report("2", 4, 0);
  clock.advance(5s);
  directory::TrafficSeriesQuery q;
  q.window = 1min;
  q.step = 25s;  // whole slots: 20 s
  auto s = w.series(q, clock.now());
  EXPECT_EQ(s.steps, 3u);  // [-20 s, 0), [0, 20 s), [20 s, now = 30 s)
  EXPECT_DOUBLE_EQ(s.step_seconds, 20);
  EXPECT_DOUBLE_EQ(s.first_ago_seconds, 50);
  ASSERT_EQ(s.services.size(), 1u);
  ASSERT_EQ(s.services[0].versions.size(), 2u);
  const auto& one = s.services[0].versions[0].steps;
  ASSERT_EQ(one.size(), 3u);
  EXPECT_EQ(one[0].counts.total(), 0u);
  EXPECT_DOUBLE_EQ(one[0].seconds, 5);  // from the first report's start
  EXPECT_DOUBLE_EQ(one[1].rps(), 0.5);  // 10 over 20 s
  EXPECT_DOUBLE_EQ(one[2].rps(), 2.5);  // 25 over the 10 s so far
  EXPECT_DOUBLE_EQ(one[2].error_ratio(), 0.2);
  EXPECT_EQ(s.services[0].versions[1].version, "2");
  EXPECT_DOUBLE_EQ(s.services[0].versions[1].steps[2].rps(), 0.4);
  q.service = "other";
  EXPECT_TRUE(w.series(q, clock.now()).services.empty());
  clock.advance(11min);
  EXPECT_TRUE(w.series({}, clock.now()).services.empty());  // aged out
}

// `reporting` is read from each consumer's last report of a version, not from its slots; it must
// still follow the window asked for.
TEST(TrafficWindow, CountsWhoReportedEachVersionOverTheWindowAsked) {
  FakeClock clock;
  directory::TrafficWindow w;
  model::TrafficByVersion old_only, both, idle;
  old_only["api"]["1"].observe(CodeClass::c2xx, 4);
  old_only["legacy"]["1"].observe(CodeClass::c2xx, 4);
  both["api"]["1"].observe(CodeClass::c2xx, 4);
  both["api"]["2"].observe(CodeClass::c5xx, 40);
  idle["api"]["3"];  // routed, no requests: not a version anyone reported
  w.add("web-1", model::rows_of(old_only), 5s, clock.now());
  clock.advance(3min);
  w.add("web-2", model::rows_of(both), 5s, clock.now());
  w.add("web-3", model::rows_of(idle), 5s, clock.now());

  auto reporting = [&](Duration window) {
    directory::TrafficQuery q{window, {}, {}, false};
    std::map<std::string, std::size_t> out;
    const auto services = w.query(q, clock.now());
    for (const auto& v : services.at(0).versions) out[v.version] = v.reporting;
    return out;
  };
  EXPECT_EQ(reporting(1min), (std::map<std::string, std::size_t>{{"1", 1}, {"2", 1}}));
  EXPECT_EQ(reporting(10min), (std::map<std::string, std::size_t>{{"1", 2}, {"2", 1}}));
  EXPECT_EQ(w.reporting(1min, clock.now()), 1u);
  EXPECT_EQ(w.reporting(10min, clock.now()), 2u);
  EXPECT_EQ(w.consumer_series(), 4u);
  // The same figures with each consumer's share.
  directory::TrafficQuery api{10min, "api", {}, true};
  const auto shares = w.query(api, clock.now()).at(0).versions;
  ASSERT_EQ(shares.size(), 2u);
  EXPECT_EQ(shares[0].consumers.size(), 2u);
  EXPECT_EQ(shares[0].reporting, 2u);
  EXPECT_EQ(shares[1].consumers.at("web-2").counts.requests[3], 1u);

  // web-1's minute leaves the window; legacy, which only it reported, goes with it and its id
  // is given to the next new version, which web-1's share must not show.
  clock.advance(8min);
  model::TrafficByVersion fresh;
  fresh["billing"]["9"].observe(CodeClass::c2xx, 4);
  w.add("web-2", model::rows_of(fresh), 5s, clock.now());
  directory::TrafficQuery web1{10min, {}, "web-1", true};
  EXPECT_TRUE(w.query(web1, clock.now()).empty());
  directory::TrafficQuery web2{10min, {}, "web-2", true};
  const auto mine = w.query(web2, clock.now());
  ASSERT_EQ(mine.size(), 2u);  // api and billing
  EXPECT_EQ(mine[1].service, "billing");
  EXPECT_EQ(mine[1].versions.at(0).merged.counts.total(), 1u);
  EXPECT_EQ(w.reporting(10min, clock.now()), 1u);
}

}  // namespace
}  // namespace dstack
