// SPDX-License-Identifier: Apache-2.0
// Pins every problem line an operator can see from the config reader, with its position.

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config/reader.hpp"

namespace dstack::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

class ConfigTest : public ::testing::Test {
 protected:
  // The reader over `text` as file "t.yaml"; fails the test when the text does not parse.
  MapReader read(std::string_view text) {
    auto doc = parse_text(text, "t.yaml", errors_);
    EXPECT_TRUE(doc.has_value()) << ::testing::PrintToString(errors_.lines());
    if (!doc) return MapReader(YAML::Node(YAML::NodeType::Map), "t.yaml", errors_);
    return MapReader(*doc, errors_);
  }

  // Exactly the lines reported; one line per problem.
  const std::vector<std::string>& lines() const { return errors_.lines(); }

  Errors errors_;
};

// --- loading ---------------------------------------------------------------------------------

TEST_F(ConfigTest, EmptyFileIsAnEmptyMapAndEveryDefaultApplies) {
  auto r = read("# nothing configured\n");
  EXPECT_EQ(r.string("listen", "127.0.0.1:7400"), "127.0.0.1:7400");
  EXPECT_EQ(r.integer("weight", 100), 100);
  EXPECT_EQ(r.boolean("enabled", true), true);
  EXPECT_EQ(r.duration("interval", 3s), 3s);
  EXPECT_EQ(r.size("max_body", 1 << 20), 1u << 20);
  EXPECT_THAT(r.string_list("tags", {"a"}), ElementsAre("a"));
  EXPECT_THAT(r.integer_list("expect_status", {200}), ElementsAre(200));
  EXPECT_EQ(r.string_map("meta", {{"k", "v"}}).at("k"), "v");
  EXPECT_EQ(r.one_of("manage", "child", {"child", "external"}), "child");
  EXPECT_EQ(r.map("lease").duration("default_ttl", 10s), 10s);
  r.finish();
  EXPECT_THAT(lines(), IsEmpty());
}

TEST_F(ConfigTest, RequiredKeyInAnEmptyFileIsReportedAtTheStart) {
  auto r = read("");
  EXPECT_EQ(r.required_string("service"), "");
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:1: service: required"));
}

TEST_F(ConfigTest, YamlSyntaxErrorCarriesItsPosition) {
  EXPECT_FALSE(parse_text("a: 1\ntags: [x, y\n", "t.yaml", errors_));
  EXPECT_THAT(lines(), ElementsAre("t.yaml:3:1: end of sequence flow not found"));
}

TEST_F(ConfigTest, BadIndentationIsASyntaxError) {
  EXPECT_FALSE(parse_text("a: 1\n b: 2\n", "t.yaml", errors_));
  EXPECT_THAT(lines(), ElementsAre("t.yaml:2:3: illegal map value"));
}

TEST_F(ConfigTest, TopLevelMustBeAMap) {
  EXPECT_FALSE(parse_text("- a\n- b\n", "t.yaml", errors_));
  EXPECT_FALSE(parse_text("hello\n", "u.yaml", errors_));
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:1: expected a map at the top level, got a sequence",
                                   "u.yaml:1:1: expected a map at the top level, got \"hello\""));
}

TEST_F(ConfigTest, SecondYamlDocumentIsRefused) {
  EXPECT_FALSE(parse_text("a: 1\n---\nb: 2\n", "t.yaml", errors_));
  EXPECT_THAT(lines(), ElementsAre("t.yaml:3:1: expected one YAML document, found 2"));
}

// Found by the config fuzz targets (docs/fuzzing.md): yaml-cpp 0.7 never returned from a
// document that starts with ',' and took memory until none was left.
TEST_F(ConfigTest, LeadingCommaIsASyntaxErrorNotAHang) {
  EXPECT_FALSE(parse_text(",isten: 127.0.0.1:7400\n", "t.yaml", errors_));
  EXPECT_FALSE(parse_text("listen: 127.0.0.1:7400\n---\n,\n", "u.yaml", errors_));
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:1: unexpected ','", "u.yaml:3:1: unexpected ','"));
}

TEST_F(ConfigTest, UnreadableFileSaysWhy) {
  EXPECT_FALSE(load_file("/nonexistent/dstack/x.yaml", errors_));
  EXPECT_FALSE(load_file("/", errors_));
  EXPECT_THAT(lines(),
              ElementsAre("/nonexistent/dstack/x.yaml: cannot read: No such file or directory",
                          "/: cannot read: Is a directory"));
}

TEST_F(ConfigTest, LoadFileReportsProblemsUnderItsPath) {
  const std::string path = ::testing::TempDir() + "config_test_" + std::to_string(::getpid());
  {
    std::ofstream out(path);
    out << "listen: 0.0.0.0:7400\nweight: heavy\n";
  }
  auto doc = load_file(path, errors_);
  ::unlink(path.c_str());
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->file, path);
  MapReader r(*doc, errors_);
  EXPECT_EQ(r.string("listen", ""), "0.0.0.0:7400");
  r.integer("weight", 100);
  EXPECT_THAT(lines(), ElementsAre(path + ":2:9: weight: expected an integer, got \"heavy\""));
}

// --- collecting ------------------------------------------------------------------------------

TEST_F(ConfigTest, AllProblemsOfAFileAreReportedTogether) {
  auto r = read(
      "weight: 300\n"
      "interval: 10\n"
      "colour: blue\n");
  r.integer("weight", 100, {.min = 0, .max = 256});
  r.duration("interval", 3s);
  r.finish();
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:9: weight: 300 is out of range 0..256",
                                   "t.yaml:2:11: interval: expected a duration like 3s or 500ms, "
                                   "got \"10\"",
                                   "t.yaml:3:1: colour: unknown key"));
}

TEST_F(ConfigTest, ProblemsAcrossFilesShareOneCollector) {
  auto a = parse_text("weight: x\n", "a.yaml", errors_);
  auto b = parse_text("weight: y\n", "b.yaml", errors_);
  ASSERT_TRUE(a && b);
  MapReader(*a, errors_).integer("weight", 1);
  MapReader(*b, errors_).integer("weight", 1);
  EXPECT_THAT(lines(), ElementsAre("a.yaml:1:9: weight: expected an integer, got \"x\"",
                                   "b.yaml:1:9: weight: expected an integer, got \"y\""));
}

TEST_F(ConfigTest, ThrowIfAnyJoinsEveryLine) {
  EXPECT_NO_THROW(errors_.throw_if_any());
  errors_.add("a.yaml", "cannot read: Permission denied");
  errors_.add("b.yaml", YAML::Mark(), "x", "required");
  try {
    errors_.throw_if_any();
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "a.yaml: cannot read: Permission denied\nb.yaml:1:1: x: required");
    EXPECT_THAT(e.lines(),
                ElementsAre("a.yaml: cannot read: Permission denied", "b.yaml:1:1: x: required"));
  }
}

TEST_F(ConfigTest, ReadingTheSameBadValueTwiceReportsItOnce) {
  auto r = read("interval: soon\n");
  r.duration("interval", 3s);
  r.duration("interval", 3s);
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:11: interval: expected a duration like 3s or 500ms, "
                                   "got \"soon\""));
}

// --- scalars ---------------------------------------------------------------------------------

TEST_F(ConfigTest, ReadsEveryKindOfValue) {
  auto r = read(
      "listen: 0.0.0.0:7400\n"
      "version: 2\n"
      "weight: -3\n"
      "enabled: yes\n"
      "off_switch: off\n"
      "interval: 1m30s\n"
      "max_body: 16KiB\n"
      "manage: external\n"
      "tags: [blue, \"green\"]\n"
      "expect_status: [200, 204]\n"
      "meta: {team: core, tier: 1}\n");
  EXPECT_EQ(r.string("listen", ""), "0.0.0.0:7400");
  EXPECT_EQ(r.string("version", ""), "2");
  EXPECT_EQ(r.integer("weight", 0), -3);
  EXPECT_TRUE(r.boolean("enabled", false));
  EXPECT_FALSE(r.boolean("off_switch", true));
  EXPECT_EQ(r.duration("interval", 3s), 90s);
  EXPECT_EQ(r.size("max_body", 0), 16u * 1024);
  EXPECT_EQ(r.one_of("manage", "child", {"child", "external"}), "external");
  EXPECT_THAT(r.string_list("tags", {}), ElementsAre("blue", "green"));
  EXPECT_THAT(r.integer_list("expect_status", {}), ElementsAre(200, 204));
  auto meta = r.string_map("meta", {});
  EXPECT_EQ(meta.size(), 2u);
  EXPECT_EQ(meta["team"], "core");
  EXPECT_EQ(meta["tier"], "1");
  r.finish();
  EXPECT_THAT(lines(), IsEmpty());
}

TEST_F(ConfigTest, KeyWithNoValueCountsAsAbsent) {
  auto r = read("interval:\nweight: ~\n");
  EXPECT_EQ(r.duration("interval", 3s), 3s);
  EXPECT_EQ(r.integer("weight", 100), 100);
  EXPECT_FALSE(r.has("interval"));
  r.finish();
  EXPECT_THAT(lines(), IsEmpty());
}

TEST_F(ConfigTest, IntegerProblems) {
  auto r = read(
      "a: heavy\n"
      "b: 300\n"
      "c: -1\n"
      "d: 11\n"
      "e: 99999999999999999999\n"
      "f: 99999999999999999999\n"
      "g: [1, 2]\n");
  EXPECT_EQ(r.integer("a", 100), 100);
  EXPECT_EQ(r.integer("b", 100, {.min = 0, .max = 256}), 100);
  EXPECT_EQ(r.integer("c", 5, {.min = 0}), 5);
  EXPECT_EQ(r.integer("d", 5, {.max = 10}), 5);
  r.integer("e", 5, {.min = 0, .max = 256});
  r.integer("f", 5);
  r.integer("g", 5);
  EXPECT_THAT(lines(),
              ElementsAre("t.yaml:1:4: a: expected an integer, got \"heavy\"",
                          "t.yaml:2:4: b: 300 is out of range 0..256",
                          "t.yaml:3:4: c: -1 is below the minimum 0",
                          "t.yaml:4:4: d: 11 is above the maximum 10",
                          "t.yaml:5:4: e: 99999999999999999999 is out of range 0..256",
                          "t.yaml:6:4: f: expected an integer, got \"99999999999999999999\"",
                          "t.yaml:7:4: g: expected an integer, got a sequence"));
}

TEST_F(ConfigTest, DurationProblemsAndBounds) {
  auto r = read(
      "a: 10\n"
      "b: 0s\n"
      "c: 2h\n"
      "d: {x: 1}\n"
      "e: 100ms\n"
      "f: 1h\n");
  const Bounds<Duration> b{.min = 100ms, .max = 1h};
  EXPECT_EQ(r.duration("a", 3s, b), 3s);
  EXPECT_EQ(r.duration("b", 3s, b), 3s);
  EXPECT_EQ(r.duration("c", 3s, b), 3s);
  EXPECT_EQ(r.duration("d", 3s, b), 3s);
  EXPECT_EQ(r.duration("e", 3s, b), 100ms);  // the bounds themselves are allowed
  EXPECT_EQ(r.duration("f", 3s, b), 1h);
  EXPECT_THAT(lines(),
              ElementsAre("t.yaml:1:4: a: expected a duration like 3s or 500ms, got \"10\"",
                          "t.yaml:2:4: b: 0s is below the minimum 100ms",
                          "t.yaml:3:4: c: 2h is above the maximum 1h",
                          "t.yaml:4:4: d: expected a duration like 3s or 500ms, got a map"));
}

TEST_F(ConfigTest, SizeProblemsAndBounds) {
  auto r = read(
      "limits:\n"
      "  max_body: lots\n"
      "  max_header: 512\n"
      "  max_stream: 128MiB\n"
      "  max_line: 1KiB\n"
      "  max_frame: 1099511627776GiB\n");
  auto limits = r.map("limits");
  const Bounds<std::uint64_t> b{.min = 1024, .max = 64 << 20};
  EXPECT_EQ(limits.size("max_body", 1 << 20, b), 1u << 20);
  EXPECT_EQ(limits.size("max_header", 16384, b), 16384u);
  EXPECT_EQ(limits.size("max_stream", 1 << 20, b), 1u << 20);
  EXPECT_EQ(limits.size("max_line", 4096, b), 1024u);
  // 2^40 GiB is 2^70 bytes: refused, not wrapped round to 0 (which no bound would catch).
  EXPECT_EQ(limits.size("max_frame", 4096, {}), 4096u);
  EXPECT_THAT(lines(), ElementsAre("t.yaml:2:13: limits.max_body: expected a size like 512, "
                                   "16KiB or 1MiB, got \"lots\"",
                                   "t.yaml:3:15: limits.max_header: 512 is below the minimum 1KiB",
                                   "t.yaml:4:15: limits.max_stream: 128MiB is above the maximum "
                                   "64MiB",
                                   "t.yaml:6:14: limits.max_frame: expected a size like 512, "
                                   "16KiB or 1MiB, got \"1099511627776GiB\""));
}

TEST_F(ConfigTest, StringBooleanAndChoiceProblems) {
  auto r = read(
      "listen: [a]\n"
      "enabled: maybe\n"
      "manage: parent\n");
  EXPECT_EQ(r.string("listen", "x"), "x");
  EXPECT_FALSE(r.boolean("enabled", false));
  EXPECT_EQ(r.one_of("manage", "child", {"child", "external"}), "child");
  EXPECT_THAT(lines(),
              ElementsAre("t.yaml:1:9: listen: expected a string, got a sequence",
                          "t.yaml:2:10: enabled: expected true or false, got \"maybe\"",
                          "t.yaml:3:9: manage: expected one of child, external, got \"parent\""));
}

TEST_F(ConfigTest, LongAndQuotedValuesAreShownReadably) {
  auto r = read("a: '" + std::string(70, 'x') + "'\nb: 'say \"hi\"'\n");
  r.integer("a", 0);
  r.integer("b", 0);
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:4: a: expected an integer, got \"" +
                                       std::string(60, 'x') + "...\"",
                                   "t.yaml:2:4: b: expected an integer, got \"say \\\"hi\\\"\""));
}

TEST_F(ConfigTest, RequiredStringMissingOrEmpty) {
  auto r = read("url:\nversion: 2\n");
  EXPECT_EQ(r.required_string("service"), "");
  EXPECT_EQ(r.required_string("url"), "");
  EXPECT_EQ(r.required_string("version"), "2");
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:1: service: required", "t.yaml:1:1: url: required"));
}

TEST_F(ConfigTest, CheckFunctionProblemIsReportedWithTheKey) {
  auto r = read("consumer: Bad_Name\nother: fine\n");
  auto lowercase = [](std::string_view v) -> std::optional<std::string> {
    for (char c : v) {
      if (c >= 'A' && c <= 'Z') return "must be lowercase, got \"" + std::string(v) + "\"";
    }
    return std::nullopt;
  };
  EXPECT_EQ(r.string("consumer", "", lowercase), "");
  EXPECT_EQ(r.string("other", "", lowercase), "fine");
  EXPECT_EQ(r.required_string("missing", lowercase), "");
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:11: consumer: must be lowercase, got \"Bad_Name\"",
                                   "t.yaml:1:1: missing: required"));
}

// --- collections -----------------------------------------------------------------------------

TEST_F(ConfigTest, ListProblemsNameTheItem) {
  auto r = read(
      "tags: blue\n"
      "dirs: [a, {b: 1}, c]\n"
      "expect_status: [200, ok, 700]\n"
      "argv: {x: 1}\n"
      "names: [a, ~]\n");
  EXPECT_THAT(r.string_list("tags", {"d"}), ElementsAre("d"));
  EXPECT_THAT(r.string_list("dirs", {}), IsEmpty());
  EXPECT_THAT(r.integer_list("expect_status", {200}, {.min = 100, .max = 599}), ElementsAre(200));
  EXPECT_THAT(r.string_list("argv", {}), IsEmpty());
  EXPECT_THAT(r.string_list("names", {}), IsEmpty());
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:7: tags: expected a list, got \"blue\"",
                                   "t.yaml:2:11: dirs[1]: expected a string, got a map",
                                   "t.yaml:3:22: expect_status[1]: expected an integer, got \"ok\"",
                                   "t.yaml:3:26: expect_status[2]: 700 is out of range 100..599",
                                   "t.yaml:4:7: argv: expected a list, got a map",
                                   "t.yaml:5:12: names[1]: expected a string, got nothing"));
}

TEST_F(ConfigTest, StringListCheckNamesTheItem) {
  auto r = read("tags: [ok, '']\n");
  auto non_empty = [](std::string_view v) -> std::optional<std::string> {
    if (v.empty()) return "must not be empty";
    return std::nullopt;
  };
  EXPECT_THAT(r.string_list("tags", {}, non_empty), IsEmpty());
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:12: tags[1]: must not be empty"));
}

TEST_F(ConfigTest, StringMapProblems) {
  auto r = read(
      "meta:\n"
      "  team: [a]\n"
      "  owner: x\n"
      "  owner: y\n"
      "labels: text\n");
  EXPECT_THAT(r.string_map("meta", {}), IsEmpty());
  EXPECT_THAT(r.string_map("labels", {}), IsEmpty());
  // The repeat is found when the map is opened, before its values are read.
  EXPECT_THAT(lines(), ElementsAre("t.yaml:4:3: meta.owner: duplicate key",
                                   "t.yaml:2:9: meta.team: expected a string, got a sequence",
                                   "t.yaml:5:9: labels: expected a map, got \"text\""));
}

// --- maps, keys ------------------------------------------------------------------------------

TEST_F(ConfigTest, NestedMapReadsAndReportsWithTheFullPath) {
  auto r = read(
      "lease:\n"
      "  default_ttl: 10s\n"
      "  max_ttl: 0s\n"
      "tls: [a]\n");
  auto lease = r.map("lease");
  EXPECT_EQ(lease.duration("default_ttl", 5s), 10s);
  EXPECT_EQ(lease.duration("max_ttl", 1h, {.min = 1s, .max = 1h}), 1h);
  EXPECT_EQ(r.map("tls").string("cert", "none"), "none");
  EXPECT_EQ(r.map("absent").required_string("x"), "");
  r.finish();
  EXPECT_THAT(lines(), ElementsAre("t.yaml:3:12: lease.max_ttl: 0s is below the minimum 1s",
                                   "t.yaml:4:6: tls: expected a map, got a sequence",
                                   "t.yaml:1:1: absent.x: required"));
}

TEST_F(ConfigTest, UnknownKeysAtTwoLevelsPointAtTheKey) {
  auto r = read(
      "listen: x\n"
      "lisen: y\n"
      "lease:\n"
      "  default_ttl: 10s\n"
      "  max_tll: 1h\n"
      "  tls:\n"
      "    cert: a\n"
      "    kee: b\n");
  r.string("listen", "");
  auto lease = r.map("lease");
  lease.duration("default_ttl", 5s);
  lease.map("tls").string("cert", "");
  r.finish();
  r.finish();  // a second call adds nothing
  EXPECT_THAT(lines(), ElementsAre("t.yaml:2:1: lisen: unknown key",
                                   "t.yaml:5:3: lease.max_tll: unknown key",
                                   "t.yaml:8:5: lease.tls.kee: unknown key"));
}

TEST_F(ConfigTest, NestedMapsReadAndNeverAskedForAreUnknownAsAWhole) {
  auto r = read("limits:\n  max_body: 1KiB\n");
  r.finish();
  EXPECT_THAT(lines(), ElementsAre("t.yaml:1:1: limits: unknown key"));
}

TEST_F(ConfigTest, AskingTwiceForTheSameMapSharesWhatWasRead) {
  auto r = read("limits:\n  max_body: 2KiB\n  max_header: 1KiB\n");
  EXPECT_EQ(r.map("limits").size("max_body", 0), 2048u);
  EXPECT_EQ(r.map("limits").size("max_header", 0), 1024u);
  r.finish();
  EXPECT_THAT(lines(), IsEmpty());
}

TEST_F(ConfigTest, DuplicateAndNonStringKeys) {
  auto r = read(
      "weight: 1\n"
      "weight: 2\n"
      "? [a, b]\n"
      ": 3\n");
  EXPECT_EQ(r.integer("weight", 0), 1);
  r.finish();
  EXPECT_THAT(lines(), ElementsAre("t.yaml:2:1: weight: duplicate key",
                                   "t.yaml:3:3: expected a string key, got a sequence"));
}

TEST_F(ConfigTest, HasAndKeysSupportCrossKeyRules) {
  auto r = read("check:\n  http: http://x/\n  tcp: x:1\n  exec:\n");
  auto check = r.map("check");
  EXPECT_TRUE(check.has("http"));
  EXPECT_TRUE(check.has("tcp"));
  EXPECT_FALSE(check.has("exec"));  // written with no value
  EXPECT_FALSE(check.has("none"));
  EXPECT_THAT(check.keys(), ElementsAre("http", "tcp", "exec"));
  check.error("", "expected exactly one of http, tcp, exec, none");
  check.error("tcp", "cannot be used with http");
  check.error("exec", "needs an argv list");
  check.error("none", "is not allowed here");
  check.string("http", "");
  check.string("tcp", "");
  check.string("exec", "");
  r.finish();
  EXPECT_THAT(lines(),
              ElementsAre("t.yaml:2:3: check: expected exactly one of http, tcp, exec, none",
                          "t.yaml:3:8: check.tcp: cannot be used with http",
                          "t.yaml:4:3: check.exec: needs an argv list",
                          "t.yaml:2:3: check.none: is not allowed here"));
}

}  // namespace
}  // namespace dstack::config
