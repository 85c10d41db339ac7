// SPDX-License-Identifier: Apache-2.0
// Scoped tokens against the real directory (docs/security.md): created by the admin token,
// shown once, stored as digests, each policy allowing exactly its scope, leases owned by their
// token, revocation effective on the next request and on open watch streams, the audit trail,
// and durability across kill -9.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kAdmin = "admin-s3cret";
const std::string kRoute = R"({"targets":[{"version":"2","weight":10}]})";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

DirectoryOptions with_admin(std::string config = "watch_keepalive: 200ms\n") {
  return {.config = std::move(config),
          .args = {"--token-file", "{dir}/token"},
          .token = kAdmin,
          .files = {{"token", kAdmin + "\n"}}};
}

class Tokens : public ::testing::Test {
 protected:
  void SetUp() override { d_.start(); }

  Response as(const std::string& secret, const std::string& method, const std::string& target,
              const std::string& body = "") const {
    Headers h{{"Authorization", "Bearer " + secret}};
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    return http(d_.port(), method, target, body, h);
  }
  // Creates a token with the admin token and returns its secret.
  std::string create(const std::string& name, const std::vector<std::string>& policies,
                     std::optional<int> ttl = std::nullopt) {
    json body{{"name", name}, {"policies", policies}};
    if (ttl) body["ttl"] = *ttl;
    auto r = d_.post("/v1/tokens", body);
    if (r.status != 201) throw std::runtime_error("token create: " + r.body);
    return body_json(r)["secret"].get<std::string>();
  }
  std::string grant_as(const std::string& secret) {
    auto r = as(secret, "POST", "/v1/leases", R"({"ttl":30})");
    if (r.status != 201) throw std::runtime_error("grant: " + r.body);
    return body_json(r)["id"].get<std::string>();
  }
  static std::string instance_body(const std::string& lease) {
    return json{{"lease", lease}, {"url", "http://10.0.0.1:8080"}}.dump();
  }

  Directory d_{with_admin()};
};

TEST_F(Tokens, SecretIsShownOnceAndOnlyItsDigestIsStored) {
  const auto before = std::chrono::system_clock::now();
  auto r = d_.post("/v1/tokens", json{{"name", "vm101"}, {"policies", {"register:emitter"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  const json created = body_json(r);
  const std::string secret = created["secret"];
  EXPECT_TRUE(std::regex_match(secret, std::regex("dstack_[A-Za-z0-9_-]{43}"))) << secret;
  EXPECT_EQ(created["name"], "vm101");
  EXPECT_EQ(created["policies"], json({"register:emitter"}));
  EXPECT_TRUE(created["expires"].is_null());
  const auto created_at = created["created"].get<std::int64_t>();
  EXPECT_GE(
      created_at,
      std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count() - 1);

  // Listed and shown without the secret or its digest.
  for (auto target : {"/v1/tokens", "/v1/tokens/vm101"}) {
    auto listed = d_.request("GET", target);
    ASSERT_EQ(listed.status, 200) << listed.body;
    EXPECT_THAT(listed.body, Not(HasSubstr(secret)));
    EXPECT_THAT(listed.body, Not(HasSubstr("digest")));
  }
  const json list = body_json(d_.request("GET", "/v1/tokens"));
  ASSERT_EQ(list["tokens"].size(), 1u);
  EXPECT_EQ(list["tokens"][0]["name"], "vm101");
  EXPECT_TRUE(list["tokens"][0]["last_used"].is_null());

  // The file holds the digest, never the secret.
  const std::string log = read_file(d_.data_dir() / "tokens.log");
  EXPECT_THAT(log, HasSubstr("\"name\":\"vm101\""));
  EXPECT_THAT(log, Not(HasSubstr(secret)));
  EXPECT_THAT(log, Not(HasSubstr(secret.substr(7, 20))));

  // It works, and is remembered as used.
  EXPECT_EQ(as(secret, "POST", "/v1/leases", R"({"ttl":10})").status, 201);
  EXPECT_FALSE(body_json(d_.request("GET", "/v1/tokens/vm101"))["last_used"].is_null());

  // A second token of that name is refused; so is "admin", the token_file token's name.
  auto again = d_.post("/v1/tokens", json{{"name", "vm101"}, {"policies", {"read"}}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(body_json(again)["error"], "token_exists");
  auto reserved = d_.post("/v1/tokens", json{{"name", "admin"}, {"policies", {"read"}}});
  EXPECT_EQ(reserved.status, 400);
  EXPECT_THAT(body_json(reserved)["message"].get<std::string>(), HasSubstr("reserved"));
}

TEST_F(Tokens, BadRequestsNameFieldValueAndRule) {
  struct Case {
    json body;
    std::string message;
  } cases[] = {
      {json{{"name", "vm101"}, {"policies", {"regster:x"}}},
       "policy \"regster:x\" is invalid: must be read, report, admin, register:GLOB or "
       "routes:GLOB"},
      {json{{"name", "VM 101"}, {"policies", {"read"}}},
       "token \"VM 101\" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"},
      {json{{"name", "vm101"}, {"policies", json::array()}}, "policies: at least one is needed"},
      {json{{"name", "vm101"}}, "policies: missing"},
      {json{{"name", "vm101"}, {"policies", {"read"}}, {"ttl", 0}},
       "ttl 0 is out of range 1..315360000 seconds"},
      {json{{"name", "vm101"}, {"policies", {"read"}}, {"secret", "mine"}},
       "unknown field \"secret\""},
  };
  for (const auto& c : cases) {
    auto r = d_.post("/v1/tokens", c.body);
    EXPECT_EQ(r.status, 400) << c.body.dump();
    EXPECT_EQ(body_json(r)["error"], "invalid_token") << c.body.dump();
    EXPECT_EQ(body_json(r)["message"], c.message) << c.body.dump();
  }
  EXPECT_EQ(body_json(d_.request("GET", "/v1/tokens"))["tokens"], json::array());
}

// Every policy against every kind of request: exactly its scope, 403 naming what it lacks
// otherwise, and a refused request changes nothing. The lease is revoked last, by its token.
TEST_F(Tokens, EveryPolicyAllowsExactlyItsScope) {
  const std::map<std::string, std::string> secrets = {
      {"read", create("reader", {"read"})},
      {"register:emitter", create("vm101", {"register:emitter"})},
      {"register:pay*", create("vm102", {"register:pay*"})},
      {"routes:emitter", create("deployer", {"routes:emitter"})},
      {"report", create("consumer", {"report"})},
      {"admin", create("ops", {"admin"})},
  };
  struct Request {
    std::string method, target, body;
    std::string needs;  // the permission the 403 names
  };
  // Each token's own lease first, so its instance writes have one (a made-up id otherwise: the
  // policy is checked before the lease is looked up).
  for (const auto& [policy, secret] : secrets) {
    SCOPED_TRACE(policy);
    const bool registers =
        policy.starts_with("register:") || policy == "admin" || policy == "report";
    const std::string lease = registers ? grant_as(secret) : "0123456789abcdef";
    const std::string token_body =
        R"({"name":"x)" + std::to_string(secrets.size()) + R"(","policies":["read"]})";
    const Request requests[] = {
        {"GET", "/v1/services", "", "read"},
        {"GET", "/v1/snapshot", "", "read"},
        {"GET", "/v1/routes", "", "read"},
        {"GET", "/metrics", "", "read"},
        {"POST", "/v1/leases", R"({"ttl":10})", "register (any service) or report"},
        {"PUT", "/v1/leases/" + lease, "", "register (any service) or report"},
        {"PUT", "/v1/services/emitter/instances/a", instance_body(lease), "register:emitter"},
        {"PUT", "/v1/services/payments/instances/a", instance_body(lease), "register:payments"},
        {"DELETE", "/v1/services/emitter/instances/a", "", "register:emitter"},
        {"DELETE", "/v1/services/payments/instances/a", "", "register:payments"},
        {"PUT", "/v1/routes/emitter", kRoute, "routes:emitter"},
        {"PUT", "/v1/routes/payments", kRoute, "routes:payments"},
        {"DELETE", "/v1/routes/emitter", "", "routes:emitter"},
        {"DELETE", "/v1/routes/payments", "", "routes:payments"},
        {"GET", "/v1/policies", "", "read"},
        {"PUT", "/v1/policies/emitter", R"({"retries":1})", "routes:emitter"},
        {"PUT", "/v1/policies/payments", R"({"retries":1})", "routes:payments"},
        {"DELETE", "/v1/policies/emitter", "", "routes:emitter"},
        {"DELETE", "/v1/policies/payments", "", "routes:payments"},
        {"GET", "/v1/tokens", "", "admin"},
        {"GET", "/v1/tokens/reader", "", "admin"},
        {"POST", "/v1/tokens", token_body, "admin"},
        {"DELETE", "/v1/leases/" + lease, "", "register (any service) or report"},
    };
    for (const auto& q : requests) {
      const std::string needs = q.needs;
      const bool allowed =
          policy == "admin" || policy == needs ||
          ((policy == "register:emitter" || policy == "report") &&
           needs == "register (any service) or report") ||
          (policy == "register:pay*" &&
           (needs == "register (any service) or report" || needs == "register:payments"));
      const json before = d_.snapshot();
      auto r = as(secret, q.method, q.target, q.body);
      if (allowed) {
        EXPECT_TRUE(r.status == 200 || r.status == 201)
            << q.method << " " << q.target << ": " << r.status << " " << r.body;
      } else {
        EXPECT_EQ(r.status, 403) << q.method << " " << q.target << ": " << r.body;
        EXPECT_EQ(body_json(r)["error"], "forbidden");
        EXPECT_THAT(body_json(r)["message"].get<std::string>(),
                    ::testing::EndsWith(" lacks " + needs));
        EXPECT_EQ(d_.snapshot(), before) << q.method << " " << q.target;
      }
    }
    // A watch needs read.
    LineStream watch(d_.port(), "/v1/watch", 5s, {{"Authorization", "Bearer " + secret}});
    EXPECT_EQ(watch.head().status, policy == "read" || policy == "admin" ? 200 : 403) << policy;
    // Undo what the allowed writes did, so the next token starts from the same state.
    d_.del("/v1/routes/emitter");
    d_.del("/v1/routes/payments");
    d_.del("/v1/policies/payments");
    d_.del("/v1/tokens/x" + std::to_string(secrets.size()));
  }
}

// The attacks of a compromised emitter host: each refused with 403, and nothing changes.
TEST_F(Tokens, ARegisterTokenCannotHijackAnotherHostsService) {
  const std::string payments_host = create("vm-payments", {"register:payments"});
  const std::string emitter_host = create("vm101", {"register:emitter"});
  const std::string emitter_peer = create("vm102", {"register:emitter"});
  const std::string payments_lease = grant_as(payments_host);
  ASSERT_EQ(
      as(payments_host, "PUT", "/v1/services/payments/instances/p1", instance_body(payments_lease))
          .status,
      200);
  const std::string peer_lease = grant_as(emitter_peer);
  ASSERT_EQ(as(emitter_peer, "PUT", "/v1/services/emitter/instances/e2", instance_body(peer_lease))
                .status,
            200);
  const std::string own_lease = grant_as(emitter_host);
  const json before = d_.snapshot();

  struct Attack {
    std::string what, method, target, body, message;
  } attacks[] = {
      {"register payments", "PUT", "/v1/services/payments/instances/evil", instance_body(own_lease),
       "token vm101 lacks register:payments"},
      {"renew another token's lease", "PUT", "/v1/leases/" + peer_lease, "",
       "token vm101 may not use lease " + peer_lease + ": another token holds it"},
      {"revoke another token's lease", "DELETE", "/v1/leases/" + payments_lease, "",
       "token vm101 may not use lease " + payments_lease + ": another token holds it"},
      {"bind an instance to another token's lease", "PUT", "/v1/services/emitter/instances/e9",
       instance_body(peer_lease),
       "token vm101 may not use lease " + peer_lease + ": another token holds it"},
      {"take over a peer's instance", "PUT", "/v1/services/emitter/instances/e2",
       instance_body(own_lease),
       "token vm101 may not use instance emitter/e2: another token holds it"},
      {"delete a peer's instance", "DELETE", "/v1/services/emitter/instances/e2", "",
       "token vm101 may not use instance emitter/e2: another token holds it"},
      {"write a route", "PUT", "/v1/routes/emitter", kRoute, "token vm101 lacks routes:emitter"},
      {"create a token", "POST", "/v1/tokens", R"({"name":"mine","policies":["admin"]})",
       "token vm101 lacks admin"},
      {"revoke a token", "DELETE", "/v1/tokens/vm-payments", "", "token vm101 lacks admin"},
  };
  for (const auto& a : attacks) {
    auto r = as(emitter_host, a.method, a.target, a.body);
    EXPECT_EQ(r.status, 403) << a.what << ": " << r.body;
    EXPECT_EQ(body_json(r)["error"], "forbidden") << a.what;
    EXPECT_EQ(body_json(r)["message"], a.message) << a.what;
  }
  EXPECT_EQ(d_.snapshot(), before);
  EXPECT_EQ(body_json(d_.request("GET", "/v1/tokens"))["tokens"].size(), 3u);
  // Its own lease and service still work, and the admin token may act on any lease.
  EXPECT_EQ(
      as(emitter_host, "PUT", "/v1/services/emitter/instances/e1", instance_body(own_lease)).status,
      200);
  EXPECT_EQ(as(kAdmin, "PUT", "/v1/leases/" + peer_lease).status, 200);
}

// With keep-alives an hour apart, only the revocation itself can end the stream in time.
TEST(TokensRevoked, RefusedOnTheNextRequestAndTheWatchEndsAtOnce) {
  Directory d(with_admin("watch_keepalive: 1h\n"));
  d.start();
  auto created =
      d.post("/v1/tokens", json{{"name", "vm101"}, {"policies", {"register:emitter", "read"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string secret = body_json(created)["secret"];
  const Headers bearer{{"Authorization", "Bearer " + secret}};
  auto lease = http(d.port(), "POST", "/v1/leases", R"({"ttl":30})", bearer);
  ASSERT_EQ(lease.status, 201) << lease.body;
  const std::string id = body_json(lease)["id"];
  LineStream watch(d.port(), "/v1/watch", 5s, bearer);
  ASSERT_EQ(watch.head().status, 200);
  // The stream is live: a change reaches it.
  ASSERT_EQ(http(d.port(), "PUT", "/v1/services/emitter/instances/a",
                 json{{"lease", id}, {"url", "http://10.0.0.1:8080"}}.dump(), bearer)
                .status,
            200);
  ASSERT_TRUE(watch.next_line(5s));

  ASSERT_EQ(d.del("/v1/tokens/vm101").status, 200);
  auto r = http(d.port(), "PUT", "/v1/leases/" + id, "", bearer);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(body_json(r)["message"], "the token is not valid: unknown, revoked or expired");
  EXPECT_EQ(http(d.port(), "GET", "/v1/services", "", bearer).status, 401);
  const auto deadline = Clock::now() + 1s;
  while (!watch.ended() && Clock::now() < deadline) watch.next_line(deadline - Clock::now());
  EXPECT_TRUE(watch.ended());
  EXPECT_EQ(d.del("/v1/tokens/vm101").status, 404);
}

TEST_F(Tokens, ExpiredTokenIsRefusedAndItsWatchEndsWithinAKeepAlive) {
  const std::string secret = create("short", {"read"}, 2);
  LineStream watch(d_.port(), "/v1/watch", 5s, {{"Authorization", "Bearer " + secret}});
  ASSERT_EQ(watch.head().status, 200);
  // Live first: a keep-alive (every 200 ms here) arrives while the token is valid.
  ASSERT_TRUE(watch.next_line(1s));
  EXPECT_EQ(as(secret, "GET", "/v1/services").status, 200);
  // Expiry counts whole seconds: the token lapses within 3 s, its stream one keep-alive later.
  const auto deadline = Clock::now() + 5s;
  while (!watch.ended() && Clock::now() < deadline) watch.next_line(deadline - Clock::now());
  EXPECT_TRUE(watch.ended());
  EXPECT_EQ(as(secret, "GET", "/v1/services").status, 401);
}

TEST_F(Tokens, EveryWriteIsAuditedOnceWithoutSecrets) {
  const std::string secret = create("vm101", {"register:emitter"});
  const std::string lease = grant_as(secret);
  as(secret, "PUT", "/v1/routes/emitter", kRoute);           // 403
  http(d_.port(), "DELETE", "/v1/leases/" + lease, "", {});  // 401, no token
  as(secret, "PUT", "/v1/leases/" + lease);                  // a keep-alive: not audited
  as(secret, "DELETE", "/v1/leases/" + lease);               // 200
  d_.request("GET", "/v1/tokens");                           // a read: not audited
  std::string log;
  const std::string from = " from=127\\.0\\.0\\.1:[0-9]+ ";
  ASSERT_TRUE(poll_until(5s, [&] {
    log = d_.process().stderr_text();
    return log.find("DELETE /v1/leases/" + lease + " 200") != std::string::npos;
  })) << log;
  using ::testing::ContainsRegex;
  EXPECT_THAT(log,
              ContainsRegex("audit: token=admin" + from +
                            "POST /v1/tokens 201 created vm101 with \\[\"register:emitter\"\\]"));
  EXPECT_THAT(log, ContainsRegex("audit: token=vm101" + from + "POST /v1/leases 201"));
  EXPECT_THAT(log, ContainsRegex("audit: token=vm101" + from + "PUT /v1/routes/emitter 403"));
  EXPECT_THAT(log, ContainsRegex("audit: token=-" + from + "DELETE /v1/leases/" + lease + " 401"));
  EXPECT_THAT(log,
              ContainsRegex("audit: token=vm101" + from + "DELETE /v1/leases/" + lease + " 200"));
  EXPECT_THAT(log, Not(HasSubstr("GET /v1/tokens")));
  EXPECT_THAT(log, Not(HasSubstr("PUT /v1/leases")));
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = log.find("audit: ", at)) != std::string::npos; ++at) ++lines;
  EXPECT_EQ(lines, 5u) << log;
  EXPECT_THAT(log, Not(HasSubstr(secret)));
  EXPECT_THAT(log, Not(HasSubstr(kAdmin)));
}

TEST(TokensAnonymous, NoneRefusesTokenlessReadsButNotHealth) {
  Directory d(with_admin("auth:\n  anonymous: none\n"));
  d.start();
  auto r = http(d.port(), "GET", "/v1/services");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(body_json(r)["message"],
            "this request needs a token with read: send Authorization: Bearer SECRET");
  EXPECT_EQ(LineStream(d.port(), "/v1/watch").head().status, 401);
  EXPECT_EQ(http(d.port(), "GET", "/v1/health").status, 200);
  auto created = d.post("/v1/tokens", json{{"name", "sherlock1"}, {"policies", {"read"}}});
  ASSERT_EQ(created.status, 201);
  const std::string secret = body_json(created)["secret"];
  EXPECT_EQ(
      http(d.port(), "GET", "/v1/services", "", {{"Authorization", "Bearer " + secret}}).status,
      200);
}

TEST(TokensOff, WithoutTokenFileTheTokenApiSaysSo) {
  Directory d;
  d.start();
  auto r = d.post("/v1/tokens", json{{"name", "vm101"}, {"policies", {"read"}}});
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body_json(r)["error"], "access_control_off");
}

// A kill -9 while tokens are created and revoked: after a restart every acknowledged token
// exists whole (its secret works), every acknowledged revocation holds, and an unacknowledged
// one is either whole or absent.
TEST(TokensDurability, AcknowledgedTokensAndRevocationsSurviveKill9) {
  Directory d(with_admin());
  std::map<std::string, std::string> live;  // acknowledged and not revoked: name -> secret
  std::set<std::string> revoked;            // acknowledged revocations
  std::mt19937 rng(std::random_device{}());
  const auto seed = rng();
  SCOPED_TRACE("seed " + std::to_string(seed));
  rng.seed(seed);
  int rounds = 0, acked = 0;
  const auto budget = Clock::now() + 30s;
  for (; rounds < 12 && Clock::now() < budget; ++rounds) {
    d.start();
    // What the last round acknowledged holds; anything else found must be whole.
    const json listed = body_json(d.request("GET", "/v1/tokens"))["tokens"];
    std::set<std::string> names;
    for (const auto& t : listed) names.insert(t["name"].get<std::string>());
    for (const auto& [name, secret] : live) {
      EXPECT_TRUE(names.contains(name)) << name << " lost after round " << rounds;
      EXPECT_EQ(
          http(d.port(), "GET", "/v1/services", "", {{"Authorization", "Bearer " + secret}}).status,
          200)
          << name;
    }
    for (const auto& name : revoked) EXPECT_FALSE(names.contains(name)) << name << " came back";

    std::atomic<bool> stop{false};
    std::thread writer([&, round = rounds] {
      for (int i = 0; !stop; ++i) {
        const std::string name = "r" + std::to_string(round) + "-" + std::to_string(i);
        auto r = d.post("/v1/tokens", json{{"name", name}, {"policies", {"read"}}});
        if (r.status != 201) return;  // killed
        live[name] = body_json(r)["secret"];
        ++acked;
        if (i % 2 == 1) continue;
        live.erase(name);  // while the revocation is in flight, either outcome is right
        if (d.del("/v1/tokens/" + name).status != 200) return;
        revoked.insert(name);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    d.kill9();
    stop = true;
    writer.join();
  }
  EXPECT_GE(rounds, 6);
  EXPECT_GT(acked, 0);
  std::cout << rounds << " kill -9 rounds, " << acked << " acknowledged creations, "
            << revoked.size() << " acknowledged revocations\n";
}

}  // namespace
}  // namespace dstack::test
