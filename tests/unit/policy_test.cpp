// SPDX-License-Identifier: Apache-2.0
// Token policies (docs/security.md#policies): how they are written, what each allows.
#include "common/model/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace dstack::model {
namespace {

using ::testing::ElementsAre;
using Kind = Policy::Kind;

Policy parsed(const std::string& text) {
  auto r = parse_policy(text);
  if (auto* problem = std::get_if<std::string>(&r)) ADD_FAILURE() << text << ": " << *problem;
  return std::get_if<Policy>(&r) ? std::get<Policy>(r) : Policy{};
}

std::string refused(const std::string& text) {
  auto r = parse_policy(text);
  if (std::holds_alternative<Policy>(r)) ADD_FAILURE() << text << " was accepted";
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

std::vector<Policy> policies(const std::vector<std::string>& texts) {
  auto r = parse_policies(texts);
  EXPECT_TRUE((std::holds_alternative<std::vector<Policy>>(r)));
  return std::holds_alternative<std::vector<Policy>>(r) ? std::get<std::vector<Policy>>(r)
                                                        : std::vector<Policy>{};
}

TEST(PolicyTest, EveryKindAsWrittenAndBack) {
  for (const char* text : {"read", "report", "admin", "register:emitter", "register:pay*",
                           "register:*", "routes:emitter", "routes:*.internal"}) {
    EXPECT_EQ(to_string(parsed(text)), text);
  }
  EXPECT_EQ(parsed("register:pay*"), (Policy{Kind::register_, "pay*"}));
  EXPECT_EQ(parsed("admin"), (Policy{Kind::admin, ""}));
}

TEST(PolicyTest, RefusalsNameTheValueAndTheRule) {
  EXPECT_EQ(refused("regster:x"),
            "policy \"regster:x\" is invalid: must be read, report, admin, register:GLOB or "
            "routes:GLOB");
  EXPECT_EQ(refused("register"),
            "policy \"register\" is invalid: needs the services it covers: register:GLOB, e.g. "
            "register:emitter or register:*");
  EXPECT_EQ(refused("read:emitter"),
            "policy \"read:emitter\" is invalid: read covers every service: it takes no GLOB");
  const std::string glob_rule =
      "must match ^[a-z0-9._*-]{1,64}$ (a service name; * stands for any run of characters)";
  EXPECT_EQ(refused("register:"), "policy \"register:\" is invalid: " + glob_rule);
  EXPECT_EQ(refused("routes:Emitter"), "policy \"routes:Emitter\" is invalid: " + glob_rule);
  EXPECT_EQ(refused("routes:a:b"), "policy \"routes:a:b\" is invalid: " + glob_rule);
  EXPECT_THAT(refused("register:" + std::string(65, 'a')), ::testing::EndsWith(glob_rule));
  // Odd bytes are shown escaped, never raw.
  EXPECT_EQ(refused(std::string("read\n\x01")),
            "policy \"read\\x0a\\x01\" is invalid: must be read, report, admin, register:GLOB or "
            "routes:GLOB");
  EXPECT_EQ(refused(""),
            "policy \"\" is invalid: must be read, report, admin, register:GLOB or "
            "routes:GLOB");
}

TEST(PolicyTest, AListCollectsEveryProblemAndRefusesRepeatsAndEmptiness) {
  auto r = parse_policies({"read", "bogus", "read", "routes:"});
  ASSERT_TRUE((std::holds_alternative<std::vector<std::string>>(r)));
  EXPECT_THAT(std::get<std::vector<std::string>>(r),
              ElementsAre(::testing::StartsWith("policy \"bogus\" is invalid"),
                          "policy \"read\" is given twice",
                          ::testing::StartsWith("policy \"routes:\" is invalid")));
  auto none = parse_policies({});
  ASSERT_TRUE((std::holds_alternative<std::vector<std::string>>(none)));
  EXPECT_THAT(std::get<std::vector<std::string>>(none),
              ElementsAre("policies: at least one is needed"));
  EXPECT_THAT(policies({"read", "report"}),
              ElementsAre(Policy{Kind::read, ""}, Policy{Kind::report, ""}));
}

TEST(PolicyTest, GlobsMatchWholeNamesWithStarsForAnyRun) {
  EXPECT_TRUE(glob_matches("emitter", "emitter"));
  EXPECT_FALSE(glob_matches("emitter", "emitter2"));
  EXPECT_FALSE(glob_matches("emitter", "emitte"));
  EXPECT_TRUE(glob_matches("*", "payments"));
  EXPECT_TRUE(glob_matches("pay*", "pay"));
  EXPECT_TRUE(glob_matches("pay*", "payments"));
  EXPECT_FALSE(glob_matches("pay*", "repay"));
  EXPECT_TRUE(glob_matches("*.internal", "billing.internal"));
  EXPECT_FALSE(glob_matches("*.internal", "billing.internal.x"));
  EXPECT_TRUE(glob_matches("a*b*c", "aXXbYYc"));
  EXPECT_TRUE(glob_matches("a*b*c", "abc"));
  EXPECT_FALSE(glob_matches("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_matches("a**", "a"));
  // Many stars against a long near-miss: answered at once, not by exponential backtracking.
  EXPECT_FALSE(glob_matches(std::string(30, '*') + "b", std::string(64, 'a')));
}

TEST(PolicyTest, EachPolicyAllowsExactlyItsScope) {
  const Permission read{Kind::read, ""};
  const Permission any_lease{Kind::register_, ""};
  const Permission register_emitter{Kind::register_, "emitter"};
  const Permission register_payments{Kind::register_, "payments"};
  const Permission routes_emitter{Kind::routes, "emitter"};
  const Permission report{Kind::report, ""};
  const Permission admin{Kind::admin, ""};

  const auto emitter_host = policies({"register:emitter"});
  EXPECT_TRUE(allows(emitter_host, register_emitter));
  EXPECT_TRUE(allows(emitter_host, any_lease));
  EXPECT_FALSE(allows(emitter_host, register_payments));
  EXPECT_FALSE(allows(emitter_host, routes_emitter));
  EXPECT_FALSE(allows(emitter_host, read));
  EXPECT_FALSE(allows(emitter_host, report));
  EXPECT_FALSE(allows(emitter_host, admin));

  const auto consumer_host = policies({"read", "report"});
  EXPECT_TRUE(allows(consumer_host, read));
  EXPECT_TRUE(allows(consumer_host, report));
  EXPECT_TRUE(allows(consumer_host, any_lease));  // its consumer registration's lease
  EXPECT_FALSE(allows(consumer_host, register_emitter));
  EXPECT_FALSE(allows(consumer_host, routes_emitter));
  EXPECT_FALSE(allows(consumer_host, admin));

  const auto release = policies({"routes:emit*"});
  EXPECT_TRUE(allows(release, routes_emitter));
  EXPECT_FALSE(allows(release, Permission{Kind::routes, "payments"}));
  EXPECT_FALSE(allows(release, register_emitter));

  const auto root = policies({"admin"});
  for (const auto& p :
       {read, any_lease, register_emitter, register_payments, routes_emitter, report, admin})
    EXPECT_TRUE(allows(root, p)) << to_string(p);
  EXPECT_FALSE(allows({}, read));
}

TEST(PolicyTest, PermissionsReadAsTheyAppearInRefusals) {
  EXPECT_EQ(to_string(Permission{Kind::register_, "payments"}), "register:payments");
  EXPECT_EQ(to_string(Permission{Kind::register_, ""}), "register (any service) or report");
  EXPECT_EQ(to_string(Permission{Kind::read, ""}), "read");
  EXPECT_EQ(to_string(Permission{Kind::admin, ""}), "admin");
}

}  // namespace
}  // namespace dstack::model
