// SPDX-License-Identifier: Apache-2.0
// dw's route arguments, as users type them (docs/dw.md#routes), including the seed's form.
#include "dw/route_args.hpp"

#include <gtest/gtest.h>

namespace dstack::dw {
namespace {

TEST(RouteArgsTest, TargetsTakePercentWithOrWithoutSign) {
  auto parsed = parse_targets({"2=10", "1=90%"});
  auto& targets = std::get<std::vector<model::RouteTarget>>(parsed);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0], (model::RouteTarget{"2", 10}));
  EXPECT_EQ(targets[1], (model::RouteTarget{"1", 90}));
}

TEST(RouteArgsTest, MalformedTargetsAreRefusedWithTheForm) {
  EXPECT_EQ(std::get<std::string>(parse_targets({"2:10"})),
            "target \"2:10\" is invalid: write VERSION=PERCENT, like 2=10");
  EXPECT_EQ(std::get<std::string>(parse_targets({"=10"})),
            "target \"=10\" is invalid: write VERSION=PERCENT, like 2=10");
  EXPECT_EQ(std::get<std::string>(parse_targets({"2=ten"})),
            "target \"2=ten\" is invalid: the percent must be a whole number, like 2=10");
  EXPECT_EQ(std::get<std::string>(parse_targets({"2=-5"})),
            "target \"2=-5\" is invalid: the percent must be a whole number, like 2=10");
}

TEST(RouteArgsTest, SeedFormNamesConsumerServiceVersionAndPercent) {
  auto add = std::get<RouteAdd>(parse_route_add("//monolith", "//barker(2)", "10%"));
  EXPECT_EQ(add.consumer, "monolith");
  EXPECT_EQ(add.service, "barker");
  EXPECT_EQ(add.target, (model::RouteTarget{"2", 10}));
  auto plain = std::get<RouteAdd>(parse_route_add("monolith", "barker(v2.1)", "5"));
  EXPECT_EQ(plain.service, "barker");
  EXPECT_EQ(plain.target, (model::RouteTarget{"v2.1", 5}));
}

TEST(RouteArgsTest, SeedFormRefusals) {
  EXPECT_EQ(std::get<std::string>(parse_route_add("//m", "//barker", "10%")),
            "\"//barker\" is invalid: write //SERVICE(VERSION), like //barker(2)");
  EXPECT_EQ(std::get<std::string>(parse_route_add("//m", "//barker(2)", "ten%")),
            "percent \"ten%\" is invalid: write a whole number, like 10%");
}

TEST(RouteArgsTest, ServiceArgumentIsTheLastPathElement) {
  EXPECT_EQ(service_argument("//services/emitter"), "emitter");
  EXPECT_EQ(service_argument("emitter"), "emitter");
  EXPECT_EQ(service_argument("//emitter/"), "emitter");
}

TEST(RouteArgsTest, MergeChangesAListedVersionOrAppendsANewOne) {
  std::vector<model::RouteTarget> current{{"2", 10}, {"3", 5}};
  EXPECT_EQ(merge_target(current, {"3", 20}),
            (std::vector<model::RouteTarget>{{"2", 10}, {"3", 20}}));
  EXPECT_EQ(merge_target(current, {"4", 1}),
            (std::vector<model::RouteTarget>{{"2", 10}, {"3", 5}, {"4", 1}}));
}

}  // namespace
}  // namespace dstack::dw
