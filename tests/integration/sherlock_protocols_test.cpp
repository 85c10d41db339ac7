// SPDX-License-Identifier: Apache-2.0
// Protocols through sherlock's proxy, with clients no one here wrote (docs/sherlock.md#protocols):
// gRPC (python3-grpcio) to instances registered as grpc, by authority, unary and server
// streaming, across an instance killed; server-sent events as they are written; a WebSocket
// (python3-websockets) idle past the client and server timeouts; Host: <service>.service.dstack.
// The peers are tests/integration/python_peers.py.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>

#include "directory_fixture.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"
#include "watson_fixture.hpp"

namespace dstack::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kPython = "/usr/bin/python3";  // Debian's, which has python3-grpcio

std::string peers_script() {
  return (std::filesystem::path(__FILE__).parent_path() / "python_peers.py").string();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A Python peer serving on `port`: started, and waited for until the port accepts connections.
class Peer {
 public:
  Peer(const std::vector<std::string>& args, std::uint16_t port) {
    std::vector<std::string> argv = {kPython, peers_script()};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<Process>(argv, dir_.path());
    if (!poll_until(15s, [&] { return Conn::connect(port, 200ms).ok(); }))
      throw std::runtime_error("python peer did not listen: " + process_->stderr_text());
  }
  void kill9() {
    process_->kill(SIGKILL);
    process_->wait(5s);
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

// One run of a Python client to its end.
struct ClientRun {
  int status = -1;
  std::string out, err;
};

ClientRun run_client(const std::vector<std::string>& args) {
  TempDir dir;
  std::vector<std::string> argv = {kPython, peers_script()};
  argv.insert(argv.end(), args.begin(), args.end());
  Process p(argv, dir.path());
  const auto status = p.wait(30s);
  return {status.value_or(-1), p.stdout_text(), p.stderr_text()};
}

struct SherlockProtocols : SherlockTest {
  std::string proxy() const { return "127.0.0.1:" + std::to_string(sherlock->proxy_port()); }
  ClientRun call(const std::string& authority, const std::string& method, const std::string& arg) {
    return run_client({"grpc-call", proxy(), authority, method, arg});
  }
};

// watson --protocol grpc publishes the protocol; sherlock speaks HTTP/2 to the instances, and a
// gRPC client reaches the service by authority, as greeter or greeter.service.dstack.
TEST_F(SherlockProtocols, GrpcUnaryAndStreamingCallsByAuthorityAcrossAnInstanceKill) {
  const auto port_a = free_port(), port_b = free_port();
  Peer a({"grpc-serve", std::to_string(port_a), "a"}, port_a);
  Peer b({"grpc-serve", std::to_string(port_b), "b"}, port_b);
  WatsonOptions wo;
  wo.quick_args = {"-d", directory_url(), "greeter", "http://127.0.0.1:" + std::to_string(port_a),
                   "1",  "--protocol",    "grpc"};
  Watson watson(wo);
  watson.start();
  ASSERT_TRUE(poll_until(
      10s,
      [&] {
        const auto r =
            directory.get("/v1/services/greeter/instances/127.0.0.1:" + std::to_string(port_a));
        return r.status == 200 && json::parse(r.body).value("protocol", "") == "grpc";
      }))
      << "watson did not register the instance as grpc: " << watson.stderr_text();
  start();
  ASSERT_TRUE(sherlock->wait_applied("greeter", 1)) << sherlock->stderr_text();
  // The second instance arrives while sherlock runs: `add server` speaks HTTP/2 to it too.
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  put("greeter", "b", "http://127.0.0.1:" + std::to_string(port_b), {{"protocol", "grpc"}});
  ASSERT_TRUE(sherlock->wait_applied("greeter", 2)) << sherlock->stderr_text();
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);

  std::set<std::string> answered_by;
  for (int i = 0; i < 6; ++i) {
    const auto r = call(i % 2 ? "greeter" : "greeter.service.dstack", "Say", "hello");
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_THAT(r.out, ::testing::AnyOf("a:hello\n", "b:hello\n"));
    answered_by.insert(r.out.substr(0, 1));
  }
  EXPECT_EQ(answered_by.size(), 2u) << "one instance answered every call";
  const auto stream = call("greeter", "Count", "5");
  ASSERT_EQ(stream.status, 0) << stream.err;
  const auto messages = lines_of(stream.out);
  ASSERT_EQ(messages.size(), 5u) << stream.out;
  for (int n = 0; n < 5; ++n) EXPECT_EQ(messages[n].substr(1), ":" + std::to_string(n));

  // One instance dies without a word: every call goes on to succeed on the other.
  b.kill9();
  for (int i = 0; i < 10; ++i) {
    const auto r = call("greeter", "Say", "again");
    EXPECT_EQ(r.status, 0) << "call " << i << ": " << r.err;
    EXPECT_EQ(r.out, "a:again\n");
  }
}

// Server-sent events leave the proxy as the instance writes them (HAProxy would otherwise let
// the kernel hold each small write back, some 200 ms).
TEST_F(SherlockProtocols, ServerSentEventsArriveAsTheyAreWritten) {
  const auto port = free_port();
  Peer sse({"sse-serve", std::to_string(port), "20", "50"}, port);
  put("ticker", "t1", "http://127.0.0.1:" + std::to_string(port));
  start();
  ASSERT_TRUE(sherlock->wait_applied("ticker", 1)) << sherlock->stderr_text();

  const auto delays = [](const std::string& url) {
    const auto r = run_client({"sse-read", url});
    std::vector<long> us;
    for (const auto& line : lines_of(r.out)) us.push_back(std::stol(line));
    std::sort(us.begin(), us.end());
    return us;
  };
  const auto direct = delays("http://127.0.0.1:" + std::to_string(port) + "/");
  const auto proxied = delays("http://" + proxy() + "/ticker/");
  ASSERT_EQ(direct.size(), 20u);
  ASSERT_EQ(proxied.size(), 20u);
  // Held back, events arrive some 100 to 200 ms late; the bound leaves room for a busy machine
  // (0.06 to 0.1 ms added on an idle one).
  const long added = proxied[10] - direct[10];
  EXPECT_LT(added, 10'000) << "median delay direct " << direct[10] << " us, through the proxy "
                           << proxied[10] << " us";
}

// A WebSocket (python3-websockets on both ends) through the proxy, by path: once upgraded, the
// connection lives by timeouts.tunnel, so it outlasts the client and server timeouts idle.
TEST_F(SherlockProtocols, WebSocketsLiveByTheTunnelTimeout) {
  const auto port = free_port();
  Peer ws({"ws-serve", std::to_string(port), "w1"}, port);
  put("chat", "w1", "http://127.0.0.1:" + std::to_string(port));
  auto o = options();
  o.haproxy_extra = "  timeouts: {client: 500ms, server: 500ms, tunnel: 30s}\n";
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("chat", 1)) << sherlock->stderr_text();
  const auto r = run_client({"ws-chat", "ws://" + proxy() + "/chat/", "2"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "w1:hello\nw1:again\n");
}

// docs/sherlock.md#request-ids: X-Request-ID kept or made; trace context passes untouched.
TEST_F(SherlockProtocols, RequestIdsAreKeptOrMadeAndTraceContextPasses) {
  TestService api;
  put("api", "a1", api.url("/"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1));
  const std::string traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::string tracestate = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  ASSERT_EQ(sherlock
                ->get("/api/x", {{"X-Request-ID", "client-chosen-42"},
                                 {"traceparent", traceparent},
                                 {"tracestate", tracestate}})
                .status,
            200);
  EXPECT_EQ(api.last_header("x-request-id"), "client-chosen-42");
  EXPECT_EQ(api.last_header("traceparent"), traceparent);
  EXPECT_EQ(api.last_header("tracestate"), tracestate);

  std::set<std::string> made;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sherlock->get("/api/y").status, 200);
    const auto id = api.last_header("X-Request-ID");
    EXPECT_THAT(id,
                ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                        "[0-9a-f]{12}"));
    made.insert(id);
  }
  EXPECT_EQ(made.size(), 3u) << "request ids repeat";

  // An id that is not one (a space, too long) or sent twice is replaced, not passed on.
  for (const Headers& h :
       {Headers{{"X-Request-ID", "a b"}}, Headers{{"X-Request-ID", std::string(201, 'a')}},
        Headers{{"X-Request-ID", "one"}, {"X-Request-ID", "two"}}}) {
    ASSERT_EQ(sherlock->get("/api/z", h).status, 200);
    const auto id = api.last_header("x-request-id");
    EXPECT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(made.count(id), 0u);
  }
}

// The access log's lines, read until `n` have arrived (each a JSON object).
std::vector<json> access_lines(const std::filesystem::path& file, std::size_t n) {
  std::vector<json> out;
  poll_until(10s, [&] {
    out.clear();
    std::ifstream in(file);
    // A line still being written has no newline yet, and does not parse: it is read next time.
    for (std::string line; std::getline(in, line);) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_discarded()) break;
      out.push_back(std::move(j));
    }
    return out.size() >= n;
  });
  return out;
}

// docs/sherlock.md#access-log: one JSON line per request with the id the instance saw, the
// service, version and instance it went to; a new file after logrotate's move and SIGUSR1.
TEST_F(SherlockProtocols, AccessLogHasALinePerRequestWithTheIdTheInstanceSaw) {
  TestService api;
  put("api", "a1", api.url("/"), {{"version", "2"}});
  auto o = options();
  const auto log = directory.dir().path() / "access.log";
  o.consumer = "web-7";
  o.extra_config = "access_log: " + log.string() + "\n";
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("api", 1));

  ASSERT_EQ(sherlock->get("/api/x", {{"X-Request-ID", "client-chosen-42"}}).status, 200);
  ASSERT_EQ(sherlock->get("/api/y", {{"X-Request-ID", "a b"}}).status, 200);
  const std::string made = api.last_header("x-request-id");
  ASSERT_EQ(http(sherlock->proxy_port(), "POST", "/nosuch/", "x=1").status, 404);
  const auto lines = access_lines(log, 3);
  ASSERT_EQ(lines.size(), 3u);
  // HAProxy's threads may write the three lines in another order than they were sent.
  const auto find = [&](const std::string& key, const json& value) {
    for (const auto& l : lines)
      if (l[key] == value) return l;
    ADD_FAILURE() << "no line with " << key << " " << value.dump();
    return json::object();
  };
  const json chosen = find("request_id", "client-chosen-42");
  EXPECT_EQ(chosen["consumer"], "web-7");
  EXPECT_EQ(chosen["service"], "api");
  EXPECT_EQ(chosen["version"], "2");
  EXPECT_EQ(chosen["instance"], "a1");
  EXPECT_EQ(chosen["status"], 200);
  EXPECT_EQ(chosen["method"], "GET");
  EXPECT_EQ(chosen["termination"], "----");
  EXPECT_GE(chosen["timings"]["total_ms"].get<int>(), 0);
  EXPECT_THAT(chosen["time"].get<std::string>(),
              ::testing::MatchesRegex("20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-9:]{8}\\.[0-9]{3}Z"));
  EXPECT_EQ(find("request_id", made)["status"], 200);  // the client's "a b" was replaced
  const json unknown = find("status", 404);
  EXPECT_EQ(unknown["method"], "POST");
  EXPECT_TRUE(unknown["service"].is_null());
  EXPECT_TRUE(unknown["instance"].is_null());
  EXPECT_EQ(unknown["request_id"].get<std::string>().size(), 36u);

  // logrotate: the file is moved, sherlock told; the next line starts a new file.
  std::filesystem::rename(log, log.string() + ".1");
  ::kill(sherlock->process().pid(), SIGUSR1);
  ASSERT_TRUE(poll_until(10s, [&] { return std::filesystem::exists(log); }));
  ASSERT_EQ(sherlock->get("/api/after", {{"X-Request-ID", "after-rotation"}}).status, 200);
  const auto fresh = access_lines(log, 1);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0]["request_id"], "after-rotation");
  EXPECT_EQ(access_lines(log.string() + ".1", 3).size(), 3u);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_access_log_lines_total"), 4);
}

// A file sherlock cannot write: --check-config (and so a handover) refuses it; a sherlock started
// with it anyway routes all the same, and says why there is no access log.
TEST_F(SherlockProtocols, AnAccessLogThatCannotBeWrittenIsRefusedByTheCheckAndSkippedAtStart) {
  TestService api;
  put("api", "a1", api.url("/"));
  auto o = options();
  o.extra_config = "access_log: /nonexistent/dir/access.log\n";
  sherlock = std::make_unique<Sherlock>(o);
  sherlock->write_config();
  const auto check = sherlock->run({"--check-config"});
  EXPECT_EQ(check.status, 78) << check.err;
  EXPECT_THAT(check.err, HasSubstr("sherlock: access_log: \"/nonexistent/dir/access.log\": cannot "
                                   "write in /nonexistent/dir: No such file or directory"));
  sherlock->start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1));
  EXPECT_EQ(sherlock->get("/api/").status, 200);
  const auto status = sherlock->status();
  ASSERT_TRUE(status["access_log"]["error"].is_string()) << status.dump();
  EXPECT_THAT(status["access_log"]["error"].get<std::string>(),
              HasSubstr("/nonexistent/dir/access.log"));
}

// curl speaking HTTP/2 with prior knowledge (no upgrade) to the proxy's one port, by path and by
// Host, to an instance that speaks HTTP/1.1.
TEST_F(SherlockProtocols, Http2WithPriorKnowledgeFromCurl) {
  TestService api;
  put("api", "a1", api.url("/"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1));
  const std::string proxy = "http://127.0.0.1:" + std::to_string(sherlock->proxy_port());
  const std::string curl =
      "curl -sS --max-time 10 --http2-prior-knowledge -o /dev/null -w '%{http_version} "
      "%{http_code}' ";
  auto [by_path, path_status] = shell(curl + proxy + "/api/v1/x");
  EXPECT_EQ(path_status, 0) << by_path;
  EXPECT_EQ(by_path, "2 200");
  EXPECT_EQ(api.last_path(), "/v1/x");
  auto [by_host, host_status] = shell(curl + "-H 'Host: api.service.dstack' " + proxy + "/v1/y");
  EXPECT_EQ(host_status, 0) << by_host;
  EXPECT_EQ(by_host, "2 200");
  EXPECT_EQ(api.last_path(), "/v1/y");
}

TEST_F(SherlockProtocols, HostServiceDstackRoutesLikeTheServiceName) {
  TestService api;
  put("api", "a1", api.url("/"));
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1));
  for (const std::string host : {"api.service.dstack", "API.Service.Dstack:8000", "api"}) {
    EXPECT_EQ(sherlock->get("/v1/q", {{"Host", host}}).status, 200) << host;
    EXPECT_EQ(api.last_path(), "/v1/q") << host;
  }
  EXPECT_EQ(sherlock->get("/v1/q", {{"Host", "api.service.dstack.evil"}}).status, 404);
}

}  // namespace
}  // namespace dstack::test
