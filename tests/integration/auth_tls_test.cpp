// SPDX-License-Identifier: Apache-2.0
// The admin token from token_file guards writes, and on a loopback listener reads need none;
// TLS serves the same API, and with tls.client_ca only to clients with a certificate.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

const std::string kRoute = R"({"targets":[{"version":"2","weight":10}]})";

class Auth : public ::testing::Test {
 protected:
  void SetUp() override { d_.start(); }
  Response send(const std::string& method, const std::string& target,
                const std::optional<std::string>& authorization, const std::string& body = "") {
    Headers h;
    if (authorization) h.emplace_back("Authorization", *authorization);
    return http(d_.port(), method, target, body, h);
  }
  // Blanks around the token in its file are not part of it.
  Directory d_{
      {.args = {"--token-file", "{dir}/token"}, .files = {{"token", "  s3cret-token \n"}}}};
};

TEST_F(Auth, WritesWithoutOrWithAWrongTokenAnswer401AndChangeNothing) {
  auto before = d_.snapshot();
  struct Write {
    std::string method, target, body;
  } writes[] = {
      {"POST", "/v1/leases", R"({"ttl":10})"},
      {"PUT", "/v1/leases/abc", ""},
      {"DELETE", "/v1/leases/abc", ""},
      {"PUT", "/v1/services/emitter/instances/a",
       R"({"lease":"abc","url":"http://10.0.0.1:8080"})"},
      {"DELETE", "/v1/services/emitter/instances/a", ""},
      {"PUT", "/v1/routes/emitter", kRoute},
      {"DELETE", "/v1/routes/emitter", ""},
  };
  const std::string malformed =
      "malformed Authorization header: expected \"Bearer SECRET\", the secret 1 to 4096 "
      "printable ASCII characters without spaces";
  const std::string not_valid = "the token is not valid: unknown, revoked or expired";
  const std::pair<std::optional<std::string>, std::string> cases[] = {
      {std::nullopt, ""},  // the message names what the request needs
      {"Bearer wrong", not_valid},
      {"Bearer s3cret-token2", not_valid},
      {"Basic s3cret-token", malformed},
      {"s3cret-token", malformed},
      {"Bearer ", malformed},
      {"", malformed},  // a field that came empty is not one that did not come
      {"Bearer s3cret token", malformed},
  };
  for (const auto& [auth, message] : cases) {
    for (auto& w : writes) {
      auto r = send(w.method, w.target, auth, w.body);
      EXPECT_EQ(r.status, 401) << w.method << " " << w.target << " with " << auth.value_or("-");
      EXPECT_EQ(r.header("www-authenticate"), "Bearer");
      EXPECT_EQ(body_json(r)["error"], "unauthorized");
      if (auth)
        EXPECT_EQ(body_json(r)["message"], message);
      else
        EXPECT_THAT(body_json(r)["message"].get<std::string>(),
                    ::testing::MatchesRegex("this request needs a token with (register "
                                            "\\(any service\\) or report|register:emitter|"
                                            "routes:emitter): "
                                            "send Authorization: Bearer SECRET"));
    }
  }
  EXPECT_EQ(d_.snapshot(), before);
  EXPECT_EQ(d_.get("/v1/routes/emitter").status, 404);
}

TEST_F(Auth, TheRightTokenWritesAndReadsNeedNone) {
  const std::string bearer = "Bearer s3cret-token";
  auto lease = send("POST", "/v1/leases", bearer, R"({"ttl":10})");
  ASSERT_EQ(lease.status, 201) << lease.body;
  auto id = body_json(lease)["id"].get<std::string>();
  EXPECT_EQ(send("PUT", "/v1/services/emitter/instances/a", bearer,
                 json{{"lease", id}, {"url", "http://10.0.0.1:8080"}}.dump())
                .status,
            200);
  EXPECT_EQ(send("PUT", "/v1/routes/emitter", bearer, kRoute).status, 200);
  EXPECT_EQ(send("PUT", "/v1/leases/" + id, bearer).status, 200);

  for (auto target :
       {"/v1/health", "/v1/snapshot", "/v1/services", "/v1/services/emitter",
        "/v1/services/emitter/instances/a", "/v1/routes", "/v1/routes/emitter", "/metrics"})
    EXPECT_EQ(send("GET", target, std::nullopt).status, 200) << target;
  LineStream watch(d_.port(), "/v1/watch");
  EXPECT_EQ(watch.head().status, 200);

  EXPECT_EQ(send("DELETE", "/v1/routes/emitter", bearer).status, 200);
  EXPECT_EQ(send("DELETE", "/v1/leases/" + id, bearer).status, 200);
  EXPECT_EQ(d_.snapshot()["instances"], json::array());
}

// Requests on one kept-alive connection are each judged on their own header: one with the
// token, then one without, one with another, one empty, then the token again. (The server reuses
// one buffer for the header's value across a connection's requests: none may inherit another's.)
TEST_F(Auth, EachRequestOfAConnectionIsJudgedOnItsOwnToken) {
  const std::string put = "PUT /v1/routes/emitter HTTP/1.1\r\nHost: d\r\nContent-Length: " +
                          std::to_string(kRoute.size()) + "\r\n";
  const auto request = [&](const std::string& header) { return put + header + "\r\n" + kRoute; };
  Conn c = Conn::connect(d_.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(request("Authorization: Bearer s3cret-token\r\n") + request("") +
                     request("Authorization: Bearer s3cret-tokeN\r\n") +
                     request("Authorization:\r\n") +
                     request("Authorization: Bearer s3cret-token\r\nConnection: close\r\n")));
  const std::string answers = c.read_all(10s);
  std::vector<std::string> statuses;
  for (std::size_t at = answers.find("HTTP/1.1 "); at != std::string::npos;
       at = answers.find("HTTP/1.1 ", at + 1))
    statuses.push_back(answers.substr(at + 9, 3));
  EXPECT_EQ(statuses, (std::vector<std::string>{"200", "401", "401", "401", "200"})) << answers;
}

// A token sent as a chunked body's trailer field is no token (docs/security.md#token-secrets).
TEST_F(Auth, AnAuthorizationTrailerIsNotAToken) {
  const auto chunked = [&](const std::string& header, const std::string& trailer) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx", kRoute.size());
    return "PUT /v1/routes/emitter HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n" + header +
           "\r\n" + size + "\r\n" + kRoute + "\r\n0\r\n" + trailer + "\r\n";
  };
  Conn c = Conn::connect(d_.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(chunked("", "Authorization: Bearer s3cret-token\r\n") +
                     chunked("Authorization: Bearer s3cret-token\r\nConnection: close\r\n", "")));
  const std::string answers = c.read_all(10s);
  std::vector<std::string> statuses;
  for (std::size_t at = answers.find("HTTP/1.1 "); at != std::string::npos;
       at = answers.find("HTTP/1.1 ", at + 1))
    statuses.push_back(answers.substr(at + 9, 3));
  EXPECT_EQ(statuses, (std::vector<std::string>{"401", "200"})) << answers;
}

TEST(AuthConfig, AnUnreadableOrEmptyTokenFileIsAConfigError) {
  TempDir tmp;
  auto config = tmp.write("directory.yaml", "");
  Process p({directory_binary(), "-c", config.string(), "--listen",
             "127.0.0.1:" + std::to_string(free_port()), "--data-dir",
             (tmp.path() / "data").string(), "--token-file", (tmp.path() / "missing").string()},
            tmp.path());
  auto status = p.wait(10s);
  ASSERT_TRUE(status) << "started without its token file";
  EXPECT_EQ(*status, 78);
  EXPECT_NE(p.stderr_text().find("--token-file: \"" + (tmp.path() / "missing").string() +
                                 "\": cannot read"),
            std::string::npos)
      << p.stderr_text();

  tmp.write("empty", "\n");
  Process q({directory_binary(), "-c", config.string(), "--listen",
             "127.0.0.1:" + std::to_string(free_port()), "--data-dir",
             (tmp.path() / "data").string(), "--token-file", (tmp.path() / "empty").string()},
            tmp.path());
  status = q.wait(10s);
  ASSERT_TRUE(status) << "started with an empty token";
  EXPECT_EQ(*status, 78);
  EXPECT_NE(q.stderr_text().find("\": is empty"), std::string::npos) << q.stderr_text();
}

TEST(Tls, ServesTheApiOverTls) {
  TempDir certs;
  const auto cert = certs.path() / "cert.pem", key = certs.path() / "key.pem";
  auto [gen, gen_status] = shell(
      "timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
      "-days 1 "
      "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key.string() + " -out " + cert.string());
  ASSERT_EQ(gen_status, 0) << gen;

  Directory d({.config = "tls:\n  cert: " + cert.string() + "\n  key: " + key.string() + "\n",
               .tls = true});
  d.start();
  const std::string url = "https://127.0.0.1:" + std::to_string(d.port());
  auto [health, status] =
      shell("curl -sS --max-time 10 --cacert " + cert.string() + " " + url + "/v1/health");
  ASSERT_EQ(status, 0) << health;
  auto j = json::parse(health, nullptr, false);
  EXPECT_EQ(j["status"], "ok") << health;

  auto [put, put_status] = shell("curl -sS --max-time 10 --cacert " + cert.string() +
                                 " -X PUT --data '" + kRoute + "' " + url + "/v1/routes/emitter");
  ASSERT_EQ(put_status, 0) << put;
  EXPECT_EQ(json::parse(put, nullptr, false)["targets"], json::parse(kRoute)["targets"]) << put;

  // A client that does not trust the certificate is refused by its own TLS check (curl: 60).
  auto [untrusted, untrusted_status] = shell("curl -sS --max-time 10 " + url + "/v1/health");
  EXPECT_EQ(untrusted_status, 60) << untrusted;
  // dw trusts the directory's certificate through --ca-file, and refuses it without.
  const std::string dw = std::string(DSTACK_DW_BIN) + " -d " + url;
  auto [listed, listed_status] = shell(dw + " --ca-file " + cert.string() + " route list");
  EXPECT_EQ(listed_status, 0) << listed;
  EXPECT_NE(listed.find("emitter"), std::string::npos) << listed;
  auto [refused, refused_status] = shell(dw + " status");
  EXPECT_EQ(refused_status, 69) << refused;
  EXPECT_NE(refused.find("certificate verify failed"), std::string::npos) << refused;
  // Plain HTTP on the TLS port gets no API answer.
  EXPECT_NE(http(d.port(), "GET", "/v1/health", "", {}, 3s).status, 200);
}

// docs/security.md#client-certificates: a directory with tls.client_ca accepts a client
// certificate its CA signed and refuses a connection without one, or with one another CA signed;
// dw presents one with --cert and --key.
TEST(Tls, ClientCertificatesAreRequiredWithClientCa) {
  TempDir certs;
  const TestCa ca(certs.path(), "ca"), other(certs.path(), "other-ca");
  const auto server = ca.issue("directory"), client = ca.issue("vm101"),
             stranger = other.issue("stranger");
  Directory d({.config = "tls:\n  cert: " + server.cert.string() + "\n  key: " +
                         server.key.string() + "\n  client_ca: " + ca.cert().string() + "\n",
               .tls = true});
  d.start();
  const std::string dw = std::string(DSTACK_DW_BIN) +
                         " -d https://127.0.0.1:" + std::to_string(d.port()) + " --ca-file " +
                         ca.cert().string();
  auto [ok, ok_status] = shell(dw + " --cert " + client.cert.string() + " --key " +
                               client.key.string() + " route set emitter 2=10");
  EXPECT_EQ(ok_status, 0) << ok;
  auto [listed, listed_status] = shell(dw + " --cert " + client.cert.string() + " --key " +
                                       client.key.string() + " route list");
  EXPECT_EQ(listed_status, 0) << listed;
  EXPECT_NE(listed.find("emitter"), std::string::npos) << listed;

  auto [without, without_status] = shell(dw + " status");
  EXPECT_EQ(without_status, 69) << without;
  auto [foreign, foreign_status] = shell(dw + " --cert " + stranger.cert.string() + " --key " +
                                         stranger.key.string() + " status");
  EXPECT_EQ(foreign_status, 69) << foreign;
  // curl agrees: the handshake fails without a certificate the CA signed.
  const std::string url = "https://127.0.0.1:" + std::to_string(d.port()) + "/v1/health";
  EXPECT_NE(shell("curl -sS --max-time 10 --cacert " + ca.cert().string() + " " + url).second, 0);
  EXPECT_EQ(shell("curl -sS --max-time 10 --cacert " + ca.cert().string() + " --cert " +
                  client.cert.string() + " --key " + client.key.string() + " " + url)
                .second,
            0);

  // A key that is not the certificate's is a usage error naming both, before any request.
  auto [mismatch, mismatch_status] =
      shell(dw + " --cert " + client.cert.string() + " --key " + stranger.key.string() + " status");
  EXPECT_EQ(mismatch_status, 64) << mismatch;
  EXPECT_NE(mismatch.find("dw: key \"" + stranger.key.string() + "\": "), std::string::npos)
      << mismatch;
  EXPECT_NE(mismatch.find("key values mismatch"), std::string::npos) << mismatch;
  auto [half, half_status] = shell(dw + " --cert " + client.cert.string() + " status");
  EXPECT_EQ(half_status, 64) << half;
  EXPECT_NE(half.find("--cert requires --key"), std::string::npos) << half;
}

}  // namespace
}  // namespace dstack::test
