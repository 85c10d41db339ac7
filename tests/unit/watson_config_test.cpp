// SPDX-License-Identifier: Apache-2.0
// watson's configuration (docs/watson.md): service files, the services directory, quick mode and
// watson.yaml. Every problem an operator can see is pinned as its exact line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/config/reader.hpp"
#include "temp_dir.hpp"
#include "watson/service_config.hpp"
#include "watson/watson_config.hpp"

namespace dstack::watson {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// Lines 1 and 2 of most service files below; what a test is about starts on line 3.
constexpr std::string_view kHead = "service: emitter\nurl: http://vm101:8080/emitter\n";
constexpr std::string_view kHttp = "check:\n  http: http://127.0.0.1:8080/emitter/liveness_check\n";

class WatsonConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, std::string_view text) {
    const auto path = (tmp_.path() / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
  }

  ServiceDefinition load(std::string_view text) {
    return load_service_file(write("svc.yaml", text));
  }

  // The problem lines for `text` as a service file, or as watson.yaml, each with the file's
  // path taken off its front so the expectations read like the file: "3:7: weight: ...".
  std::vector<std::string> problems(std::string_view text) {
    return problems_of(write("svc.yaml", text), [](const std::string& p) { load_service_file(p); });
  }
  std::vector<std::string> watson_problems(std::string_view text) {
    return problems_of(write("watson.yaml", text),
                       [](const std::string& p) { load_watson_config(p, true); });
  }

  template <class Load>
  std::vector<std::string> problems_of(const std::string& path, Load load) {
    try {
      load(path);
    } catch (const config::ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& l : e.lines()) {
        out.push_back(l.rfind(path + ":", 0) == 0 ? l.substr(path.size() + 1) : "<other> " + l);
      }
      return out;
    }
    return {"<accepted>"};
  }

  test::TempDir tmp_;
};

std::vector<std::string> quick_problems(const std::string& service, const std::string& url,
                                        const std::string& interval, const std::string& check) {
  try {
    quick_service(service, url, interval, check);
  } catch (const config::ConfigError& e) {
    return e.lines();
  }
  return {"<accepted>"};
}

// --- service files: values --------------------------------------------------------------------

TEST_F(WatsonConfigTest, FullServiceFileMapsToTheStruct) {
  auto def = load(R"(service: emitter
url: https://vm101:8443/emitter
id: emitter-1
version: "2"
weight: 50
tags: [blue, canary]
meta: {team: core, owner: ops}
drain: 30s
check:
  http: https://127.0.0.1:8443/emitter/health/?full=1
  method: HEAD
  expect_status: [200, 204]
  interval: 10s
  timeout: 4s
  rise: 5
  fall: 7
)");
  EXPECT_EQ(def.file, (tmp_.path() / "svc.yaml").string());
  EXPECT_EQ(def.service, "emitter");
  EXPECT_EQ(def.url, "https://vm101:8443/emitter");
  EXPECT_EQ(def.id, "emitter-1");
  EXPECT_EQ(def.version, "2");
  EXPECT_EQ(def.weight, 50);
  EXPECT_THAT(def.tags, ElementsAre("blue", "canary"));
  EXPECT_THAT(def.meta,
              UnorderedElementsAre(std::pair<const std::string, std::string>{"team", "core"},
                                   std::pair<const std::string, std::string>{"owner", "ops"}));
  EXPECT_EQ(def.drain, 30s);
  const auto& c = def.check;
  EXPECT_EQ(c.kind, Check::Kind::http);
  EXPECT_EQ(c.http_url, "https://127.0.0.1:8443/emitter/health/?full=1");
  EXPECT_TRUE(c.http_tls);
  EXPECT_EQ(c.http_host, "127.0.0.1");
  EXPECT_EQ(c.http_port, 8443);
  EXPECT_EQ(c.http_target, "/emitter/health/?full=1");  // as written: the '/' can matter
  EXPECT_EQ(c.method, "HEAD");
  EXPECT_THAT(c.expect_status, ElementsAre(200, 204));
  EXPECT_EQ(c.expect_body, "");
  EXPECT_EQ(c.interval, 10s);
  EXPECT_EQ(c.timeout, 4s);
  EXPECT_EQ(c.rise, 5);
  EXPECT_EQ(c.fall, 7);
}

TEST_F(WatsonConfigTest, ServiceFileDefaults) {
  auto def = load(std::string(kHead) + "check:\n  http: http://127.0.0.1/\n");
  EXPECT_EQ(def.id, "vm101:8080");
  EXPECT_EQ(def.version, "1");
  EXPECT_EQ(def.weight, 100);
  EXPECT_THAT(def.tags, IsEmpty());
  EXPECT_THAT(def.meta, IsEmpty());
  EXPECT_EQ(def.drain, 5s);
  EXPECT_EQ(def.check.http_port, 80);
  EXPECT_EQ(def.check.http_target, "/");
  EXPECT_FALSE(def.check.http_tls);
  EXPECT_EQ(def.check.method, "GET");
  EXPECT_THAT(def.check.expect_status, IsEmpty());  // any 2xx
  EXPECT_EQ(def.check.interval, 3s);
  EXPECT_EQ(def.check.timeout, 2s);
  EXPECT_EQ(def.check.rise, 2);
  EXPECT_EQ(def.check.fall, 3);
}

TEST_F(WatsonConfigTest, TimeoutDefaultsToTheIntervalWhenThatIsShorter) {
  auto def = load(std::string(kHead) + std::string(kHttp) + "  interval: 500ms\n");
  EXPECT_EQ(def.check.timeout, 500ms);
  def = load(std::string(kHead) + std::string(kHttp) + "  interval: 1s\n  timeout: 1s\n");
  EXPECT_EQ(def.check.timeout, 1s);  // equal to the interval is allowed
}

TEST_F(WatsonConfigTest, DefaultIdOfAnIpv6UrlHasNoBrackets) {
  auto def = load("service: emitter\nurl: \"http://[::1]:8080\"\ncheck: {none: true}\n");
  EXPECT_EQ(def.id, "::1:8080");
  EXPECT_EQ(load("service: emitter\nurl: https://vm101\ncheck: {none: true}\n").id, "vm101:443");
}

TEST_F(WatsonConfigTest, TcpExecAndNoneChecks) {
  auto c = load(std::string(kHead) + "check:\n  tcp: 127.0.0.1:5432\n").check;
  EXPECT_EQ(c.kind, Check::Kind::tcp);
  EXPECT_EQ(c.tcp_host, "127.0.0.1");
  EXPECT_EQ(c.tcp_port, 5432);
  c = load(std::string(kHead) + "check:\n  tcp: \"[::1]:5432\"\n").check;
  EXPECT_EQ(c.tcp_host, "::1");

  c = load(std::string(kHead) + "check:\n  exec: [sh, -c, \"exit 1\"]\n  timeout: 1s\n").check;
  EXPECT_EQ(c.kind, Check::Kind::exec);
  EXPECT_THAT(c.argv, ElementsAre("sh", "-c", "exit 1"));  // found in PATH, kept as written
  EXPECT_EQ(c.timeout, 1s);
  c = load(std::string(kHead) + "check:\n  exec: [/bin/sh, -c, \"exit 0\"]\n").check;
  EXPECT_THAT(c.argv, ElementsAre("/bin/sh", "-c", "exit 0"));

  c = load(std::string(kHead) + "check:\n  none: true\n").check;
  EXPECT_EQ(c.kind, Check::Kind::none);
}

TEST_F(WatsonConfigTest, HttpCheckBodyAndMethods) {
  auto c = load(std::string(kHead) + std::string(kHttp) +
                "  method: POST\n  expect_body: '\"status\":\"ok\"'\n")
               .check;
  EXPECT_EQ(c.method, "POST");
  EXPECT_EQ(c.expect_body, "\"status\":\"ok\"");
}

TEST_F(WatsonConfigTest, DefinitionsCompareEqualOnlyWhenNothingChanged) {
  const std::string text = std::string(kHead) + std::string(kHttp);
  auto a = load(text);
  EXPECT_EQ(a, load(text));
  EXPECT_NE(a, load(text + "  fall: 4\n"));
  EXPECT_NE(a, load(text + "weight: 0\n"));
}

// --- service files: problems ------------------------------------------------------------------

TEST_F(WatsonConfigTest, EmptyFileNeedsServiceUrlAndCheck) {
  EXPECT_THAT(problems("# nothing\n"),
              ElementsAre("1:1: service: required", "1:1: url: required",
                          "1:1: check: required (none: true registers without a health check)"));
}

TEST_F(WatsonConfigTest, UnknownKeysAtTheTopAndInCheck) {
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  intervall: 5s\nweigth: 3\n"),
              ElementsAre("5:3: check.intervall: unknown key", "6:1: weigth: unknown key"));
}

TEST_F(WatsonConfigTest, WrongTypes) {
  EXPECT_THAT(problems(std::string(kHead) + "weight: heavy\ncheck: {none: true}\n"),
              ElementsAre("3:9: weight: expected an integer, got \"heavy\""));
  EXPECT_THAT(problems(std::string(kHead) + "tags: blue\ncheck: {none: true}\n"),
              ElementsAre("3:7: tags: expected a list, got \"blue\""));
  EXPECT_THAT(problems(std::string(kHead) + "meta: [a]\ncheck: {none: true}\n"),
              ElementsAre("3:7: meta: expected a map, got a sequence"));
  EXPECT_THAT(problems(std::string(kHead) + "check: http://127.0.0.1/\n"),
              ElementsAre("3:8: check: expected a map, got \"http://127.0.0.1/\""));
  EXPECT_THAT(problems(std::string(kHead) + "check:\n  exec: /bin/check --quick\n"),
              ElementsAre("4:9: check.exec: expected a list, got \"/bin/check --quick\""));
  EXPECT_THAT(problems(std::string(kHead) + "check:\n  none: maybe\n"),
              ElementsAre("4:9: check.none: expected true or false, got \"maybe\""));
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  rise: [1]\n"),
              ElementsAre("5:9: check.rise: expected an integer, got a sequence"));
  EXPECT_THAT(problems("- a list\n"),
              ElementsAre("1:1: expected a map at the top level, got a sequence"));
}

TEST_F(WatsonConfigTest, EveryBound) {
  const std::string h = std::string(kHead) + std::string(kHttp);          // check keys from line 5
  const std::string none = std::string(kHead) + "check: {none: true}\n";  // top keys from line 4
  EXPECT_THAT(problems(none + "weight: 257\n"),
              ElementsAre("4:9: weight: 257 is out of range 0..256"));
  EXPECT_THAT(problems(none + "weight: -1\n"),
              ElementsAre("4:9: weight: -1 is out of range 0..256"));
  EXPECT_EQ(load(none + "weight: 0\n").weight, 0);
  EXPECT_EQ(load(none + "weight: 256\n").weight, 256);
  EXPECT_THAT(problems(none + "drain: 11m\n"),
              ElementsAre("4:8: drain: 11m is above the maximum 10m"));
  EXPECT_EQ(load(none + "drain: 0s\n").drain, 0s);
  EXPECT_THAT(problems(h + "  interval: 0s\n"),
              ElementsAre("5:13: check.interval: 0s is below the minimum 100ms"));
  EXPECT_THAT(problems(h + "  interval: 3650d\n"),  // ten years
              ElementsAre("5:13: check.interval: 3650d is above the maximum 1h"));
  EXPECT_THAT(problems(h + "  interval: 0\n"),
              ElementsAre("5:13: check.interval: expected a duration like 3s or 500ms, got \"0\""));
  EXPECT_THAT(problems(h + "  timeout: 5ms\n"),
              ElementsAre("5:12: check.timeout: 5ms is below the minimum 10ms"));
  EXPECT_THAT(problems(h + "  rise: 0\n"),
              ElementsAre("5:9: check.rise: 0 is out of range 1..100"));
  EXPECT_THAT(problems(h + "  fall: 101\n"),
              ElementsAre("5:9: check.fall: 101 is out of range 1..100"));
  EXPECT_THAT(problems(h + "  expect_status: [200, 99, 600]\n"),
              ElementsAre("5:24: check.expect_status[1]: 99 is out of range 100..599",
                          "5:28: check.expect_status[2]: 600 is out of range 100..599"));
}

TEST_F(WatsonConfigTest, TimeoutLongerThanTheIntervalIsRefused) {
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  interval: 1s\n  timeout: 2s\n"),
              ElementsAre("6:12: check.timeout: 2s is longer than check.interval 1s"));
  // A bad interval is reported once, not again through the timeout.
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  interval: 0s\n  timeout: 2s\n"),
              ElementsAre("5:13: check.interval: 0s is below the minimum 100ms"));
}

TEST_F(WatsonConfigTest, TooManyTagsAndMeta) {
  std::string tags = "tags: [";
  for (int i = 0; i < 33; ++i) tags += (i ? ", t" : "t") + std::to_string(i);
  std::string meta = "meta:\n";
  for (int i = 0; i < 65; ++i) meta += "  k" + std::to_string(i) + ": v\n";
  EXPECT_THAT(problems(std::string(kHead) + "check: {none: true}\n" + tags + "]\n" + meta),
              ElementsAre("4:7: tags: 33 given, at most 32 allowed",
                          "6:3: meta: 65 given, at most 64 allowed"));
}

TEST_F(WatsonConfigTest, CheckNeedsExactlyOneKind) {
  EXPECT_THAT(problems(std::string(kHead) + "check:\n  interval: 3s\n"),
              ElementsAre("4:3: check: exactly one of http, tcp, exec or none is needed"));
  EXPECT_THAT(problems(std::string(kHead) + "check: {}\n"),
              ElementsAre("3:8: check: exactly one of http, tcp, exec or none is needed"));
  EXPECT_THAT(problems(std::string(kHead) + "check:\n"),
              ElementsAre("3:1: check: required (none: true registers without a health check)"));
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  tcp: 127.0.0.1:8080\n"),
              ElementsAre("4:3: check: only one of http, tcp, exec or none may be given, found "
                          "http and tcp"));
  // Each kind given is still checked, so fixing the choice does not uncover more problems.
  EXPECT_THAT(problems(std::string(kHead) + "check:\n  none: true\n  exec: [nosuch-dstack]\n"
                                            "  tcp: vm101\n"),
              ElementsAre("4:3: check: only one of http, tcp, exec or none may be given, found "
                          "tcp, exec and none",
                          "6:8: check.tcp: \"vm101\" is invalid: expected host:port, like "
                          "127.0.0.1:5432",
                          "5:9: check.exec: \"nosuch-dstack\" is not an executable file "
                          "(searched PATH)"));
  EXPECT_THAT(problems(std::string(kHead) + "check:\n  none: false\n"),
              ElementsAre("4:9: check.none: must be true (none: true registers without a health "
                          "check)"));
}

TEST_F(WatsonConfigTest, ExecProgramMustBeAnExecutableFile) {
  const std::string h = std::string(kHead) + "check:\n  exec: ";
  EXPECT_THAT(problems(h + "[nosuch-dstack-check, --fast]\n"),
              ElementsAre("4:9: check.exec: \"nosuch-dstack-check\" is not an executable file "
                          "(searched PATH)"));
  EXPECT_THAT(problems(h + "[/nonexistent/check]\n"),
              ElementsAre("4:9: check.exec: \"/nonexistent/check\" is not an executable file: No "
                          "such file or directory"));
  EXPECT_THAT(problems(h + "[" + tmp_.path().string() + "]\n"),
              ElementsAre("4:9: check.exec: \"" + tmp_.path().string() +
                          "\" is not an executable file: Is a directory"));
  const auto plain = write("plain.sh", "#!/bin/sh\n");
  ::chmod(plain.c_str(), 0644);
  EXPECT_THAT(problems(h + "[" + plain + "]\n"),
              ElementsAre("4:9: check.exec: \"" + plain +
                          "\" is not an executable file: Permission denied"));
  EXPECT_THAT(problems(h + "[bin/check]\n"),
              ElementsAre("4:9: check.exec: \"bin/check\" is not an absolute path"));
  EXPECT_THAT(problems(h + "[]\n"),
              ElementsAre("4:9: check.exec: expected a program and its arguments, got an empty "
                          "list"));
}

TEST_F(WatsonConfigTest, UrlsWithoutHostOrOfTheWrongKind) {
  EXPECT_THAT(problems("service: emitter\nurl: http:///emitter\ncheck: {none: true}\n"),
              ElementsAre("2:6: url: \"http:///emitter\" is invalid: host is missing"));
  EXPECT_THAT(
      problems("service: emitter\nurl: ftp://vm101\ncheck: {none: true}\n"),
      ElementsAre("2:6: url: \"ftp://vm101\" is invalid: scheme must be http, https or tcp"));
  const std::string h = std::string(kHead) + "check:\n";
  EXPECT_THAT(problems(h + "  http: http://:8080/health\n"),
              ElementsAre("4:9: check.http: \"http://:8080/health\" is invalid: host is missing"));
  EXPECT_THAT(problems(h + "  http: tcp://127.0.0.1:8080\n"),
              ElementsAre("4:9: check.http: \"tcp://127.0.0.1:8080\" is invalid: a check URL must "
                          "start with http:// or https://"));
  EXPECT_THAT(problems(h + "  http: http://h/x?a b\n"),
              ElementsAre("4:9: check.http: \"http://h/x?a b\" is invalid: the query may hold only "
                          "printable characters other than ' ' and '#'"));
  EXPECT_THAT(problems(h + "  tcp: \":5432\"\n"),
              ElementsAre("4:8: check.tcp: \":5432\" is invalid: host is missing"));
  EXPECT_THAT(problems(h + "  tcp: 127.0.0.1:70000\n"),
              ElementsAre("4:8: check.tcp: \"127.0.0.1:70000\" is invalid: port must be a number "
                          "from 1 to 65535"));
  EXPECT_THAT(problems(h + "  tcp: tcp://127.0.0.1:5432\n"),
              ElementsAre("4:8: check.tcp: \"tcp://127.0.0.1:5432\" is invalid: expected "
                          "host:port, like 127.0.0.1:5432"));
}

TEST_F(WatsonConfigTest, BadNamesAndValues) {
  const std::string check = "check: {none: true}\n";
  EXPECT_THAT(problems("service: Emitter\nurl: http://vm101\n" + check),
              ElementsAre("1:10: service: \"Emitter\" is invalid: must match "
                          "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"));
  const std::string h = std::string(kHead) + check;  // lines 1-3
  EXPECT_THAT(problems(h + "version: \"v 2\"\n"),
              ElementsAre("4:10: version: \"v 2\" is invalid: must match ^[A-Za-z0-9._-]{1,32}$"));
  EXPECT_THAT(problems(h + "id: a/b\n"),
              ElementsAre("4:5: id: \"a/b\" is invalid: must match ^[A-Za-z0-9._:-]{1,128}$"));
  EXPECT_THAT(problems(h + "tags: [blue, \"bad tag\"]\n"),
              ElementsAre("4:14: tags[1]: \"bad tag\" is invalid: must match "
                          "^[A-Za-z0-9._-]{1,64}$"));
  EXPECT_THAT(problems(h + "meta:\n  bad.key: x\n  team: \"a\\tb\"\n"),
              ElementsAre("5:12: meta.bad.key: key \"bad.key\" is invalid: must match "
                          "^[A-Za-z0-9_-]{1,128}$",
                          "6:9: meta.team: \"a\\x09b\" is invalid: must be at most 512 printable "
                          "ASCII characters"));
  EXPECT_THAT(problems(std::string(kHead) + std::string(kHttp) + "  method: DELETE\n"),
              ElementsAre("5:11: check.method: expected one of GET, HEAD, POST, PUT, OPTIONS, got "
                          "\"DELETE\""));
}

TEST_F(WatsonConfigTest, HttpOnlyKeysWithAnotherKindAreRefused) {
  EXPECT_THAT(problems(std::string(kHead) +
                       "check:\n  tcp: 127.0.0.1:1\n  method: GET\n  expect_status: [200]\n"),
              ElementsAre("5:11: check.method: applies only to http checks",
                          "6:18: check.expect_status: applies only to http checks"));
  EXPECT_THAT(
      problems(std::string(kHead) + std::string(kHttp) + "  method: HEAD\n  expect_body: ok\n"),
      ElementsAre("6:16: check.expect_body: a HEAD response has no body"));
}

TEST_F(WatsonConfigTest, EveryProblemOfAFileAtOnce) {
  EXPECT_THAT(
      problems(R"(service: Emitter
url: http://
weight: 300
drain: forever
colour: blue
check:
  http: http://127.0.0.1/health
  exec: [nosuch-dstack]
  interval: 0s
  rise: 0
)"),
      ElementsAre("1:10: service: \"Emitter\" is invalid: must match "
                  "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$",
                  "2:6: url: \"http://\" is invalid: host is missing",
                  "3:9: weight: 300 is out of range 0..256",
                  "4:8: drain: expected a duration like 3s or 500ms, got \"forever\"",
                  "7:3: check: only one of http, tcp, exec or none may be given, found "
                  "http and exec",
                  "8:9: check.exec: \"nosuch-dstack\" is not an executable file (searched "
                  "PATH)",
                  "9:13: check.interval: 0s is below the minimum 100ms",
                  "10:9: check.rise: 0 is out of range 1..100", "5:1: colour: unknown key"));
}

// --- the services directory -------------------------------------------------------------------

class ServicesDirTest : public WatsonConfigTest {
 protected:
  std::string service(const std::string& name, const std::string& id) {
    return "service: " + name + "\nurl: http://vm101:8080\nid: " + id + "\ncheck: {none: true}\n";
  }
  std::string dir() const { return tmp_.path().string(); }
  std::string at(const std::string& name) const { return (tmp_.path() / name).string(); }
};

TEST_F(ServicesDirTest, LoadsYamlFilesAndIgnoresEverythingElse) {
  write("a.yaml", service("emitter", "one"));
  write("b.yml", service("barker", "two"));
  write(".hidden.yaml", "not: valid");
  write("notes.txt", "not: valid");
  write("c.yaml~", "not: valid");
  write("d.yaml.dpkg-old", "not: valid");
  fs::create_directory(tmp_.path() / "sub.yaml");
  auto got = load_services_dir(dir(), {});
  EXPECT_THAT(got.problems, IsEmpty());
  EXPECT_THAT(got.kept_previous, IsEmpty());
  ASSERT_EQ(got.definitions.size(), 2u);
  EXPECT_EQ(got.definitions.at(at("a.yaml")).service, "emitter");
  EXPECT_EQ(got.definitions.at(at("a.yaml")).file, at("a.yaml"));
  EXPECT_EQ(got.definitions.at(at("b.yml")).id, "two");
}

TEST_F(ServicesDirTest, InvalidFileIsReportedAndKeepsItsPreviousDefinition) {
  write("a.yaml", service("emitter", "one"));
  write("b.yaml", service("barker", "two"));
  auto first = load_services_dir(dir(), {});
  ASSERT_THAT(first.problems, IsEmpty());

  write("a.yaml", service("emitter", "one") + "weight: 999\n");
  write("b.yaml", service("barker", "two") + "weight: 7\n");
  write("c.yaml", "service: new\n");  // broken and new: nothing to keep
  auto second = load_services_dir(dir(), first.definitions);
  EXPECT_THAT(second.problems,
              ElementsAre(at("a.yaml") + ":5:9: weight: 999 is out of range 0..256",
                          at("c.yaml") + ":1:1: url: required",
                          at("c.yaml") + ":1:1: check: required (none: true registers without a "
                                         "health check)"));
  EXPECT_THAT(second.kept_previous, ElementsAre(at("a.yaml")));
  ASSERT_EQ(second.definitions.size(), 2u);
  EXPECT_EQ(second.definitions.at(at("a.yaml")), first.definitions.at(at("a.yaml")));
  EXPECT_EQ(second.definitions.at(at("b.yaml")).weight, 7);  // valid changes take effect

  fs::remove(at("a.yaml"));  // a removed file takes its definition with it
  auto third = load_services_dir(dir(), second.definitions);
  EXPECT_EQ(third.definitions.count(at("a.yaml")), 0u);
  EXPECT_THAT(third.kept_previous, IsEmpty());
}

TEST_F(ServicesDirTest, SecondFileClaimingTheSameServiceAndIdIsRefused) {
  write("a.yaml", service("emitter", "vm101:8080"));
  write("b.yaml", "service: emitter\nurl: http://vm101:8080/other\ncheck: {none: true}\n");
  write("c.yaml", service("emitter", "vm102:8080"));  // another id: fine
  auto got = load_services_dir(dir(), {});
  EXPECT_THAT(got.problems, ElementsAre(at("b.yaml") +
                                        ":1:10: service: \"emitter\" with id \"vm101:8080\" is "
                                        "already defined in " +
                                        at("a.yaml")));
  EXPECT_EQ(got.definitions.count(at("a.yaml")), 1u);
  EXPECT_EQ(got.definitions.count(at("b.yaml")), 0u);
  EXPECT_EQ(got.definitions.count(at("c.yaml")), 1u);
}

TEST_F(ServicesDirTest, RefusedDuplicateKeepsItsPreviousDefinitionUnlessThatIsTakenToo) {
  write("b.yaml", service("emitter", "old"));
  auto first = load_services_dir(dir(), {});
  write("a.yaml", service("emitter", "new"));
  write("b.yaml", service("emitter", "new"));
  auto second = load_services_dir(dir(), first.definitions);
  EXPECT_THAT(second.problems, ElementsAre(at("b.yaml") +
                                           ":1:10: service: \"emitter\" with id "
                                           "\"new\" is already defined in " +
                                           at("a.yaml")));
  EXPECT_THAT(second.kept_previous, ElementsAre(at("b.yaml")));
  EXPECT_EQ(second.definitions.at(at("b.yaml")).id, "old");

  // a.yaml now takes what b.yaml had: b.yaml's old definition cannot stay beside it.
  write("a.yaml", service("emitter", "old"));
  write("b.yaml", "service: [broken\n");
  auto third = load_services_dir(dir(), second.definitions);
  EXPECT_EQ(third.problems.size(), 1u);
  EXPECT_THAT(third.kept_previous, IsEmpty());
  ASSERT_EQ(third.definitions.size(), 1u);
  EXPECT_EQ(third.definitions.at(at("a.yaml")).id, "old");
}

TEST_F(ServicesDirTest, MissingDirIsOneProblemAndKeepsWhatWasInForce) {
  write("a.yaml", service("emitter", "one"));
  auto first = load_services_dir(dir(), {});
  const std::string gone = at("gone");
  auto got = load_services_dir(gone, first.definitions);
  EXPECT_THAT(got.problems, ElementsAre(gone + ": cannot read: No such file or directory"));
  EXPECT_EQ(got.definitions, first.definitions);
  EXPECT_THAT(got.kept_previous, ElementsAre(at("a.yaml")));
  EXPECT_THAT(load_services_dir(at("a.yaml"), {}).problems,
              ElementsAre(at("a.yaml") + ": cannot read: Not a directory"));
}

TEST_F(WatsonConfigTest, ProtocolIsReadAndMustSuitTheUrl) {
  auto def = load(std::string(kHead) + "protocol: http2\ncheck: {tcp: 127.0.0.1:8080}\n");
  EXPECT_EQ(def.protocol, model::Protocol::http2);
  EXPECT_EQ(load(std::string(kHead) + std::string(kHttp)).protocol, std::nullopt);
  EXPECT_THAT(
      problems(std::string(kHead) + "protocol: h2\n" + std::string(kHttp)),
      ElementsAre("3:11: protocol: \"h2\" is invalid: must be one of http, http2, grpc, tcp"));
  EXPECT_THAT(problems(std::string(kHead) + "protocol: tcp\n" + std::string(kHttp)),
              ElementsAre("3:11: protocol: \"tcp\" is invalid: protocol tcp needs a tcp:// url"));
}

// --- quick mode -------------------------------------------------------------------------------

TEST(QuickServiceTest, SeedFormChecksLivenessCheckEveryThreeSeconds) {
  auto def = quick_service("//services/emitter", "http://vm101/emitter", "3", "");
  EXPECT_EQ(def.service, "emitter");
  EXPECT_EQ(def.url, "http://vm101/emitter");
  EXPECT_EQ(def.id, "vm101:80");
  EXPECT_EQ(def.file, "");
  EXPECT_EQ(def.check.kind, Check::Kind::http);
  EXPECT_EQ(def.check.http_url, "http://vm101/emitter/liveness_check");
  EXPECT_EQ(def.check.http_host, "vm101");
  EXPECT_EQ(def.check.http_port, 80);
  EXPECT_EQ(def.check.http_target, "/emitter/liveness_check");
  EXPECT_EQ(def.check.interval, 3s);
  EXPECT_EQ(def.check.timeout, 2s);
  EXPECT_EQ(def.check.rise, 2);
  EXPECT_EQ(def.check.fall, 3);
}

TEST(QuickServiceTest, OtherForms) {
  auto def = quick_service("emitter", "https://vm101:8443/", "500ms", "");
  EXPECT_EQ(def.service, "emitter");
  EXPECT_EQ(def.check.http_url, "https://vm101:8443/liveness_check");
  EXPECT_TRUE(def.check.http_tls);
  EXPECT_EQ(def.check.interval, 500ms);
  EXPECT_EQ(def.check.timeout, 500ms);
  EXPECT_EQ(quick_service("//services/emitter/", "http://vm101", "", "").check.interval, 3s);

  def = quick_service("emitter", "http://vm101/emitter", "", "http://127.0.0.1:9000/ping");
  EXPECT_EQ(def.check.http_url, "http://127.0.0.1:9000/ping");
  EXPECT_EQ(def.check.http_port, 9000);

  def = quick_service("db", "tcp://vm101:5432", "10", "");
  EXPECT_EQ(def.check.kind, Check::Kind::tcp);
  EXPECT_EQ(def.check.tcp_host, "vm101");
  EXPECT_EQ(def.check.tcp_port, 5432);
  EXPECT_EQ(def.check.interval, 10s);
}

// docs/watson.md#protocol: --protocol, and an HTTP/2 service is connected to rather than sent an
// HTTP/1.1 GET it may not answer.
TEST(QuickServiceTest, ProtocolAndTheCheckItImplies) {
  auto def = quick_service("greeter", "http://vm101:50051", "", "", "grpc");
  EXPECT_EQ(def.protocol, model::Protocol::grpc);
  EXPECT_EQ(def.check.kind, Check::Kind::tcp);
  EXPECT_EQ(def.check.tcp_host, "vm101");
  EXPECT_EQ(def.check.tcp_port, 50051);
  def = quick_service("greeter", "http://vm101:50051", "", "http://vm101:8081/health", "http2");
  EXPECT_EQ(def.protocol, model::Protocol::http2);
  EXPECT_EQ(def.check.kind, Check::Kind::http);
  EXPECT_EQ(quick_service("emitter", "http://vm101", "", "").protocol, std::nullopt);
  try {
    quick_service("greeter", "tcp://vm101:50051", "", "", "grpc");
    ADD_FAILURE() << "a grpc tcp:// instance was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre("--protocol: \"grpc\" is invalid: a tcp:// url speaks "
                                       "protocol tcp (http, http2 and grpc need http:// or "
                                       "https://)"));
  }
  try {
    quick_service("greeter", "http://vm101", "", "", "GRPC");
    ADD_FAILURE() << "GRPC was accepted";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(
        e.lines(),
        ElementsAre("--protocol: \"GRPC\" is invalid: must be one of http, http2, grpc, tcp"));
  }
}

TEST(QuickServiceTest, Refusals) {
  EXPECT_THAT(quick_problems("Emitter", "http://vm101", "3", ""),
              ElementsAre("SERVICE: \"Emitter\" is invalid: must match "
                          "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"));
  EXPECT_THAT(quick_problems("//services", "http://vm101", "3", ""),
              ElementsAre("SERVICE: \"//services\" names no service (expected NAME or "
                          "//HOST/NAME)"));
  EXPECT_THAT(quick_problems("emitter", "vm101:8080", "3", ""),
              ElementsAre("URL: \"vm101:8080\" is invalid: must start with http://, https:// or "
                          "tcp://"));
  EXPECT_THAT(quick_problems("emitter", "http://vm101", "soon", ""),
              ElementsAre("INTERVAL: expected whole seconds like 3 or a duration like 500ms, got "
                          "\"soon\""));
  EXPECT_THAT(quick_problems("emitter", "http://vm101", "0", ""),
              ElementsAre("INTERVAL: 0 is below the minimum 100ms"));
  EXPECT_THAT(quick_problems("emitter", "http://vm101", "7200", ""),
              ElementsAre("INTERVAL: 7200 is above the maximum 1h"));
  EXPECT_THAT(quick_problems("emitter", "http://vm101", "3", "tcp://vm101:1"),
              ElementsAre("--check: \"tcp://vm101:1\" is invalid: a check URL must start with "
                          "http:// or https://"));
  EXPECT_THAT(quick_problems("Bad", "http://", "0s", ""),
              ElementsAre("SERVICE: \"Bad\" is invalid: must match "
                          "^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$",
                          "URL: \"http://\" is invalid: host is missing",
                          "INTERVAL: 0s is below the minimum 100ms"));
}

// --- watson.yaml ------------------------------------------------------------------------------

void expect_watson_defaults(const WatsonConfig& cfg) {
  ASSERT_EQ(cfg.directories.size(), 1u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://127.0.0.1:7400");
  EXPECT_EQ(cfg.services_dir, "/etc/datawire.d");
  EXPECT_EQ(cfg.token_file, "");
  EXPECT_EQ(cfg.token, "");
  EXPECT_EQ(cfg.lease_ttl, 10s);
  EXPECT_EQ(cfg.listen.to_string(), "127.0.0.1:7401");
  EXPECT_EQ(cfg.log_level, "info");
}

TEST_F(WatsonConfigTest, WatsonYamlDefaults) {
  expect_watson_defaults(load_watson_config(write("watson.yaml", "# nothing\n"), true));
  expect_watson_defaults(load_watson_config(write("watson.yaml", "directories: []\n"), true));
  expect_watson_defaults(load_watson_config((tmp_.path() / "absent.yaml").string(), false));
  const auto absent = (tmp_.path() / "absent.yaml").string();
  try {
    load_watson_config(absent, true);
    ADD_FAILURE() << "accepted a missing file that was asked for";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(), ElementsAre(absent + ": cannot read: No such file or directory"));
  }
}

TEST_F(WatsonConfigTest, FullWatsonYamlMapsToTheStruct) {
  const auto token = write("token", "  s3cret \n");
  auto cfg = load_watson_config(write("watson.yaml", R"(directories:
  - http://10.0.0.1:7400
  - //dir2/services/directory
  - https://dir3
services_dir: /srv/datawire.d
token_file: )" + token + R"(
directory_ca_file: /etc/ssl/certs/ca-certificates.crt
lease_ttl: 30s
listen: "[::1]:7500"
log_level: debug
)"),
                                true);
  ASSERT_EQ(cfg.directories.size(), 3u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://10.0.0.1:7400");
  EXPECT_EQ(cfg.directories[1].to_string(), "http://dir2:7400");
  EXPECT_EQ(cfg.directories[2].to_string(), "https://dir3:7400");
  EXPECT_EQ(cfg.services_dir, "/srv/datawire.d");
  EXPECT_EQ(cfg.token_file, token);
  EXPECT_EQ(cfg.token, "s3cret");
  EXPECT_EQ(cfg.directory_ca_file, "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(cfg.lease_ttl, 30s);
  EXPECT_EQ(cfg.listen.host, "::1");
  EXPECT_EQ(cfg.listen.port, 7500);
  EXPECT_EQ(cfg.log_level, "debug");
}

TEST_F(WatsonConfigTest, WatsonYamlProblems) {
  EXPECT_THAT(watson_problems("lease_tll: 5s\n"), ElementsAre("1:1: lease_tll: unknown key"));
  EXPECT_THAT(watson_problems("directories: http://dir1\n"),
              ElementsAre("1:14: directories: expected a list, got \"http://dir1\""));
  EXPECT_THAT(watson_problems("directories: [\"ftp://dir1\", \"http://dir2/x\"]\n"),
              ElementsAre("1:15: directories[0]: directory address \"ftp://dir1\" is invalid: use "
                          "http://, https://, etcd://, etcds://, //host or host[:port]",
                          "1:29: directories[1]: directory address \"http://dir2/x\" is invalid: "
                          "a directory address has no path (did you mean //dir2/x?)"));
  EXPECT_THAT(watson_problems("directories: [dir1, \"http://dir1:7400\"]\n"),
              ElementsAre("1:21: directories[1]: \"http://dir1:7400\" is listed twice (as "
                          "http://dir1:7400)"));
  EXPECT_THAT(watson_problems("lease_ttl: 1500ms\n"),
              ElementsAre("1:12: lease_ttl: must be a whole number of seconds"));
  EXPECT_THAT(watson_problems("lease_ttl: 0s\n"),
              ElementsAre("1:12: lease_ttl: 0s is below the minimum 1s"));
  EXPECT_THAT(watson_problems("lease_ttl: 2h\n"),
              ElementsAre("1:12: lease_ttl: 2h is above the maximum 1h"));
  EXPECT_THAT(watson_problems("listen: 127.0.0.1:99999\n"),
              ElementsAre("1:9: listen: \"127.0.0.1:99999\": port must be 1..65535"));
  EXPECT_THAT(watson_problems("log_level: loud\n"),
              ElementsAre("1:12: log_level: \"loud\" is not a log level (trace, debug, info, warn, "
                          "error, off)"));
  EXPECT_THAT(watson_problems("services_dir: \"\"\n"),
              ElementsAre("1:15: services_dir: must not be empty"));
  const auto missing = (tmp_.path() / "no-token").string();
  const auto empty = write("empty-token", "\n");
  // The packaged watson.yaml names a token file an admin has yet to make: say how.
  EXPECT_THAT(watson_problems("token_file: " + missing + "\n"),
              ElementsAre("1:13: token_file: \"" + missing +
                          "\": cannot read: No such file or directory; an admin makes this "
                          "host's token with `dw token create NAME --policy ...` "
                          "(docs/install.md#a-token-for-each-host)"));
  EXPECT_THAT(watson_problems("token_file: " + empty + "\n"),
              ElementsAre("1:13: token_file: \"" + empty + "\": is empty"));
  // A token file that never ends a line is read no further than 4 KiB (it used to read
  // /dev/zero until memory ran out); a token of 4096 bytes is still a token.
  EXPECT_THAT(watson_problems("token_file: /dev/zero\n"),
              ElementsAre("1:13: token_file: \"/dev/zero\": its first line is longer than 4096 "
                          "bytes: not a token"));
  const auto longest = write("longest-token", std::string(4096, 'k'));
  EXPECT_THAT(watson_problems("token_file: " + longest + "\n"), ElementsAre("<accepted>"));
  EXPECT_THAT(watson_problems("directory_ca_file: " + missing + "\n"),
              ElementsAre("1:20: directory_ca_file: \"" + missing +
                          "\": cannot read: No such file or directory"));
  // A client certificate needs its key, and both must be PEM (docs/security.md).
  const auto not_pem = write("not-pem", "not a certificate\n");
  EXPECT_THAT(watson_problems("tls_cert: " + not_pem + "\n"),
              ElementsAre("1:11: tls_cert: needs tls_cert and tls_key together"));
  EXPECT_THAT(watson_problems("tls_key: " + not_pem + "\n"),
              ElementsAre("1:10: tls_key: needs tls_cert and tls_key together"));
  EXPECT_THAT(watson_problems("tls_cert: " + not_pem + "\ntls_key: " + not_pem + "\n"),
              ElementsAre(::testing::StartsWith("1:11: tls_cert: cert \"" + not_pem + "\": ")));
  EXPECT_THAT(watson_problems("lease_ttl: 0s\nlisten: \":1\"\nbogus: 1\n"),
              ElementsAre("1:12: lease_ttl: 0s is below the minimum 1s",
                          "2:9: listen: \":1\": host is missing", "3:1: bogus: unknown key"));
}

// --- command-line flags over watson.yaml -----------------------------------------------------

TEST_F(WatsonConfigTest, FlagsOverrideTheFile) {
  ::unsetenv("DSTACK_DIRECTORY");
  auto cfg = load_watson_config(write("watson.yaml", "directories: [a, b]\n"), true);
  const auto token = write("token", "t0k\n");
  apply_overrides(
      cfg, {{"//dir1/services/directory", "https://dir2:7500"}, "127.0.0.1:7555", token, "debug"});
  ASSERT_EQ(cfg.directories.size(), 2u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://dir1:7400");
  EXPECT_EQ(cfg.directories[1].to_string(), "https://dir2:7500");
  EXPECT_EQ(cfg.listen.port, 7555);
  EXPECT_EQ(cfg.token, "t0k");
  EXPECT_EQ(cfg.log_level, "debug");

  auto untouched = load_watson_config(write("watson.yaml", "directories: [a, b]\n"), true);
  apply_overrides(untouched, {});
  EXPECT_EQ(untouched.directories.size(), 2u);
}

TEST_F(WatsonConfigTest, EnvironmentDirectoryComesAfterTheFlag) {
  ::setenv("DSTACK_DIRECTORY", "envdir:7600", 1);
  auto cfg = load_watson_config(write("watson.yaml", "directories: [a, b]\n"), true);
  apply_overrides(cfg, {});
  ASSERT_EQ(cfg.directories.size(), 1u);
  EXPECT_EQ(cfg.directories[0].to_string(), "http://envdir:7600");
  apply_overrides(cfg, {{"flagdir"}, "", "", ""});
  EXPECT_EQ(cfg.directories.at(0).to_string(), "http://flagdir:7400");
  ::setenv("DSTACK_DIRECTORY", "ftp://nope", 1);
  try {
    apply_overrides(cfg, {});
    ADD_FAILURE() << "accepted a bad $DSTACK_DIRECTORY";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(e.lines(),
                ElementsAre(HasSubstr("DSTACK_DIRECTORY: directory address \"ftp://nope\"")));
  }
  ::unsetenv("DSTACK_DIRECTORY");
}

TEST_F(WatsonConfigTest, BadFlagsAreAllReported) {
  auto cfg = default_watson_config();
  const auto missing = (tmp_.path() / "no-token").string();
  try {
    apply_overrides(cfg, {{"http://d/x"}, ":1", missing, "loud"});
    ADD_FAILURE() << "accepted bad flags";
  } catch (const config::ConfigError& e) {
    EXPECT_THAT(
        e.lines(),
        ElementsAre(StartsWith("-d: directory address \"http://d/x\""), StartsWith("--listen: "),
                    "--token-file: \"" + missing + "\": cannot read: No such file or directory",
                    StartsWith("--log-level: \"loud\"")));
  }
}

// --- the example files in etc/ ---------------------------------------------------------------

// What the package installs; watson.yaml names the host's own token, which an admin makes after
// installing (docs/install.md#a-token-for-each-host).
TEST_F(WatsonConfigTest, EtcFilesAreValid) {
  const fs::path etc = fs::path(__FILE__).parent_path().parent_path().parent_path() / "etc";
  std::ifstream in(etc / "watson.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string packaged = "token_file: /etc/datawire/watson.token\n";
  const auto at = text.find(packaged);
  ASSERT_NE(at, std::string::npos) << "etc/watson.yaml names no host token";
  const auto token = write("watson.token", "made-by-dw-token-create\n");
  text.replace(at, packaged.size(), "token_file: " + token + "\n");
  auto cfg = parse_watson_config(text, "watson.yaml");
  EXPECT_EQ(cfg.token, "made-by-dw-token-create");
  EXPECT_EQ(cfg.services_dir, "/etc/datawire.d");
  auto dir = load_services_dir((etc / "datawire.d").string(), {});
  EXPECT_THAT(dir.problems, IsEmpty());
  const auto file = (etc / "datawire.d" / "emitter.yaml").string();
  ASSERT_EQ(dir.definitions.count(file), 1u);
  const auto& def = dir.definitions.at(file);
  EXPECT_EQ(def.service, "emitter");
  EXPECT_EQ(def.id, "vm101:8080");
  EXPECT_EQ(def.version, "2");
  EXPECT_EQ(def.check.kind, Check::Kind::http);
  EXPECT_EQ(def.check.timeout, 1s);
}

}  // namespace
}  // namespace dstack::watson
