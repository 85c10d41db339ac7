// SPDX-License-Identifier: Apache-2.0
// The access log's reading of HAProxy's per-request lines and the JSON it writes
// (sherlock/request_log.hpp, docs/sherlock.md#access-log). The lines are the shape HAProxy 2.6
// sent for kLogFormat when it was tried against the real binary.
#include "sherlock/request_log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace dstack::sherlock {
namespace {

using nlohmann::json;

constexpr const char* kServed =
    "1796315220\t973\tbe_api\ta1\t200\t0\t0\t1\t3\t4\t73\tGET\tclient-chosen-42\t0\t----\n";
constexpr const char* kUnknownService =
    "1796315220\t990\tfe_proxy\t<NOSRV>\t404\t0\t-1\t-1\t-1\t0\t120\tPOST\t"
    "5e3c5a1e-1f0a-4c7e-9a5b-2b1f3c4d5e6f\t0\tLR--\n";

TEST(RequestLog, ReadsEveryFieldOfAServedRequest) {
  const auto r = parse_request_log(kServed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accepted_ms, 1796315220973u);
  EXPECT_EQ(r->backend, "be_api");
  EXPECT_EQ(r->server, "a1");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->connect_ms, 1);
  EXPECT_EQ(r->response_ms, 3);
  EXPECT_EQ(r->total_ms, 4);
  EXPECT_EQ(r->bytes, 73u);
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->request_id, "client-chosen-42");
  EXPECT_EQ(r->termination, "----");
  EXPECT_EQ(service_of(*r), "api");

  const auto j = json::parse(access_log_line(*r, "web-7", "2"));
  EXPECT_EQ(j, json::parse(R"({"time":"2026-12-03T16:27:00.973Z","consumer":"web-7",
    "service":"api","version":"2","instance":"a1","status":200,"method":"GET",
    "request_id":"client-chosen-42","timings":{"request_ms":0,"queue_ms":0,"connect_ms":1,
    "response_ms":3,"total_ms":4},"bytes":73,"retries":0,"termination":"----"})"));
  // The time comes first, as a reader of the file expects.
  EXPECT_THAT(access_log_line(*r, "", ""), ::testing::StartsWith("{\"time\":"));
}

TEST(RequestLog, AnUnknownServiceHasNoServiceVersionOrInstance) {
  const auto r = parse_request_log(kUnknownService);
  ASSERT_TRUE(r);
  EXPECT_EQ(service_of(*r), "");
  const auto j = json::parse(access_log_line(*r, "", "ignored"));
  EXPECT_TRUE(j["service"].is_null());
  EXPECT_TRUE(j["version"].is_null());
  EXPECT_TRUE(j["instance"].is_null());
  EXPECT_TRUE(j["consumer"].is_null());
  EXPECT_TRUE(j["timings"]["connect_ms"].is_null());  // never reached: -1
  EXPECT_EQ(j["termination"], "LR--");
}

// A client that left before any answer (here while queued: CQ) is logged with no status.
TEST(RequestLog, AClientThatLeftFirstHasNoStatus) {
  const auto r = parse_request_log(
      "1796315221\t001\tbe_api\ta2\t-1\t0\t2000\t-1\t-1\t2001\t0\tGET\tid-1\t0\tCQ--");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, -1);
  const auto j = json::parse(access_log_line(*r, "", "1"));
  EXPECT_TRUE(j["status"].is_null());
  EXPECT_EQ(j["timings"]["queue_ms"], 2000);
  EXPECT_EQ(j["termination"], "CQ--");
  // A stream open for 40 days: more ms than an int holds.
  const auto long_lived = parse_request_log(
      "1796315221\t001\tbe_api\ta2\t101\t0\t0\t0\t1\t3456000000\t9\tGET\tid-2\t0\t----");
  ASSERT_TRUE(long_lived);
  EXPECT_EQ(long_lived->total_ms, 3456000000);
}

TEST(RequestLog, RetriesAndAMissingIdAreRead) {
  const auto r = parse_request_log(
      "1796315221\t001\tbe_api\ta2\t503\t1\t0\t0\t-1\t1000\t212\tGET\t-\t+2\tsH--");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->retries, 2);  // '+': redispatched
  EXPECT_EQ(r->request_id, "");
  EXPECT_EQ(r->accepted_ms % 1000, 1u);
}

// HAProxy's own notices share the socket; anything not exactly the format is refused whole.
TEST(RequestLog, RefusesWhatIsNotOneRequestLine) {
  std::string served = kServed;
  for (const std::string& bad : {
           std::string("<133>Server be_api/a1 is DOWN, reason: Layer4 connection problem\n"),
           std::string(""), served.substr(0, served.rfind('\t')),           // a field short
           served.substr(0, served.size() - 1) + "\textra\n",               // a field more
           std::string(served).replace(0, 10, "17963x5220"),                // not a number
           std::string(served).replace(11, 3, "97"),                        // ms not 3 digits
           std::string(served).replace(served.find("GET"), 3, "G T"),       // a space
           std::string(served).replace(served.find("\t200"), 4, "\t-2"),    // status below -1
           std::string(served).replace(served.find("\t3\t"), 3, "\t-2\t"),  // timer below -1
           std::string(served).replace(served.find("a1"), 2, "a\x01"),      // a control byte
       }) {
    EXPECT_FALSE(parse_request_log(bad)) << bad;
  }
}

// Without the access log HAProxy writes only what counting needs (kCountFormat).
TEST(RequestLog, ReadsTheCountingFormat) {
  const auto r = parse_request_log("be_api\ta1\t503\t0\t0\t1\t-1\t1000\tsH--\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->backend, "be_api");
  EXPECT_EQ(r->server, "a1");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->connect_ms, 1);
  EXPECT_EQ(r->response_ms, -1);
  EXPECT_EQ(r->total_ms, 1000);
  EXPECT_EQ(r->termination, "sH--");
  EXPECT_EQ(r->method, "");  // not in this format
  for (const std::string& bad : {
           std::string("be_api\ta1\t503\t0\t0\t1\t-1\t1000\n"),           // a field short
           std::string("be_api\ta1\t503\t0\t0\t1\t-1\t1000\tsH--\tx\n"),  // a field more
           std::string("be_api\ta1\t2000\t0\t0\t1\t-1\t1000\tsH--\n"),    // status
           std::string("be_api\ta 1\t503\t0\t0\t1\t-1\t1000\tsH--\n"),    // a space
           std::string("be_api\ta1\t503\t0\t0\t1\t-1\t1000\tsH--toolong\n"),
       })
    EXPECT_FALSE(parse_request_log(bad)) << bad;
}

TEST(RequestLog, ABackendThatIsNoServiceNameGivesNoService) {
  std::string line = kServed;
  line.replace(line.find("be_api"), 6, "be_API");
  const auto r = parse_request_log(line);
  ASSERT_TRUE(r);
  EXPECT_EQ(service_of(*r), "");
}

}  // namespace
}  // namespace dstack::sherlock
