// SPDX-License-Identifier: Apache-2.0
// Authority (directory/authority.hpp; docs/security.md): who a request is from and whether it
// may, with a fake wall clock for expiry.
#include "directory/authority.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "directory/token_secret.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

using Kind = model::Policy::Kind;

std::vector<model::Policy> policies(std::initializer_list<const char*> texts) {
  std::vector<model::Policy> out;
  for (auto* t : texts) out.push_back(std::get<model::Policy>(model::parse_policy(t)));
  return out;
}

class AuthorityTest : public ::testing::Test {
 protected:
  AuthorityTest() : store_(TokenStore::open(tmp_.path())) {}

  Authority make(Anonymous anonymous = Anonymous::read, std::string admin = "admin-secret") {
    return Authority({admin.empty() ? "" : secret_digest(admin), anonymous}, store_,
                     [this] { return now_; });
  }
  // "allowed NAME" or "STATUS message"; `authorization` nullopt: the request had no such field.
  static std::string ask(Authority& a, const std::optional<std::string>& authorization,
                         std::optional<model::Permission> needed) {
    Caller caller;
    auto refused = a.authorize(authorization, needed, caller);
    if (refused) return std::to_string(refused->status) + " " + refused->message;
    return "allowed " + (caller.name.empty() ? std::string("-") : caller.name) +
           (caller.admin ? " (admin)" : "");
  }

  test::TempDir tmp_;
  TokenStore store_;
  std::uint64_t now_ = 1700000000;
};

TEST_F(AuthorityTest, AdminTokenFromTokenFileMayDoAnything) {
  auto a = make();
  EXPECT_EQ(ask(a, "Bearer admin-secret", model::Permission{Kind::admin, ""}),
            "allowed admin (admin)");
  EXPECT_EQ(ask(a, "bearer   admin-secret", model::Permission{Kind::routes, "payments"}),
            "allowed admin (admin)");
  EXPECT_EQ(ask(a, "Bearer admin-secretX", model::Permission{Kind::read, ""}),
            "401 the token is not valid: unknown, revoked or expired");
}

TEST_F(AuthorityTest, StoredTokenGetsExactlyItsPolicies) {
  auto a = make();
  auto created = a.create("vm101", policies({"register:emitter"}), std::nullopt);
  ASSERT_TRUE(std::holds_alternative<Authority::Created>(created));
  const std::string bearer = "Bearer " + std::get<Authority::Created>(created).secret;
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::register_, "emitter"}), "allowed vm101");
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::register_, ""}), "allowed vm101");
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::register_, "payments"}),
            "403 token vm101 lacks register:payments");
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::read, ""}), "403 token vm101 lacks read");
  EXPECT_EQ(ask(a, bearer, std::nullopt), "allowed -");  // health: nobody is asked
  EXPECT_EQ(a.last_used("vm101"), now_);
}

// Last use as GET /v1/tokens shows it: every request a token gets in, none before its first, and
// a token made anew under a revoked one's name starts without one.
TEST_F(AuthorityTest, LastUseFollowsEachRequestOfTheTokenOfThatName) {
  auto a = make();
  auto first = std::get<Authority::Created>(a.create("vm101", policies({"read"}), 60));
  const model::Permission read{Kind::read, ""};
  EXPECT_EQ(a.last_used("vm101"), std::nullopt);
  EXPECT_EQ(ask(a, "Bearer " + first.secret, read), "allowed vm101");
  now_ += 10;
  EXPECT_EQ(ask(a, "Bearer " + first.secret, read), "allowed vm101");  // remembered
  EXPECT_EQ(a.last_used("vm101"), now_);
  now_ += 60;  // expired: refused, and not a use
  EXPECT_EQ(ask(a, "Bearer " + first.secret, read),
            "401 the token is not valid: unknown, revoked or expired");
  EXPECT_EQ(a.last_used("vm101"), now_ - 60);

  ASSERT_TRUE(std::holds_alternative<Done>(a.revoke("vm101")));
  auto second = std::get<Authority::Created>(a.create("vm101", policies({"read"}), std::nullopt));
  EXPECT_EQ(a.last_used("vm101"), std::nullopt);
  auto expired = std::get<Authority::Created>(a.create("old", policies({"read"}), 1));
  now_ += 5;
  EXPECT_EQ(ask(a, "Bearer " + expired.secret, read),
            "401 the token is not valid: unknown, revoked or expired");
  EXPECT_EQ(a.last_used("old"), std::nullopt) << "refused when first seen: never used";
  EXPECT_EQ(ask(a, "Bearer " + second.secret, read), "allowed vm101");
  now_ += 1;
  EXPECT_EQ(ask(a, "Bearer " + second.secret, read), "allowed vm101");
  EXPECT_EQ(a.last_used("vm101"), now_);
}

TEST_F(AuthorityTest, AdminPolicyMakesAnAdminAndA403StillNamesTheCaller) {
  auto a = make();
  const auto ops = std::get<Authority::Created>(a.create("ops", policies({"admin"}), std::nullopt));
  EXPECT_EQ(ask(a, "Bearer " + ops.secret, model::Permission{Kind::routes, "payments"}),
            "allowed ops (admin)");
  const auto reader =
      std::get<Authority::Created>(a.create("reader", policies({"read"}), std::nullopt));
  Caller caller;
  auto refused = a.authorize("Bearer " + reader.secret, model::Permission{Kind::admin, ""}, caller);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  // The audit line names who was refused, and leases are held by the token's digest.
  EXPECT_EQ(caller.name, "reader");
  EXPECT_FALSE(caller.admin);
  EXPECT_EQ(caller.key, reader.token.digest);
}

TEST_F(AuthorityTest, AnonymousMayReadOnlyWhenConfigured) {
  auto open = make(Anonymous::read);
  EXPECT_EQ(ask(open, std::nullopt, model::Permission{Kind::read, ""}), "allowed -");
  EXPECT_EQ(ask(open, std::nullopt, model::Permission{Kind::routes, "web"}),
            "401 this request needs a token with routes:web: send Authorization: Bearer SECRET");
  auto closed = make(Anonymous::none);
  EXPECT_EQ(ask(closed, std::nullopt, model::Permission{Kind::read, ""}),
            "401 this request needs a token with read: send Authorization: Bearer SECRET");
  EXPECT_EQ(ask(closed, std::nullopt, std::nullopt), "allowed -");
}

TEST_F(AuthorityTest, WithoutTokenFileEverythingIsAllowed) {
  auto off = make(Anonymous::none, "");
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(ask(off, std::nullopt, model::Permission{Kind::admin, ""}), "allowed -");
  EXPECT_EQ(ask(off, "Bearer whatever", model::Permission{Kind::routes, "web"}), "allowed -");
}

TEST_F(AuthorityTest, MalformedHeadersAre401WithoutEchoingThem) {
  auto a = make();
  // An empty field is not the same as none: it is refused even for a read, which here needs no
  // token (anonymous: read).
  const std::vector<std::string> headers = {"",
                                            "  ",
                                            "Basic YWRtaW4=",
                                            "Bearer",
                                            "Bearer a b",
                                            "Bearer \x01secret",
                                            "Bearer " + std::string(4097, 'a'),
                                            "Bearer caf\xc3\xa9"};
  for (const std::string& header : headers) {
    // The same answer whatever was sent: nothing of the header is echoed.
    EXPECT_EQ(ask(a, header, model::Permission{Kind::read, ""}),
              "401 malformed Authorization header: expected \"Bearer SECRET\", the secret 1 to "
              "4096 printable ASCII characters without spaces")
        << header;
  }
  // A remembered secret skips the byte check (it passed it); the same secret with a byte that
  // fails it does not match it, and is checked.
  auto made = std::get<Authority::Created>(a.create("ci", policies({"read"}), std::nullopt));
  EXPECT_EQ(ask(a, "Bearer " + made.secret, model::Permission{Kind::read, ""}), "allowed ci");
  EXPECT_EQ(ask(a, "Bearer " + made.secret, model::Permission{Kind::read, ""}), "allowed ci");
  for (const std::string& bad : {made.secret + " x", made.secret + "\x01", made.secret + "\xc3"})
    EXPECT_EQ(ask(a, "Bearer " + bad, model::Permission{Kind::read, ""}),
              "401 malformed Authorization header: expected \"Bearer SECRET\", the secret 1 to "
              "4096 printable ASCII characters without spaces")
        << bad;
}

TEST_F(AuthorityTest, ExpiredTokenIsRefusedFromItsExpirySecond) {
  auto a = make();
  auto created = std::get<Authority::Created>(a.create("short", policies({"read"}), 60));
  EXPECT_EQ(created.token.expires, now_ + 60);
  const std::string bearer = "Bearer " + created.secret;
  now_ += 59;
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::read, ""}), "allowed short");
  EXPECT_TRUE(a.still_valid(created.token.digest));
  now_ += 1;
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::read, ""}),
            "401 the token is not valid: unknown, revoked or expired");
  EXPECT_FALSE(a.still_valid(created.token.digest));
}

TEST_F(AuthorityTest, RevocationTakesEffectOnTheNextRequest) {
  auto a = make();
  auto created = std::get<Authority::Created>(a.create("vm101", policies({"read"}), std::nullopt));
  const std::string bearer = "Bearer " + created.secret;
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::read, ""}), "allowed vm101");
  ASSERT_TRUE(std::holds_alternative<Done>(a.revoke("vm101")));
  EXPECT_EQ(ask(a, bearer, model::Permission{Kind::read, ""}),
            "401 the token is not valid: unknown, revoked or expired");
  EXPECT_FALSE(a.still_valid(created.token.digest));
  EXPECT_TRUE(a.still_valid("admin"));
  EXPECT_TRUE(a.still_valid(""));
  auto again = a.revoke("vm101");
  ASSERT_TRUE(std::holds_alternative<ApiError>(again));
  EXPECT_EQ(std::get<ApiError>(again).status, 404);
}

// The streams a revoked secret opened must not live on when a token is made again under its
// name, as docs/security.md says to replace one.
TEST_F(AuthorityTest, ATokenMadeAgainUnderARevokedOnesNameDoesNotRevalidateIt) {
  auto a = make();
  auto first = std::get<Authority::Created>(a.create("vm101", policies({"read"}), std::nullopt));
  ASSERT_TRUE(std::holds_alternative<Done>(a.revoke("vm101")));
  auto second = std::get<Authority::Created>(a.create("vm101", policies({"read"}), std::nullopt));
  EXPECT_FALSE(a.still_valid(first.token.digest));
  EXPECT_TRUE(a.still_valid(second.token.digest));
  EXPECT_FALSE(a.still_valid("vm101"));  // a name is not a key
}

TEST_F(AuthorityTest, CreateRefusesBadNamesTtlsAndTakenNames) {
  auto a = make();
  auto message = [&](const std::string& name, std::optional<std::int64_t> ttl) {
    auto out = a.create(name, policies({"read"}), ttl);
    auto* e = std::get_if<ApiError>(&out);
    return e ? std::to_string(e->status) + " " + e->message : std::string("created");
  };
  EXPECT_EQ(message("vm101", std::nullopt), "created");
  EXPECT_EQ(message("vm101", std::nullopt),
            "409 a token named vm101 exists; revoke it first to replace it");
  EXPECT_EQ(message("admin", std::nullopt),
            "400 token \"admin\" is reserved: it names the token in token_file");
  EXPECT_EQ(message("Vm", std::nullopt),
            "400 token \"Vm\" is invalid: must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$");
  EXPECT_EQ(message("vm102", 0), "400 ttl 0 is out of range 1..315360000 seconds");
  EXPECT_EQ(message("vm102", 315360001), "400 ttl 315360001 is out of range 1..315360000 seconds");
  EXPECT_EQ(store_.tokens().size(), 1u);
}

}  // namespace
}  // namespace dstack::directory
