// SPDX-License-Identifier: Apache-2.0
// Traffic insight end to end (docs/insight.md): requests sent through the real HAProxy by a real
// client (h2load) are counted exactly in sherlock's metrics per version and instance, reach the
// directory's /v1/traffic through the consumer's reports, with percentiles within a bucket of
// what the client measured; a dead sherlock leaves the window; bad reports change nothing; and
// dw traffic, dw consumers, dw top and the watch stream's traffic events show it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/model/traffic.hpp"
#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct SherlockInsight : SherlockTest {
  void put_version(const std::string& service, const std::string& id, const TestService& s,
                   const std::string& version) {
    directory.put_instance(service, id, lease,
                           json{{"url", s.url("/" + service)}, {"version", version}});
  }

  // sherlock, reporting every second as `consumer`.
  void start_reporting(const std::string& consumer) {
    auto o = options();
    o.extra_config = "consumer: " + consumer + "\nreport_interval: 1s\n";
    start(o);
  }

  // The directory's /v1/traffic once `done` holds for it (within 15 s), else its last answer.
  json traffic_when(const std::string& query, const std::function<bool(const json&)>& done) {
    json t;
    poll_until(15s, [&] {
      t = json::parse(directory.get("/v1/traffic" + query).body, nullptr, false);
      return t.is_object() && done(t);
    });
    return t;
  }

  // One version's entry, or null.
  static json version_of(const json& traffic, const std::string& version) {
    if (!traffic.is_object() || traffic["services"].empty()) return nullptr;
    for (const auto& v : traffic["services"][0]["versions"])
      if (v["version"] == version) return v;
    return nullptr;
  }

  double requests_metric(const std::string& service, const std::string& version,
                         const std::string& instance, const std::string& code) const {
    return sherlock->metric("dstack_sherlock_requests_total{service=\"" + service +
                            "\",version=\"" + version + "\",instance=\"" + instance + "\",code=\"" +
                            code + "\"}");
  }

  struct DwRun {
    std::optional<int> code;
    std::string out, err;
  };
  DwRun dw(const std::vector<std::string>& args, Clock::duration timeout = 10s) {
    std::vector<std::string> argv{DSTACK_DW_BIN, "-d", directory_url()};
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, logs.path());
    auto code = p.wait(timeout);
    return {code, p.stdout_text(), p.stderr_text()};
  }

  TempDir logs;
};

// h2load's "status codes: 90017 2xx, 0 3xx, 0 4xx, 9983 5xx" as {2xx, 3xx, 4xx, 5xx}.
std::array<long, 4> h2load_status_codes(const std::string& out) {
  std::smatch m;
  static const std::regex line("status codes: (\\d+) 2xx, (\\d+) 3xx, (\\d+) 4xx, (\\d+) 5xx");
  if (!std::regex_search(out, m, line)) return {-1, -1, -1, -1};
  return {std::stol(m[1]), std::stol(m[2]), std::stol(m[3]), std::stol(m[4])};
}

TEST_F(SherlockInsight, EveryRequestAClientSentIsCountedByVersionAndInstance) {
  TestService a, b(TestService::Mode::fail);  // version 1 answers 200, version 2 503
  put_version("emitter", "a", a, "1");
  put_version("emitter", "b", b, "2");
  ASSERT_EQ(
      directory
          .put("/v1/routes/emitter",
               json{{"targets",
                     {{{"version", "1"}, {"weight", 90}}, {{"version", "2"}, {"weight", 10}}}}})
          .status,
      200);
  start_reporting("web-7");
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2, 10s, true));

  constexpr long kRequests = 100000;
  Process h2load({"/usr/bin/h2load", "--h1", "-n", std::to_string(kRequests), "-c", "8",
                  "http://127.0.0.1:" + std::to_string(sherlock->proxy_port()) + "/emitter/"},
                 logs.path());
  ASSERT_EQ(h2load.wait(120s), 0) << "h2load (scripts/install-deps installs it): "
                                  << h2load.stderr_text();
  const auto codes = h2load_status_codes(h2load.stdout_text());
  ASSERT_EQ(codes[0] + codes[3], kRequests) << h2load.stdout_text();
  ASSERT_GT(codes[3], 0);
  // What each instance saw is what the client got, and the split is the route's.
  EXPECT_EQ(static_cast<long>(a.requests()), codes[0]);
  EXPECT_EQ(static_cast<long>(b.requests()), codes[3]);

  // sherlock's metrics: exactly those, per version and instance.
  EXPECT_TRUE(poll_until(10s,
                         [&] {
                           return requests_metric("emitter", "1", "a", "2xx") == codes[0] &&
                                  requests_metric("emitter", "2", "b", "5xx") == codes[3];
                         }))
      << requests_metric("emitter", "1", "a", "2xx") << " 2xx, "
      << requests_metric("emitter", "2", "b", "5xx") << " 5xx";
  EXPECT_EQ(requests_metric("emitter", "1", "a", "5xx"), 0);
  EXPECT_EQ(requests_metric("emitter", "2", "b", "2xx"), 0);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_request_duration_seconds_count{service=\"emitter\","
                             "version=\"1\"}"),
            codes[0]);

  // The directory's view after the next reports: the same, merged and for this consumer.
  const json t = traffic_when("?service=emitter", [&](const json& t) {
    const json v1 = version_of(t, "1"), v2 = version_of(t, "2");
    return !v1.is_null() && !v2.is_null() && v1["requests"] == codes[0] &&
           v2["requests"] == codes[3];
  });
  const json v1 = version_of(t, "1"), v2 = version_of(t, "2");
  ASSERT_FALSE(v1.is_null() || v2.is_null()) << t.dump();
  EXPECT_EQ(v1["codes"]["2xx"], codes[0]) << t.dump();
  EXPECT_EQ(v2["codes"]["5xx"], codes[3]) << t.dump();
  EXPECT_EQ(v2["error_ratio"], 1);
  EXPECT_EQ(v1["consumers"][0]["consumer"], "web-7");
  EXPECT_EQ(v1["consumers"][0]["requests"], codes[0]);
  EXPECT_EQ(v2["consumers"][0]["requests"], codes[3]);

  // Step by step, for the console's charts: 10 s steps over the 10-minute window, the requests
  // in the newest steps, version 2's all errors.
  const json s = json::parse(directory.get("/v1/traffic/series?service=emitter").body);
  EXPECT_EQ(s["step_seconds"], 10);
  EXPECT_EQ(s["steps"], 60);
  ASSERT_EQ(s["services"].size(), 1u) << s.dump();
  const json& versions = s["services"][0]["versions"];
  ASSERT_EQ(versions.size(), 2u) << s.dump();
  EXPECT_EQ(versions[1]["version"], "2");
  const json& rps = versions[1]["rps"];
  ASSERT_EQ(rps.size(), 60u);
  EXPECT_TRUE(rps[0].is_null()) << "a step before the first report";
  double seen = 0;
  for (std::size_t i = 0; i < 60; ++i)
    if (!rps[i].is_null() && rps[i].get<double>() > 0) {
      seen += rps[i].get<double>();
      EXPECT_EQ(versions[1]["error_ratio"][i], 1) << s.dump();
    }
  EXPECT_GT(seen, 0) << s.dump();
}

// Index of the duration bucket a time in ms falls in.
std::size_t bucket_of(double ms) {
  return model::duration_bucket(static_cast<std::int64_t>(std::ceil(ms)));
}

TEST_F(SherlockInsight, PercentilesAreWithinOneBucketOfWhatTheClientMeasured) {
  TestService s;
  put_version("slowpoke", "s", s, "1");
  start_reporting("web-8");
  ASSERT_TRUE(sherlock->wait_applied("slowpoke", 1));
  // 180 quick answers, then 20 that take 120 ms: p50 is quick, p99 slow.
  std::vector<double> measured;
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      const auto started = std::chrono::steady_clock::now();
      ASSERT_EQ(sherlock->get("/slowpoke/").status, 200);
      measured.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
    }
  };
  send(180);
  s.set_delay(120ms);
  s.set_mode(TestService::Mode::slow);
  send(20);
  ASSERT_EQ(measured.size(), 200u);
  std::sort(measured.begin(), measured.end());
  auto nearest_rank = [&](double q) {
    return measured[static_cast<std::size_t>(std::ceil(q * measured.size())) - 1];
  };
  const json t = traffic_when("?service=slowpoke", [](const json& t) {
    const json v = version_of(t, "1");
    return !v.is_null() && v["requests"] == 200;
  });
  const json v = version_of(t, "1");
  ASSERT_FALSE(v.is_null()) << t.dump();
  for (auto [q, key] : {std::pair{0.5, "p50_ms"}, std::pair{0.99, "p99_ms"}}) {
    const double client = nearest_rank(q), reported = v[key].get<double>();
    const auto distance =
        std::abs(static_cast<long>(bucket_of(client)) - static_cast<long>(bucket_of(reported)));
    EXPECT_LE(distance, 1) << key << ": client " << client << " ms, reported " << reported << " ms";
  }
  EXPECT_GE(v["p99_ms"].get<double>(), 100);  // the slow answers are seen as slow
  EXPECT_LT(v["p50_ms"].get<double>(), 20);
}

TEST_F(SherlockInsight, ADeadSherlockLeavesTheWindowWhenItsLeaseEnds) {
  TestService a;
  put_version("emitter", "a", a, "1");
  start_reporting("web-9");
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  json t = traffic_when("?service=emitter&consumer=web-9", [](const json& t) {
    const json v = version_of(t, "1");
    return !v.is_null() && v["requests"] == 10;
  });
  ASSERT_EQ(version_of(t, "1")["requests"], 10) << t.dump();

  sherlock->kill9();  // no last report, no revoke: the lease (10 s) has to run out
  EXPECT_TRUE(poll_until(15s, [&] {
    return json::parse(directory.get("/v1/consumers").body)["consumers"].empty();
  })) << directory.get("/v1/consumers").body;
  t = json::parse(directory.get("/v1/traffic?service=emitter").body);
  const json v = version_of(t, "1");
  ASSERT_FALSE(v.is_null()) << t.dump();
  EXPECT_EQ(v["requests"], 10);  // they happened: the merged figures keep them
  EXPECT_TRUE(v["consumers"].empty()) << t.dump();
  EXPECT_TRUE(json::parse(directory.get("/v1/traffic?consumer=web-9").body)["services"].empty());

  // Its reports are refused from now on.
  const auto late =
      directory.put("/v1/consumers/web-9/traffic", json{{"interval_ms", 1000},
                                                        {"buckets_ms", model::kDurationBoundsMs},
                                                        {"services", json::object()}});
  EXPECT_EQ(late.status, 404);
  EXPECT_THAT(late.body, HasSubstr("consumer_not_found"));
}

TEST_F(SherlockInsight, BadReportsAreRefusedAndChangeNothing) {
  const std::string probe_lease = directory.grant(60, "probe");
  ASSERT_EQ(directory
                .put("/v1/consumers/probe",
                     json{{"lease", probe_lease}, {"host", "probe"}, {"services", {"emitter"}}})
                .status,
            200);
  auto report = [](json requests, json counts) {
    return json{
        {"interval_ms", 5000},
        {"buckets_ms", model::kDurationBoundsMs},
        {"services",
         {{"emitter",
           {{"1", {{"requests", requests}, {"duration_ms", {{"counts", counts}, {"sum", 9}}}}}}}}}};
  };
  ASSERT_EQ(directory.put("/v1/consumers/probe/traffic", report({{"2xx", 5}}, {0, 5})).status, 200);
  auto probe_requests = [&] {
    return version_of(json::parse(directory.get("/v1/traffic?service=emitter").body),
                      "1")["requests"];
  };
  ASSERT_EQ(probe_requests(), 5);

  json wrong_buckets = report({{"2xx", 5}}, {0, 5});
  wrong_buckets["buckets_ms"] = {1, 10, 100};
  const std::pair<std::string, std::string> bad[] = {
      {"{\"interval_ms\":", "body"},
      {wrong_buckets.dump(), "buckets_ms"},
      {report({{"2xx", 5}}, {0, 4}).dump(), "add up"},
      {report({{"2xx", -1}}, {0}).dump(), "2xx"},
      {report({{"7xx", 1}}, {1}).dump(), "7xx"},
      {json{{"interval_ms", 0}, {"buckets_ms", model::kDurationBoundsMs}, {"services", {}}}.dump(),
       "interval_ms"},
  };
  for (const auto& [body, names] : bad) {
    const auto r = directory.put("/v1/consumers/probe/traffic", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_THAT(r.body, HasSubstr(names)) << body;
  }
  // Bigger than the directory takes (limits.max_body, 1 MiB).
  const auto huge = directory.put("/v1/consumers/probe/traffic",
                                  "{\"pad\":\"" + std::string(2 << 20, 'x') + "\"}");
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(probe_requests(), 5);

  // Series queries out of bounds are refused naming the parameter, the value and the bounds.
  for (const auto& [query, code] :
       std::vector<std::pair<std::string, std::string>>{{"window=2h", "invalid_window"},
                                                        {"window=1s", "invalid_window"},
                                                        {"step=1s", "invalid_step"},
                                                        {"window=1m&step=2m", "invalid_step"},
                                                        {"step=often", "invalid_step"}}) {
    const auto r = directory.get("/v1/traffic/series?" + query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(body_json(r)["error"], code) << query << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr(query.substr(query.rfind('=') + 1))) << r.body;
  }
}

TEST_F(SherlockInsight, DwShowsTrafficConsumersAndTopAndTheWatchStreamCarriesIt) {
  TestService a, b;
  put_version("emitter", "a", a, "1");
  put_version("emitter", "b", b, "2");
  start_reporting("web-5");
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  for (int i = 0; i < 40; ++i) ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  const json t = traffic_when("?service=emitter", [](const json& t) {
    const json v1 = version_of(t, "1"), v2 = version_of(t, "2");
    return !v1.is_null() && !v2.is_null() &&
           v1["requests"].get<int>() + v2["requests"].get<int>() == 40;
  });
  const auto n1 = version_of(t, "1")["requests"].get<int>();
  const auto n2 = version_of(t, "2")["requests"].get<int>();
  ASSERT_EQ(n1 + n2, 40) << t.dump();

  // A watch stream that asked for traffic gets it; one that did not, does not.
  auto open_watch = [&](const std::string& query) {
    Conn c = Conn::connect(directory.port());
    EXPECT_TRUE(c.send("GET /v1/watch" + query + " HTTP/1.1\r\nHost: d\r\n\r\n"));
    return c;
  };
  Conn traffic_watch = open_watch("?traffic=1"), plain_watch = open_watch("");
  std::string seen;
  bool eof = false;
  EXPECT_TRUE(poll_until(5s, [&] {
    seen += traffic_watch.read_some(100ms, eof);
    return seen.find("\"type\":\"traffic\"") != std::string::npos &&
           seen.find("\"service\":\"emitter\"") != std::string::npos;
  })) << seen;
  const std::string plain = plain_watch.read_some(1500ms, eof);
  EXPECT_EQ(plain.find("\"type\":\"traffic\""), std::string::npos) << plain;
  EXPECT_EQ(directory.get("/v1/watch?traffic=yes").status, 400);

  auto run = dw({"traffic", "emitter"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("emitter, last 10m\nVERSION  SHARE"));
  EXPECT_THAT(run.out, testing::ContainsRegex("\n1 +[0-9.]+% .* " + std::to_string(n1) + " +" +
                                              std::to_string(n1) + " +0 +0 +0 +0\n"));
  EXPECT_THAT(run.out, testing::ContainsRegex("\nweb-5 +2 "));
  run = dw({"--json", "traffic", "emitter", "--window", "5m"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json::parse(run.out)["window"], "5m");
  run = dw({"traffic", "emitter", "--window", "2h"});  // longer than the directory keeps
  EXPECT_EQ(run.code, 65);
  EXPECT_THAT(run.err, HasSubstr("window"));

  run = dw({"consumers"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, testing::ContainsRegex("\nweb-5 +[^ ]+ +127\\.0\\.0\\.1:" +
                                              std::to_string(sherlock->api_port()) +
                                              " +[0-9]+s ago +emitter\n"));

  run = dw({"top", "--once"});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("1 service, 2 versions, 1 consumer"));
  EXPECT_THAT(run.out, testing::ContainsRegex("\nemitter +2 "));

  // Live, on a terminal: the table appears, a key re-sorts, q quits and gives the screen back.
  Process session({"/usr/bin/python3",
                   (std::filesystem::path(__FILE__).parent_path() / "pty_session.py").string(),
                   "15", "REQUESTS", "pq", DSTACK_DW_BIN, "-d", directory_url(), "top"},
                  logs.path());
  ASSERT_EQ(session.wait(20s), 0) << session.stderr_text();
  const json screen = json::parse(session.stdout_text());
  EXPECT_EQ(screen["code"], 0) << screen.dump();
  const std::string shown = screen["screen"];
  EXPECT_THAT(shown, HasSubstr("\x1b[?1049h"));  // the alternate screen...
  EXPECT_THAT(shown, HasSubstr("sorted by p99"));
  EXPECT_THAT(shown, testing::EndsWith("\x1b[?25h\x1b[?1049l"));  // ...given back at the end
}

}  // namespace
}  // namespace dstack::test
