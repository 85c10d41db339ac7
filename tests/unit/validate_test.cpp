// SPDX-License-Identifier: Apache-2.0
#include "common/model/validate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace dstack::model {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr const char* kNameRule = "must match ^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$";

std::string name_problem(const std::string& field, const std::string& value) {
  return field + " \"" + value + "\" is invalid: " + kNameRule;
}

Instance good_instance() {
  Instance i;
  i.service = "barker.internal";
  i.id = "10.0.0.1:8080";
  i.lease = "ab12";
  i.url = "http://10.0.0.1:8080/api";
  i.version = "2.1";
  i.weight = 100;
  i.tags = {"canary", "eu-west_1"};
  i.meta = {{"owner", "team web"}, {"build-id", "1234"}};
  return i;
}

Route good_route() {
  Route r;
  r.service = "barker";
  r.targets = {{"1", 90}, {"2", 10}};
  return r;
}

TEST(ServiceName, PinsTheMessage) {
  EXPECT_EQ(check_service_name("Bad Name"),
            "service \"Bad Name\" is invalid: must match "
            "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$");
}

TEST(ServiceName, AcceptsTheExamplesOfTheSpec) {
  EXPECT_EQ(check_service_name("barker.internal"), std::nullopt);
  EXPECT_EQ(check_service_name("barker_bizlogic"), std::nullopt);
  EXPECT_EQ(check_service_name("a"), std::nullopt);
  EXPECT_EQ(check_service_name("0"), std::nullopt);
  EXPECT_EQ(check_service_name("a-b.c_d9"), std::nullopt);
}

TEST(ServiceName, LengthLimitIs64) {
  EXPECT_EQ(check_service_name(std::string(64, 'a')), std::nullopt);
  EXPECT_EQ(check_service_name(std::string(65, 'a')),
            name_problem("service", std::string(65, 'a')));
  EXPECT_EQ(check_service_name(""), name_problem("service", ""));
}

TEST(ServiceName, RefusesSeparatorsAtEitherEnd) {
  for (std::string bad : {"-a", "a-", ".a", "a.", "_a", "a_", "-", ".", "_"}) {
    EXPECT_EQ(check_service_name(bad), name_problem("service", bad)) << bad;
  }
}

TEST(ServiceName, RefusesUppercaseAndOtherCharacters) {
  for (std::string bad : {"Barker", "barkeR", "bar ker", "bar/ker", "bar:ker", "bär"}) {
    EXPECT_TRUE(check_service_name(bad).has_value()) << bad;
  }
}

TEST(ServiceName, UsesTheGivenFieldName) {
  EXPECT_EQ(check_service_name("X", "services[2]"), name_problem("services[2]", "X"));
}

TEST(ConsumerName, FollowsTheServiceRule) {
  EXPECT_EQ(check_consumer_name("web.frontend"), std::nullopt);
  EXPECT_EQ(check_consumer_name("Web"), name_problem("consumer", "Web"));
  EXPECT_EQ(check_consumer_name(""), name_problem("consumer", ""));
}

TEST(Version, LimitsAndMessage) {
  EXPECT_EQ(check_version("1"), std::nullopt);
  EXPECT_EQ(check_version("V2.0-rc_1"), std::nullopt);
  EXPECT_EQ(check_version(std::string(32, 'v')), std::nullopt);
  EXPECT_EQ(
      check_version(std::string(33, 'v')),
      "version \"" + std::string(33, 'v') + "\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$");
  EXPECT_EQ(check_version(""), "version \"\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$");
  EXPECT_TRUE(check_version("1:2").has_value());
  EXPECT_TRUE(check_version("1 2").has_value());
}

TEST(InstanceId, LimitsAndMessage) {
  EXPECT_EQ(check_instance_id("10.0.0.1:8080"), std::nullopt);
  EXPECT_EQ(check_instance_id("Host-1_a.b"), std::nullopt);
  EXPECT_EQ(check_instance_id(std::string(128, 'i')), std::nullopt);
  EXPECT_EQ(
      check_instance_id(std::string(129, 'i')),
      "id \"" + std::string(80, 'i') + "...\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$");
  EXPECT_EQ(check_instance_id("a/b"), "id \"a/b\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$");
  EXPECT_TRUE(check_instance_id("").has_value());
}

TEST(LeaseId, OnlyLettersAndDigits) {
  EXPECT_EQ(check_lease_id("Ab12"), std::nullopt);
  EXPECT_EQ(check_lease_id(std::string(64, 'x')), std::nullopt);
  EXPECT_TRUE(check_lease_id(std::string(65, 'x')).has_value());
  EXPECT_EQ(check_lease_id("ab-12"), "lease \"ab-12\" is invalid: must match ^[A-Za-z0-9]{1,64}$");
  EXPECT_TRUE(check_lease_id("").has_value());
}

TEST(Tag, LimitsAndMessage) {
  EXPECT_EQ(check_tag("eu-west_1.a"), std::nullopt);
  EXPECT_EQ(check_tag(std::string(64, 't')), std::nullopt);
  EXPECT_EQ(check_tag(std::string(65, 't')),
            "tag \"" + std::string(65, 't') + "\" is invalid: must match ^[A-Za-z0-9._-]{1,64}$");
  EXPECT_TRUE(check_tag("").has_value());
  EXPECT_TRUE(check_tag("a:b").has_value());
}

TEST(MetaKey, LimitsAndMessage) {
  EXPECT_EQ(check_meta_key("build-id_2"), std::nullopt);
  EXPECT_EQ(check_meta_key(std::string(128, 'k')), std::nullopt);
  EXPECT_TRUE(check_meta_key(std::string(129, 'k')).has_value());
  EXPECT_EQ(check_meta_key("a.b"),
            "meta key \"a.b\" is invalid: must match ^[A-Za-z0-9_-]{1,128}$");
  EXPECT_TRUE(check_meta_key("").has_value());
}

TEST(MetaValue, PrintableAsciiUpTo512) {
  EXPECT_EQ(check_meta_value(""), std::nullopt);
  EXPECT_EQ(check_meta_value(" ~anything \"printable\" goes!"), std::nullopt);
  EXPECT_EQ(check_meta_value(std::string(512, 'v')), std::nullopt);
  EXPECT_TRUE(check_meta_value(std::string(513, 'v')).has_value());
  EXPECT_EQ(check_meta_value("a\tb"),
            "meta value \"a\\x09b\" is invalid: must be at most 512 printable ASCII characters");
  EXPECT_TRUE(check_meta_value("\x7f").has_value());
  EXPECT_TRUE(check_meta_value("caf\xc3\xa9").has_value());
}

TEST(Weight, RangeAndMessage) {
  EXPECT_EQ(check_weight(0), std::nullopt);
  EXPECT_EQ(check_weight(256), std::nullopt);
  EXPECT_EQ(check_weight(257), "weight 257 is out of range 0..256");
  EXPECT_EQ(check_weight(300), "weight 300 is out of range 0..256");
  EXPECT_EQ(check_weight(-1), "weight -1 is out of range 0..256");
}

TEST(Printable, EscapesWhatCouldBreakALine) {
  EXPECT_EQ(printable("plain"), "plain");
  EXPECT_EQ(printable("a\nb\r\x01\x7f"), "a\\x0ab\\x0d\\x01\\x7f");
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");
  EXPECT_EQ(printable("say \"hi\" \\o/"), "say \\\"hi\\\" \\\\o/");
  EXPECT_EQ(printable(std::string_view("a\0b", 3)), "a\\x00b");
}

TEST(Printable, TruncatesAt80) {
  EXPECT_EQ(printable(std::string(80, 'x')), std::string(80, 'x'));
  EXPECT_EQ(printable(std::string(81, 'x')), std::string(80, 'x') + "...");
  EXPECT_EQ(printable(std::string(100000, '\n')).find('\n'), std::string::npos);
}

TEST(Printable, MessagesNeverCarryANewline) {
  const auto p = check_service_name("evil\nbackend x 1.2.3.4:80");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, name_problem("service", "evil\\x0abackend x 1.2.3.4:80"));
}

TEST(ValidateInstance, AcceptsAGoodOne) {
  EXPECT_THAT(validate_instance(good_instance()), IsEmpty());
}

TEST(ValidateInstance, ReportsEveryProblem) {
  Instance i;
  i.service = "Bad";
  i.id = "a b";
  i.lease = "x-y";
  i.url = "ftp://x";
  i.version = "";
  i.weight = 300;
  i.tags = {"ok", "no way"};
  i.meta = {{"bad key", "v"}, {"k", "line\nbreak"}};
  EXPECT_THAT(
      validate_instance(i),
      ElementsAre(name_problem("service", "Bad"),
                  "id \"a b\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$",
                  "lease \"x-y\" is invalid: must match ^[A-Za-z0-9]{1,64}$",
                  "url \"ftp://x\" is invalid: scheme must be http, https or tcp",
                  "version \"\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$",
                  "weight 300 is out of range 0..256",
                  "tags[1] \"no way\" is invalid: must match ^[A-Za-z0-9._-]{1,64}$",
                  "meta key \"bad key\" is invalid: must match ^[A-Za-z0-9_-]{1,128}$",
                  "meta[\"k\"] \"line\\x0abreak\" is invalid: must be at most 512 printable ASCII "
                  "characters"));
}

TEST(ValidateInstance, TagCountLimit) {
  Instance i = good_instance();
  i.tags.assign(32, "t");
  EXPECT_THAT(validate_instance(i), IsEmpty());
  i.tags.assign(33, "bad tag");
  EXPECT_THAT(validate_instance(i), ElementsAre("tags: 33 given, at most 32 allowed"));
}

TEST(ValidateInstance, MetaCountLimit) {
  Instance i = good_instance();
  i.meta.clear();
  for (int k = 0; k < 64; ++k) i.meta["k" + std::to_string(k)] = "v";
  EXPECT_THAT(validate_instance(i), IsEmpty());
  i.meta["k64"] = "v";
  EXPECT_THAT(validate_instance(i), ElementsAre("meta: 65 given, at most 64 allowed"));
}

TEST(ValidateRoute, AcceptsGoodRoutes) {
  EXPECT_THAT(validate_route(good_route()), IsEmpty());
  Route r = good_route();
  r.consumer = "web";
  r.targets = {{"1", 0}};
  EXPECT_THAT(validate_route(r), IsEmpty());
  r.targets = {{"1", 100}};
  EXPECT_THAT(validate_route(r), IsEmpty());
}

TEST(ValidateRoute, EmptyConsumerMeansEveryoneButABadOneIsRefused) {
  Route r = good_route();
  r.consumer = "";
  EXPECT_THAT(validate_route(r), IsEmpty());
  r.consumer = "Web";
  EXPECT_THAT(validate_route(r), ElementsAre(name_problem("consumer", "Web")));
}

TEST(ValidateRoute, NeedsATarget) {
  Route r = good_route();
  r.targets.clear();
  EXPECT_THAT(validate_route(r), ElementsAre("targets: at least one target is needed"));
}

TEST(ValidateRoute, AtMost32Targets) {
  Route r = good_route();
  r.targets.clear();
  for (int v = 0; v < 32; ++v) r.targets.push_back({"v" + std::to_string(v), 0});
  EXPECT_THAT(validate_route(r), IsEmpty());
  r.targets.push_back({"v32", 0});
  EXPECT_THAT(validate_route(r), ElementsAre("targets: 33 given, at most 32 allowed"));
}

TEST(ValidateRoute, VersionsMustBeUnique) {
  Route r = good_route();
  r.targets = {{"2", 10}, {"1", 10}, {"2", 10}, {"2", 10}};
  EXPECT_THAT(validate_route(r), ElementsAre("targets: version \"2\" is listed twice"));
}

TEST(ValidateRoute, WeightsPerTargetAndInSum) {
  Route r = good_route();
  r.targets = {{"1", 50}, {"2", 120}};
  EXPECT_THAT(validate_route(r), ElementsAre("targets[1].weight 120 is out of range 0..100"));
  r.targets = {{"1", -1}};
  EXPECT_THAT(validate_route(r), ElementsAre("targets[0].weight -1 is out of range 0..100"));
  r.targets = {{"1", 70}, {"2", 60}};
  EXPECT_THAT(validate_route(r), ElementsAre("targets: weights add up to 130, more than 100"));
  r.targets = {{"1", 70}, {"2", 30}};
  EXPECT_THAT(validate_route(r), IsEmpty());
}

TEST(ValidateRoute, ReportsEveryProblem) {
  Route r;
  r.service = "-x";
  r.consumer = "A";
  r.targets = {{"bad version", 10}, {"2", 101}};
  EXPECT_THAT(validate_route(r),
              ElementsAre(name_problem("service", "-x"), name_problem("consumer", "A"),
                          "targets[0].version \"bad version\" is invalid: must match "
                          "^[A-Za-z0-9._-]{1,32}$",
                          "targets[1].weight 101 is out of range 0..100"));
}

}  // namespace
}  // namespace dstack::model
