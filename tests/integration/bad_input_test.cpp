// SPDX-License-Identifier: Apache-2.0
// Hostile and broken clients: each gets a clear 4xx or is cut off by a timeout, the daemon keeps
// serving everyone else, and nothing already stored changes (checked after every test).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

class BadInput : public ::testing::Test {
 protected:
  // Small limits so that going over them is cheap; a long sync grace so `synced` cannot flip
  // between the snapshots compared.
  Directory d_{{.config = "sync_grace: 1h\n"
                          "limits:\n"
                          "  max_body: 4KiB\n"
                          "  max_header: 2KiB\n"
                          "  request_timeout: 500ms\n"
                          "  idle_timeout: 500ms\n"}};
  std::string lease_;
  json before_;

  void SetUp() override {
    d_.start();
    lease_ = d_.grant(60);
    d_.put_instance("emitter", "vm101:8080", lease_);
    ASSERT_EQ(d_.put("/v1/routes/emitter", R"({"targets":[{"version":"1","weight":100}]})").status,
              200);
    before_ = d_.snapshot();
  }

  void TearDown() override {
    auto health = d_.get("/v1/health");
    EXPECT_EQ(health.status, 200) << "the daemon stopped serving: " << health.error;
    if (health.status != 200) return;
    EXPECT_EQ(d_.snapshot(), before_) << "stored state changed";
    EXPECT_EQ(d_.metric("dstack_directory_leases"), 1) << "a lease was granted or dropped";
  }

  std::string instance_body(const json& extra) const {
    json body{{"lease", lease_}, {"url", "http://10.0.0.1:8080"}};
    body.update(extra);
    return body.dump();
  }

  // One raw exchange on a fresh connection: whatever comes back until the server closes.
  Response raw(const std::string& bytes, Clock::duration timeout = 3s) const {
    Conn c = Conn::connect(d_.port());
    c.send(bytes);
    return parse_response(c.read_all(timeout));
  }

  void expect_error(const Response& r, int status, const std::string& code,
                    const std::string& message, const std::string& what) const {
    EXPECT_EQ(r.status, status) << what << ": " << r.error << r.body;
    auto j = body_json(r);
    EXPECT_EQ(j["error"], code) << what;
    EXPECT_EQ(j["message"], message) << what;
  }
};

TEST_F(BadInput, MalformedJsonAnswers400InvalidJson) {
  for (std::string body : {"{\"lease\":", "not json", "{\"targets\":[}", "{}}", "[1,]"}) {
    for (auto [method, target] :
         {std::pair{"PUT", "/v1/services/emitter/instances/vm101:8080"},
          std::pair{"PUT", "/v1/routes/emitter"}, std::pair{"POST", "/v1/leases"}}) {
      auto r = d_.request(method, target, body);
      EXPECT_EQ(r.status, 400) << method << " " << target << " " << body;
      EXPECT_EQ(body_json(r)["error"], "invalid_json") << body << " got " << r.body;
      EXPECT_EQ(r.body.find("{\"error\":\"invalid_json\",\"message\":\"request body is not valid "
                            "JSON: [json.exception.parse_error."),
                0u)
          << body << " got " << r.body;
    }
  }
}

// Bytes that are not UTF-8, in a body or a URL, are the client's mistake: a 4xx that says so,
// never a 500 because the answer that quotes them cannot be encoded as JSON.
TEST_F(BadInput, NonUtf8BytesAnswer4xxNot500) {
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  } cases[] = {
      {"POST", "/v1/leases", "\xff\xfe", 400, "invalid_json"},
      {"PUT", "/v1/services/emitter/instances/vm101:8080",
       "{\"lease\":\"" + lease_ + "\",\"url\":\"http://10.0.0.1/\xc3\x28\"}", 400, "invalid_json"},
      {"PUT", "/v1/routes/emitter", "{\"targets\":[{\"version\":\"\xff\",\"weight\":1}]}", 400,
       "invalid_json"},
      {"GET", "/v2/%ff", "", 404, "not_found"},
      {"GET", "/v1/watch?since=%ff&epoch=x", "", 400, "invalid_since"},
      {"GET", "/v1/watch?since=1&epoch=%ff", "", 410, "stale_epoch"},
  };
  for (auto& c : cases) {
    auto r = d_.request(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " got " << r.body;
    EXPECT_EQ(body_json(r)["error"], c.code) << c.method << " " << c.target << " got " << r.body;
  }
}

TEST_F(BadInput, WrongTypesAnswer400NamingTheField) {
  const std::string put = "/v1/services/emitter/instances/vm101:8080";
  struct Case {
    std::string body, message;
  } instance_cases[] = {
      {instance_body({{"weight", "100"}}), "weight: expected an integer, got a string"},
      {instance_body({{"weight", 1.5}}),
       "weight: expected an integer, got a floating-point number"},
      {instance_body({{"url", 5}}), "url: expected a string, got an integer"},
      {instance_body({{"lease", nullptr}}), "lease: expected a string, got null"},
      {instance_body({{"tags", "canary"}}), "tags: expected an array, got a string"},
      {instance_body({{"tags", {1}}}), "tags[0]: expected a string, got an integer"},
      {instance_body({{"meta", {1, 2}}}), "meta: expected an object, got an array"},
      {instance_body({{"meta", {{"k", true}}}}), "meta[\"k\"]: expected a string, got a boolean"},
      {instance_body({{"health", 1}}), "health: expected a string, got an integer"},
      {"[]", "body: expected a JSON object"},
      {"\"text\"", "body: expected a JSON object"},
  };
  for (auto& c : instance_cases)
    expect_error(d_.put(put, c.body), 400, "invalid_instance", c.message, c.body);

  Case route_cases[] = {
      {R"({"targets":{}})", "targets: expected an array, got an object"},
      {R"({"targets":["2"]})", "targets[0]: expected an object, got a string"},
      {R"({"targets":[{"version":2,"weight":10}]})",
       "targets[0].version: expected a string, got an integer"},
      {R"({"targets":[{"version":"2","weight":"10"}]})",
       "targets[0].weight: expected an integer, got a string"},
      {R"({"targets":[{"version":"2","weight":-1}]})",
       "targets[0].weight -1 is out of range 0..100"},
      {R"({"targets":[{"version":"2","weight":99999999999}]})",
       "targets[0].weight 99999999999 is out of range 0..100"},
      {"null", "body: expected a JSON object"},
  };
  for (auto& c : route_cases)
    expect_error(d_.put("/v1/routes/emitter", c.body), 400, "invalid_route", c.message, c.body);
}

TEST_F(BadInput, UnknownFieldsAnswer400) {
  expect_error(d_.put("/v1/services/emitter/instances/vm101:8080", instance_body({{"wieght", 5}})),
               400, "invalid_instance", "unknown field \"wieght\"", "instance");
  expect_error(d_.put("/v1/routes/emitter", R"({"targets":[{"version":"2","weight":10}],"ttl":1})"),
               400, "invalid_route", "unknown field \"ttl\"", "route");
  expect_error(d_.put("/v1/routes/emitter", R"({"targets":[{"version":"2","weight":10,"w":1}]})"),
               400, "invalid_route", "unknown field \"targets[0].w\"", "target");
}

TEST_F(BadInput, InvalidValuesAnswer400NamingFieldValueAndRule) {
  const std::string put = "/v1/services/emitter/instances/vm101:8080";
  struct Case {
    json extra;
    std::string message;
  } cases[] = {
      {{{"url", "ftp://10.0.0.1"}},
       "url \"ftp://10.0.0.1\" is invalid: scheme must be http, https or tcp"},
      {{{"url", "http://user@10.0.0.1"}},
       "url \"http://user@10.0.0.1\" is invalid: user information (user@host) is not allowed"},
      {{{"version", "1 2"}}, "version \"1 2\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$"},
      {{{"weight", 257}}, "weight 257 is out of range 0..256"},
      {{{"health", "sick"}},
       "health \"sick\" is invalid: must be one of passing, warning, critical, maintenance"},
      {{{"tags", {"ok", "not ok"}}},
       "tags[1] \"not ok\" is invalid: must match ^[A-Za-z0-9._-]{1,64}$"},
      {{{"tags", json(std::vector<std::string>(33, "t"))}}, "tags: 33 given, at most 32 allowed"},
      {{{"meta", {{"bad key", "v"}}}},
       "meta key \"bad key\" is invalid: must match ^[A-Za-z0-9_-]{1,128}$"},
      {{{"lease", "not-a-lease"}},
       "lease \"not-a-lease\" is invalid: must match ^[A-Za-z0-9]{1,64}$"},
  };
  for (auto& c : cases)
    expect_error(d_.put(put, instance_body(c.extra)), 400, "invalid_instance", c.message,
                 c.extra.dump());
  // Every problem is reported at once, not just the first.
  expect_error(d_.put(put, R"({"version":"1 2","weight":-5})"), 400, "invalid_instance",
               "missing field \"lease\"; missing field \"url\"; version \"1 2\" is invalid: must "
               "match ^[A-Za-z0-9._-]{1,32}$; weight -5 is out of range 0..256",
               "several");
}

// Names reach logs, HAProxy configs and response headers downstream: CR, LF and NUL in them
// must be refused where they enter, and must not split the answer's headers.
TEST_F(BadInput, HeaderInjectionInNamesAnswers400) {
  const std::string rule = " is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$";
  struct Case {
    std::string method, target, message;
  } cases[] = {
      {"PUT", "/v1/routes/a%0d%0ab", "service \"a\\x0d\\x0ab\"" + rule},
      {"GET", "/v1/routes/a%0d%0aX-Injected:%20yes",
       "service \"a\\x0d\\x0aX-Injected: yes\"" + rule},
      {"PUT", "/v1/routes/emitter?consumer=a%0d%0aX-Injected:%20yes",
       "consumer \"a\\x0d\\x0aX-Injected: yes\"" + rule},
      {"GET", "/v1/services/a%00b", "service \"a\\x00b\"" + rule},
      {"DELETE", "/v1/services/emitter/instances/a%0d%0aX-Injected:%20yes",
       "id \"a\\x0d\\x0aX-Injected: yes\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$"},
      {"PUT", "/v1/leases/a%0d%0aX-Injected:%20yes",
       "lease \"a\\x0d\\x0aX-Injected: yes\" is invalid: must match ^[A-Za-z0-9]{1,64}$"},
  };
  for (auto& c : cases) {
    auto r = d_.request(c.method, c.target,
                        c.method == "PUT" ? R"({"targets":[{"version":"1","weight":1}]})" : "");
    expect_error(r, 400, "invalid_name", c.message, c.method + " " + c.target);
    EXPECT_EQ(r.header("x-injected"), "") << c.target;
  }
  // Raw CR/LF inside the request line is not HTTP at all.
  auto r = raw("GET /v1/routes/a\r\nX-Injected: yes HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_error(r, 400, "bad_request", "malformed HTTP request", "raw CRLF");
  EXPECT_EQ(r.header("x-injected"), "");
}

TEST_F(BadInput, MalformedPercentEncodingAnswers400) {
  for (auto target : {"/v1/routes/a%zz", "/v1/routes/a%4"})
    expect_error(d_.get(target), 400, "bad_request",
                 std::string("malformed percent-encoding in the path ") + target, target);
  expect_error(d_.get("/v1/routes?service=%g1"), 400, "bad_request",
               "malformed percent-encoding in the query", "query");
}

// An encoded '/' stays inside its segment: it is an invalid name, not another endpoint.
TEST_F(BadInput, EncodedSlashInANameIsAnInvalidName) {
  auto r = d_.get("/v1/routes/e%2Fmitter");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(body_json(r)["error"], "invalid_name");
}

TEST_F(BadInput, OversizeBodyAnswers413WithoutReadingIt) {
  // Announces 100 MiB and sends 1 KiB: the answer must come from the header alone.
  Conn c = Conn::connect(d_.port());
  ASSERT_TRUE(
      c.send("PUT /v1/routes/emitter HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n"
             "Content-Type: application/json\r\n\r\n" +
             std::string(1024, ' ')));
  auto r = parse_response(c.read_all(3s));
  expect_error(r, 413, "body_too_large", "request body is larger than the configured max_body",
               "announced");

  // Sent whole, one byte over the limit; and chunked, where no length is announced.
  const std::string big =
      R"({"targets":[{"version":"1","weight":100}],"pad":")" + std::string(4096, 'x') + "\"}";
  expect_error(d_.put("/v1/routes/emitter", big), 413, "body_too_large",
               "request body is larger than the configured max_body", "whole");
  std::string chunked =
      "PUT /v1/routes/emitter HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
  expect_error(raw(chunked + "0\r\n\r\n"), 413, "body_too_large",
               "request body is larger than the configured max_body", "chunked");
}

TEST_F(BadInput, OversizeHeaderAnswers431) {
  expect_error(
      raw("GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(3000, 'a') + "\r\n\r\n"),
      431, "header_too_large", "request header is larger than the configured max_header",
      "one big header");
  expect_error(raw("GET /v1/health?" + std::string(3000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"),
               431, "header_too_large", "request header is larger than the configured max_header",
               "long target");
  std::string many = "GET /v1/health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 400; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  expect_error(raw(many + "\r\n"), 431, "header_too_large",
               "request header is larger than the configured max_header", "many headers");
}

TEST_F(BadInput, GarbageInsteadOfHttpAnswers400) {
  const std::string tls_hello("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 15);
  for (const std::string& garbage :
       {std::string("HELLO WORLD\r\n\r\n"), tls_hello, std::string("\x00\x01\x02\r\n\r\n", 7),
        std::string("GET / HTTP/9.9\r\n\r\n"),
        std::string("GET /v1/health HTTP/1.1\r\n: x\r\n\r\n"),
        std::string("PUT /v1/routes/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string("PUT /v1/routes/x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        std::string("PUT /v1/routes/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    expect_error(raw(garbage), 400, "bad_request", "malformed HTTP request", garbage);
  }
}

// A client that sends its header one byte at a time, slower than request_timeout allows.
TEST_F(BadInput, SlowHeaderIsCutOffWhileOthersAreServed) {
  const std::string request =
      "GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(200, 'a') + "\r\n\r\n";
  Conn slow = Conn::connect(d_.port());
  ASSERT_TRUE(slow.ok());
  const auto start = Clock::now();
  std::string answer;
  bool cut = false;
  int served = 0, failed = 0;
  for (std::size_t i = 0; i < request.size() && Clock::now() < start + 5s; ++i) {
    bool eof = false;
    answer += slow.read_some(0ms, eof);
    if (eof || !slow.send(request.substr(i, 1), 1s)) {
      cut = true;
      break;
    }
    // Meanwhile everyone else gets answers.
    (d_.get("/v1/health").status == 200 ? served : failed)++;
    // The pace of the bytes is the behaviour under test.
    std::this_thread::sleep_for(50ms);
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(cut) << "a header trickling in over 5 s was not cut off";
  EXPECT_GE(elapsed, 450ms) << "cut off before request_timeout";
  EXPECT_LE(elapsed, 3s);
  EXPECT_EQ(answer.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(failed, 0);
  EXPECT_GE(served, 2);
}

TEST_F(BadInput, SilentConnectionIsClosedAfterIdleTimeout) {
  Conn silent = Conn::connect(d_.port());
  ASSERT_TRUE(silent.ok());
  const auto start = Clock::now();
  EXPECT_EQ(d_.get("/v1/health").status, 200);  // it does not hold anyone else up
  EXPECT_TRUE(silent.closed_by_peer(5s)) << "a silent connection was kept for 5 s";
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 450ms);
  EXPECT_LE(elapsed, 3s);

  // The same limit applies between requests on a kept-alive connection.
  Conn kept = Conn::connect(d_.port());
  ASSERT_TRUE(kept.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"));
  bool eof = false;
  std::string got;
  ASSERT_TRUE(poll_until(3s, [&] {
    got += kept.read_some(100ms, eof);
    return got.find("\"status\"") != std::string::npos || eof;
  }));
  EXPECT_EQ(parse_response(got).status, 200);
  EXPECT_FALSE(eof) << "keep-alive was not honoured";
  EXPECT_TRUE(kept.closed_by_peer(3s));
}

// A client that connects and half-closes (sends FIN) without a request is let go at once.
TEST_F(BadInput, HalfClosedConnectionWithoutRequestIsClosed) {
  Conn c = Conn::connect(d_.port());
  ASSERT_TRUE(c.ok());
  ::shutdown(c.fd(), SHUT_WR);
  EXPECT_TRUE(c.closed_by_peer(3s));
  // A request cut short by FIN gets nothing and costs nothing.
  Conn partial = Conn::connect(d_.port());
  partial.send("PUT /v1/routes/emitter HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"targets\"");
  ::shutdown(partial.fd(), SHUT_WR);
  EXPECT_TRUE(partial.closed_by_peer(3s));
}

TEST(Connections, OverMaxConnectionsAnswer503AndServiceResumes) {
  const std::size_t extra = 1000, limit = 1000;
  if (raise_fd_limit(limit + extra + 200) < limit + extra + 100)
    GTEST_SKIP() << "RLIMIT_NOFILE too low to open " << limit + extra << " sockets";
  Directory d(
      {.config = "sync_grace: 1h\nlimits:\n  max_connections: 1000\n  idle_timeout: 60s\n"});
  d.start();
  auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease);
  const auto before = d.snapshot();
  // Every slot but the one asking must be free, or the count of refusals below would be off.
  ASSERT_TRUE(poll_until(5s, [&] { return d.metric("dstack_directory_connections") == 1; }));

  std::vector<Conn> conns;
  for (std::size_t i = 0; i < limit + extra; ++i) {
    conns.push_back(Conn::connect_async(d.port()));
    ASSERT_TRUE(conns.back().ok()) << "socket " << i;
  }
  // Collect answers until every connection over the limit has been answered and closed.
  std::vector<std::string> got(conns.size());
  std::vector<bool> closed(conns.size(), false);
  std::size_t closed_count = 0;
  const auto deadline = Clock::now() + 20s;
  while (closed_count < extra && Clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (std::size_t i = 0; i < conns.size(); ++i)
      if (!closed[i]) fds.push_back({conns[i].fd(), POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (std::size_t i = 0, f = 0; i < conns.size(); ++i) {
      if (closed[i]) continue;
      if (fds[f++].revents == 0) continue;
      bool eof = false;
      got[i] += conns[i].read_some(0ms, eof);
      if (eof) {
        closed[i] = true;
        ++closed_count;
      }
    }
  }
  std::size_t refused = 0;
  for (std::size_t i = 0; i < conns.size(); ++i) {
    if (!closed[i]) continue;
    auto r = parse_response(got[i]);
    EXPECT_EQ(r.status, 503) << "connection " << i << " got: " << got[i];
    EXPECT_EQ(body_json(r)["error"], "too_many_connections");
    EXPECT_EQ(body_json(r)["message"], "the server is at its max_connections limit");
    refused += r.status == 503;
  }
  EXPECT_EQ(refused, extra);
  EXPECT_EQ(closed_count, extra) << "the connections within the limit must stay open";
  // While the limit holds, a new client is told why instead of hanging.
  EXPECT_EQ(d.get("/v1/health").status, 503);

  conns.clear();
  EXPECT_TRUE(poll_until(
      10s, [&] { return d.get("/v1/health").status == 200; }, 50ms));
  EXPECT_EQ(d.snapshot(), before);
  EXPECT_GE(d.metric("dstack_directory_connections_refused_total"), extra + 1);
}

}  // namespace
}  // namespace dstack::test
