// SPDX-License-Identifier: Apache-2.0
// watson's check runners against real things on loopback: an HttpServer, a listener that never
// answers, closed ports, and real programs. Each run is bounded by a deadline on the io_context.
#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/net/asio.hpp"
#include "common/net/http_server.hpp"
#include "harness.hpp"
#include "watson/check_runner.hpp"

namespace dstack::watson {
namespace {

using namespace std::chrono_literals;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

net::HttpResponse answer(const net::HttpRequest& req) {
  net::HttpResponse res;
  res.content_type = "text/plain";
  if (req.path == "/ok") {
    res.body = "all good";
  } else if (req.path == "/fail") {
    res.status = 503;
    res.body = "down";
  } else if (req.path == "/redirect") {
    res.status = 302;
    res.headers.emplace_back("Location", "/ok");
  } else if (req.path == "/post-only") {
    res.status = req.method == "POST" ? 204 : 405;
  } else if (req.path == "/ready") {
    res.body = "status: ready";
  } else if (req.path == "/big") {
    res.body.assign(100 << 10, 'x');
  } else {
    res.status = 404;
  }
  return res;
}

// Processes of group `pgid` that are not zombies; kill(-pgid, 0) would also count zombies that
// init has not reaped yet.
int live_in_group(pid_t pgid) {
  if (::kill(-pgid, 0) == -1 && errno == ESRCH) return 0;
  int live = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0, group = 0;
    rest >> state >> ppid >> group;
    if (group == pgid && state != 'Z') ++live;
  }
  return live;
}

struct Timed {
  CheckOutcome outcome;
  Clock::duration took{};
};

class WatsonChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.listen("127.0.0.1", 0);
    hang_.open(net::tcp::v4());
    hang_.bind({asio::ip::make_address("127.0.0.1"), 0});
    hang_.listen();
    accept_hanging();
  }
  void TearDown() override {
    server_.stop();
    // No check may leave a child behind, reaped or not.
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
  }

  // Accepts and keeps every connection open without ever answering.
  void accept_hanging() {
    hang_.async_accept([this](error_code ec, net::tcp::socket s) {
      if (ec) return;
      held_.push_back(std::move(s));
      accept_hanging();
    });
  }

  // Runs the checks concurrently; results in completion order of index.
  std::vector<Timed> run_all(std::vector<Check> checks, std::vector<std::size_t>* order = nullptr) {
    std::vector<std::optional<Timed>> results(checks.size());
    std::size_t left = checks.size();
    auto start = Clock::now();
    for (std::size_t i = 0; i < checks.size(); ++i) {
      asio::co_spawn(io_, run_check(checks[i]), [&, i](std::exception_ptr e, CheckOutcome outcome) {
        EXPECT_FALSE(e) << "run_check threw";
        results[i] = Timed{std::move(outcome), Clock::now() - start};
        if (order != nullptr) order->push_back(i);
        if (--left == 0) io_.stop();
      });
    }
    io_.restart();
    io_.run_for(10s);
    std::vector<Timed> out;
    for (auto& r : results) {
      EXPECT_TRUE(r.has_value()) << "a check did not complete within 10s";
      out.push_back(r.value_or(Timed{}));
    }
    return out;
  }
  Timed run(Check check) { return run_all({std::move(check)}).at(0); }

  Check http(const std::string& target, std::uint16_t port = 0) {
    Check c;
    c.kind = Check::Kind::http;
    c.http_host = "127.0.0.1";
    c.http_port = port != 0 ? port : server_.port();
    c.http_target = target;
    c.timeout = 1s;
    return c;
  }
  static Check tcp(const std::string& host, std::uint16_t port) {
    Check c;
    c.kind = Check::Kind::tcp;
    c.tcp_host = host;
    c.tcp_port = port;
    c.timeout = 1s;
    return c;
  }
  static Check exec(std::vector<std::string> argv, Duration timeout = 5s) {
    Check c;
    c.kind = Check::Kind::exec;
    c.argv = std::move(argv);
    c.timeout = timeout;
    return c;
  }
  std::uint16_t hang_port() const { return hang_.local_endpoint().port(); }

  asio::io_context io_;
  net::HttpServer server_{io_, net::ServerLimits{}, answer};
  net::tcp::acceptor hang_{io_};
  std::vector<net::tcp::socket> held_;
};

TEST_F(WatsonChecks, NoneIsPassing) {
  auto r = run(Check{});
  EXPECT_EQ(r.outcome.status, CheckStatus::passing);
}

TEST_F(WatsonChecks, Http200Passes) {
  auto r = run(http("/ok"));
  EXPECT_EQ(r.outcome.status, CheckStatus::passing);
  EXPECT_EQ(r.outcome.output, "HTTP 200\nall good");
}

TEST_F(WatsonChecks, Http503Fails) {
  auto r = run(http("/fail"));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_EQ(r.outcome.output, "HTTP 503, expected 2xx\ndown");
}

TEST_F(WatsonChecks, ExpectedStatusAndMethodAreUsed) {
  auto c = http("/post-only");
  c.expect_status = {204};
  EXPECT_EQ(run(c).outcome.output, "HTTP 405, expected 204");
  c.method = "POST";
  EXPECT_EQ(run(c).outcome, (CheckOutcome{CheckStatus::passing, "HTTP 204"}));
  c = http("/fail");
  c.expect_status = {200, 503};
  EXPECT_EQ(run(c).outcome, (CheckOutcome{CheckStatus::passing, "HTTP 503\ndown"}));
}

TEST_F(WatsonChecks, RedirectIsNotFollowed) {
  auto r = run(http("/redirect"));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_THAT(r.outcome.output, StartsWith("HTTP 302, expected 2xx (redirects are not followed)"));
}

TEST_F(WatsonChecks, ExpectedBodySubstring) {
  auto c = http("/ready");
  c.expect_body = "ready";
  EXPECT_EQ(run(c).outcome.status, CheckStatus::passing);
  c.expect_body = "steady";
  auto r = run(c);
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_EQ(r.outcome.output, "HTTP 200, body lacks \"steady\"\nstatus: ready");
}

TEST_F(WatsonChecks, HttpBodyOver64KiBFails) {
  auto r = run(http("/big"));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_EQ(r.outcome.output, "body over 64 KiB");
}

TEST_F(WatsonChecks, HttpConnectionRefused) {
  auto r = run(http("/ok", test::free_port()));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_EQ(r.outcome.output, "connection refused");
}

TEST_F(WatsonChecks, HttpThatNeverAnswersTimesOut) {
  auto r = run(http("/ok", hang_port()));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  EXPECT_EQ(r.outcome.output, "timed out after 1s");
  EXPECT_LT(r.took, 1500ms);
  EXPECT_EQ(held_.size(), 1U);
}

TEST_F(WatsonChecks, TcpOpenAndClosed) {
  auto open = run(tcp("127.0.0.1", server_.port()));
  EXPECT_EQ(open.outcome.status, CheckStatus::passing);
  EXPECT_EQ(open.outcome.output, "connected");
  auto closed = run(tcp("127.0.0.1", test::free_port()));
  EXPECT_EQ(closed.outcome.status, CheckStatus::critical);
  EXPECT_EQ(closed.outcome.output, "connection refused");
}

TEST_F(WatsonChecks, TcpResolvesNames) {
  auto r = run(tcp("localhost", hang_port()));
  EXPECT_EQ(r.outcome.status, CheckStatus::passing);
}

TEST_F(WatsonChecks, ExecExitCodes) {
  auto results =
      run_all({exec({"/bin/true"}), exec({"/bin/false"}),
               exec({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"}), exec({"true"})});
  EXPECT_EQ(results[0].outcome, (CheckOutcome{CheckStatus::passing, "exit 0"}));
  EXPECT_EQ(results[1].outcome, (CheckOutcome{CheckStatus::warning, "exit 1"}));
  EXPECT_EQ(results[2].outcome, (CheckOutcome{CheckStatus::critical, "exit 3\nhello\noops"}));
  EXPECT_EQ(results[3].outcome.status, CheckStatus::passing);  // found in $PATH
}

TEST_F(WatsonChecks, ExecStdinIsEmpty) {
  auto r = run(exec({"/bin/sh", "-c", "cat; echo done"}));
  EXPECT_EQ(r.outcome, (CheckOutcome{CheckStatus::passing, "exit 0\ndone"}));
}

TEST_F(WatsonChecks, ExecTimeoutKillsTheWholeGroup) {
  auto r = run(exec({"/bin/sh", "-c", "echo $$; sleep 10 & sleep 10"}, 200ms));
  EXPECT_EQ(r.outcome.status, CheckStatus::critical);
  ASSERT_THAT(r.outcome.output, StartsWith("timed out after 200ms\n"));
  EXPECT_LT(r.took, 1s);
  pid_t group = std::stoi(r.outcome.output.substr(r.outcome.output.find('\n') + 1));
  // Orphans of the killed shell are reaped by init, not by us: wait for them to be gone or dead.
  EXPECT_TRUE(test::poll_until(2s, [&] { return live_in_group(group) == 0; }));
}

TEST_F(WatsonChecks, ExecLeftoversAreKilledWhenTheCheckExits) {
  // The background sleep keeps the output pipe open; the check still ends with its shell.
  auto r = run(exec({"/bin/sh", "-c", "echo $$; sleep 10 &"}, 5s));
  EXPECT_EQ(r.outcome.status, CheckStatus::passing);
  ASSERT_THAT(r.outcome.output, StartsWith("exit 0\n"));
  EXPECT_LT(r.took, 2s);
  pid_t group = std::stoi(r.outcome.output.substr(r.outcome.output.find('\n') + 1));
  EXPECT_TRUE(test::poll_until(2s, [&] { return live_in_group(group) == 0; }));
}

TEST_F(WatsonChecks, ExecThatClosesItsOutputIsStillKilled) {
  auto r = run(exec({"/bin/sh", "-c", "exec >/dev/null 2>&1; sleep 10"}, 200ms));
  EXPECT_EQ(r.outcome, (CheckOutcome{CheckStatus::critical, "timed out after 200ms"}));
  EXPECT_LT(r.took, 1s);
}

TEST_F(WatsonChecks, ExecOutputIsBounded) {
  auto r = run(exec({"/bin/sh", "-c", "yes | head -c 100000"}));
  EXPECT_EQ(r.outcome.status, CheckStatus::passing);
  EXPECT_LE(r.outcome.output.size(), kMaxCheckOutput);
  EXPECT_THAT(r.outcome.output, StartsWith("exit 0\ny\ny\n"));
  EXPECT_THAT(r.outcome.output, EndsWith("..."));
}

TEST_F(WatsonChecks, ExecOfMissingProgramSaysWhy) {
  auto r = run(exec({"/nonexistent/check-it"}));
  EXPECT_EQ(
      r.outcome,
      (CheckOutcome{CheckStatus::critical,
                    "exit 127\ncannot run /nonexistent/check-it: No such file or directory"}));
}

TEST_F(WatsonChecks, ChecksDoNotBlockEachOther) {
  std::vector<std::size_t> order;
  auto results = run_all(
      {http("/ok", hang_port()), tcp("127.0.0.1", server_.port()), exec({"/bin/true"})}, &order);
  ASSERT_EQ(order.size(), 3U);
  EXPECT_EQ(order.back(), 0U);  // the hanging one finishes last
  EXPECT_EQ(results[0].outcome.output, "timed out after 1s");
  EXPECT_EQ(results[1].outcome.status, CheckStatus::passing);
  EXPECT_EQ(results[2].outcome.status, CheckStatus::passing);
  EXPECT_LT(results[1].took, 500ms);
}

}  // namespace
}  // namespace dstack::watson
