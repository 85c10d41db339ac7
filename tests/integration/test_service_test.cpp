// SPDX-License-Identifier: Apache-2.0
// The test service itself: every mode does to a plain client what the watson tests rely on.
#include "test_service.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace dstack::test {
namespace {

using Mode = TestService::Mode;

std::string get_request(const std::string& target, const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
}

TEST(TestService, OkAndFailAnswerAndCountAndRecordThePath) {
  TestService s;
  auto r = http(s.port(), "GET", "/emitter/liveness_check");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  s.set_mode(Mode::fail);
  r = http(s.port(), "GET", "/x?y=1");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "down");
  EXPECT_EQ(s.requests(), 2u);
  EXPECT_EQ(s.paths(), (std::vector<std::string>{"/emitter/liveness_check", "/x?y=1"}));
  EXPECT_EQ(s.last_path(), "/x?y=1");
}

TEST(TestService, HeadHasNoBody) {
  TestService s;
  auto c = Conn::connect(s.port());
  ASSERT_TRUE(c.send(get_request("/", "HEAD")));
  auto raw = c.read_all(5s);
  EXPECT_EQ(raw.substr(raw.size() - 4), "\r\n\r\n") << raw;
  EXPECT_EQ(parse_response(raw).header("content-length"), "2");
}

TEST(TestService, HangReadsButNeverAnswersAndLetsGoWhenTheClientDoes) {
  TestService s(Mode::hang);
  auto r = http(s.port(), "GET", "/h", "", {}, 300ms);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(s.requests(), 1u);  // it did read the request
  EXPECT_TRUE(poll_until(2s, [&] { return s.open_connections() == 0; }));
}

TEST(TestService, CloseEndsWithoutAByte) {
  TestService s(Mode::close);
  auto c = Conn::connect(s.port());
  ASSERT_TRUE(c.send(get_request("/")));
  bool eof = false;
  std::string got;
  const auto deadline = Clock::now() + 2s;
  while (!eof && Clock::now() < deadline) got += c.read_some(deadline - Clock::now(), eof);
  EXPECT_TRUE(eof);
  EXPECT_EQ(got, "");
  EXPECT_EQ(s.requests(), 1u);
}

TEST(TestService, ResetSendsRst) {
  TestService s(Mode::reset);
  auto c = Conn::connect(s.port());
  ASSERT_TRUE(c.send(get_request("/")));
  // poll, then recv by hand: the socket error itself must be visible, not just "closed".
  pollfd p{c.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  char buf[16];
  const ssize_t n = ::recv(c.fd(), buf, sizeof buf, 0);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ECONNRESET);
}

TEST(TestService, SlowAnswersAfterTheDelay) {
  TestService s(Mode::slow);
  s.set_delay(400ms);
  auto c = Conn::connect(s.port());
  ASSERT_TRUE(c.send(get_request("/")));
  bool eof = false;
  EXPECT_EQ(c.read_some(100ms, eof), "");  // not yet
  EXPECT_FALSE(eof);
  auto r = parse_response(c.read_all(3s));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
}

TEST(TestService, BigStreamsAHundredMegabytesAndStopsWhenThePeerLeaves) {
  TestService s(Mode::big);
  auto c = Conn::connect(s.port());
  ASSERT_TRUE(c.send(get_request("/")));
  std::string got;
  bool eof = false;
  const auto deadline = Clock::now() + 5s;
  while (got.size() < (1u << 20) && !eof && Clock::now() < deadline)
    got += c.read_some(deadline - Clock::now(), eof);
  ASSERT_GE(got.size(), 1u << 20);
  EXPECT_EQ(parse_response(got).header("content-length"), std::to_string(TestService::kBigBody));
  c.close();
  EXPECT_TRUE(poll_until(3s, [&] { return s.open_connections() == 0; }));
  EXPECT_LT(s.big_bytes_sent(), TestService::kBigBody);  // it stopped streaming
}

TEST(TestService, StoppedRefusesAndStartsAgainOnTheSamePort) {
  TestService s;
  const auto port = s.port();
  auto hanging = Conn::connect(port);  // a connection open when the service dies is dropped
  ASSERT_TRUE(hanging.ok());
  s.set_mode(Mode::stopped);
  EXPECT_FALSE(Conn::connect(port, 1s).ok());
  EXPECT_TRUE(hanging.closed_by_peer(2s));
  s.set_mode(Mode::ok);
  EXPECT_EQ(s.port(), port);
  EXPECT_EQ(http(port, "GET", "/").status, 200);
}

TEST(TestService, StartsStoppedWhenAsked) {
  TestService s(Mode::stopped);
  EXPECT_FALSE(Conn::connect(s.port(), 1s).ok());
  s.set_mode(Mode::fail);
  EXPECT_EQ(http(s.port(), "GET", "/").status, 503);
}

TEST(TestService, ManyHangingConnectionsDoNotStopOthersBeingServed) {
  TestService s(Mode::hang);
  std::vector<Conn> held;
  for (int i = 0; i < 300; ++i) {
    held.push_back(Conn::connect(s.port()));
    ASSERT_TRUE(held.back().send(get_request("/held")));
  }
  ASSERT_TRUE(poll_until(5s, [&] { return s.requests() == 300; }));
  s.set_mode(Mode::ok);
  EXPECT_EQ(http(s.port(), "GET", "/").status, 200);
  held.clear();
  EXPECT_TRUE(poll_until(5s, [&] { return s.open_connections() == 0; }));
}

TEST(TestService, DestructorReturnsWithConnectionsStillOpen) {
  std::vector<Conn> held;
  {
    TestService s(Mode::big);
    for (int i = 0; i < 3; ++i) {
      held.push_back(Conn::connect(s.port()));
      ASSERT_TRUE(held.back().send(get_request("/")));
    }
    ASSERT_TRUE(poll_until(5s, [&] { return s.requests() == 3; }));
  }  // the ctest timeout catches a destructor that hangs
  for (auto& c : held) EXPECT_TRUE(c.closed_by_peer(10s));
}

}  // namespace
}  // namespace dstack::test
