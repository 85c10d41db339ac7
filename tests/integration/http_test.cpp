// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 behaviour clients rely on: pipelined requests answered in order (the server batches
// their answers into one write), keep-alive for HTTP/1.0 on request, and a bad request in a
// pipeline answered after the good ones before it.
#include <gtest/gtest.h>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

class Http : public ::testing::Test {
 protected:
  void SetUp() override { d_.start(); }

  // Sends `bytes` at once and reads until the server closes (the last request says close).
  std::string exchange(const std::string& bytes) {
    Conn c = Conn::connect(d_.port());
    EXPECT_TRUE(c.send(bytes));
    return c.read_all(5s);
  }

  Directory d_;
};

// The status lines in `raw`, in order.
std::vector<int> statuses(const std::string& raw) {
  std::vector<int> out;
  for (auto at = raw.find("HTTP/1."); at != std::string::npos; at = raw.find("HTTP/1.", at + 1))
    out.push_back(std::stoi(raw.substr(at + 9, 3)));
  return out;
}

TEST_F(Http, PipelinedRequestsAreAnsweredInOrder) {
  auto lease = d_.grant(60);
  std::string keepalive = "PUT /v1/leases/" + lease + " HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string missing = "PUT /v1/leases/0000000000000000 HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string last = "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string bytes;
  for (int i = 0; i < 50; ++i) bytes += i % 10 == 9 ? missing : keepalive;
  auto raw = exchange(bytes + last);
  auto got = statuses(raw);
  ASSERT_EQ(got.size(), 51u) << raw.substr(0, 400);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[i], i % 10 == 9 ? 404 : 200) << "answer " << i;
  EXPECT_EQ(got[50], 200);
  EXPECT_NE(raw.find("\"status\":\"ok\""), std::string::npos);
  EXPECT_EQ(d_.metric("dstack_directory_keepalives_total"), 45);
}

TEST_F(Http, Http10KeepAliveIsHonouredAndSaidSo) {
  Conn c = Conn::connect(d_.port());
  ASSERT_TRUE(c.send("GET /v1/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  bool eof = false;
  std::string first;
  ASSERT_TRUE(poll_until(5s, [&] {
    first += c.read_some(100ms, eof);
    return first.find("\"status\"") != std::string::npos || eof;
  }));
  EXPECT_EQ(first.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << first;
  EXPECT_NE(first.find("Connection: keep-alive\r\n"), std::string::npos) << first;
  EXPECT_FALSE(eof);
  // The same connection serves a second request.
  ASSERT_TRUE(c.send("GET /v1/health HTTP/1.0\r\n\r\n"));
  auto second = c.read_all(5s);
  EXPECT_EQ(second.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << second;
  EXPECT_NE(second.find("Connection: close\r\n"), std::string::npos) << second;
}

// A HEAD answer carries no body, or the client would read it as the next answer.
TEST_F(Http, HeadAnswersCarryNoBody) {
  auto raw = exchange(
      "HEAD /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto got = statuses(raw);
  ASSERT_EQ(got.size(), 2u) << raw;
  EXPECT_EQ(got[0], 405);
  EXPECT_EQ(got[1], 200);
  auto second = raw.find("HTTP/1.1", 1);
  EXPECT_EQ(raw.rfind("\r\n\r\n", second), second - 4) << "the HEAD answer had a body: " << raw;
}

TEST_F(Http, AMalformedRequestInAPipelineComesAfterTheAnswersBeforeIt) {
  auto raw = exchange("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n");
  auto got = statuses(raw);
  ASSERT_EQ(got.size(), 2u) << raw;
  EXPECT_EQ(got[0], 200);
  EXPECT_EQ(got[1], 400);
}

}  // namespace
}  // namespace dstack::test
