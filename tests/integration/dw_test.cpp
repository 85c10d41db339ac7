// SPDX-License-Identifier: Apache-2.0
// dw against a real directory: every command of docs/dw.md, its tables and --json, and its exit
// codes (0 ok, 64 usage, 65 refused input, 69 unreachable, 77 not authorized).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "directory_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;

struct DwRun {
  int code = -1;
  std::string out;
  std::string err;
};

class DwTest : public ::testing::Test {
 protected:
  explicit DwTest(DirectoryOptions options = {}) : dir_(std::move(options)) { dir_.start(); }

  std::string address() const { return "127.0.0.1:" + std::to_string(dir_.port()); }

  // Runs dw with `-d` pointing at the test's directory, unless `args` starts with "-d" itself.
  DwRun dw(std::vector<std::string> args) {
    std::vector<std::string> argv{DSTACK_DW_BIN};
    if (args.empty() || args[0] != "-d") {
      argv.push_back("-d");
      argv.push_back(address());
    }
    argv.insert(argv.end(), args.begin(), args.end());
    Process p(argv, logs_.path());
    auto code = p.wait(10s);
    if (!code) ADD_FAILURE() << "dw did not finish in time";
    return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
  }

  void register_emitter() {
    auto lease = dir_.grant(60);
    dir_.put_instance(
        "emitter", "vm101:8080", lease,
        {{"url", "http://10.0.0.1:8080/emitter"}, {"version", "2"}, {"tags", {"blue"}}});
    dir_.put_instance("emitter", "vm102:8080", lease,
                      {{"url", "http://10.0.0.2:8080/emitter"}, {"health", "maintenance"}});
  }

  Directory dir_;
  TempDir logs_;
};

TEST_F(DwTest, ServicesListsEachServiceWithCounts) {
  register_emitter();
  auto r = dw({"services"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "SERVICE  INSTANCES  ROUTABLE  ROUTES\n"
            "emitter  2          1         0\n");
  auto j = dw({"--json", "services"});
  ASSERT_EQ(j.code, 0);
  EXPECT_EQ(json::parse(j.out),
            json::parse(R"([{"name":"emitter","instances":2,"routable":1,"routes":0}])"));
}

TEST_F(DwTest, InstancesShowsEveryInstance) {
  register_emitter();
  auto r = dw({"instances", "//services/emitter"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID          VERSION  WEIGHT  HEALTH       URL                           TAGS\n"
            "vm101:8080  2        100     passing      http://10.0.0.1:8080/emitter  blue\n"
            "vm102:8080  1        100     maintenance  http://10.0.0.2:8080/emitter  \n");
  auto j = dw({"--json", "instances", "emitter"});
  ASSERT_EQ(j.code, 0);
  auto list = json::parse(j.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["url"], "http://10.0.0.1:8080/emitter");
  EXPECT_EQ(list[1]["health"], "maintenance");
}

TEST_F(DwTest, UnknownServiceIsRefusedInput) {
  auto r = dw({"instances", "nosuch"});
  EXPECT_EQ(r.code, 65);
  EXPECT_EQ(r.err, "dw: no service named nosuch\n");
  auto bad = dw({"instances", "No_Such!"});
  EXPECT_EQ(bad.code, 65);
  EXPECT_THAT(bad.err, HasSubstr("service \"No_Such!\" is invalid: must match"));
}

TEST_F(DwTest, RouteSetListAndRemove) {
  auto set = dw({"route", "set", "emitter", "2=10", "1=80%"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(set.out, "route for emitter (everyone): 2=10% 1=80% (others 10%)\n");
  auto mine = dw({"route", "set", "emitter", "2=50", "--consumer", "monolith"});
  ASSERT_EQ(mine.code, 0) << mine.err;

  auto list = dw({"route", "list"});
  ASSERT_EQ(list.code, 0);
  EXPECT_EQ(list.out,
            "SERVICE  CONSUMER  TARGETS\n"
            "emitter  everyone  2=10% 1=80% (others 10%)\n"
            "emitter  monolith  2=50% (others 50%)\n");
  auto stored = body_json(dir_.get("/v1/routes/emitter?consumer=monolith"));
  EXPECT_EQ(stored["targets"], json::parse(R"([{"version":"2","weight":50}])"));

  auto rm = dw({"route", "rm", "emitter", "--consumer", "monolith"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "route for emitter (monolith) removed\n");
  EXPECT_EQ(dir_.get("/v1/routes/emitter?consumer=monolith").status, 404);
  EXPECT_EQ(dir_.get("/v1/routes/emitter").status, 200);

  auto again = dw({"route", "rm", "emitter", "--consumer", "monolith"});
  EXPECT_EQ(again.code, 65);
  EXPECT_EQ(again.err, "dw: service emitter has no route for consumer monolith\n");
}

// docs/dw.md#route-rollback-svc---consumer-c: back to the split before, undone by a second one;
// a first route rolls back to none.
TEST_F(DwTest, RouteRollbackPutsBackTheSplitBefore) {
  ASSERT_EQ(dw({"route", "set", "emitter", "2=10"}).code, 0);
  ASSERT_EQ(dw({"route", "set", "emitter", "2=50"}).code, 0);
  auto back = dw({"route", "rollback", "emitter"});
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(back.out, "route for emitter (everyone) rolled back: 2=10% (others 90%)\n");
  EXPECT_EQ(body_json(dir_.get("/v1/routes/emitter"))["targets"],
            json::parse(R"([{"version":"2","weight":10}])"));
  auto undo = dw({"--json", "route", "rollback", "emitter"});
  ASSERT_EQ(undo.code, 0) << undo.err;
  EXPECT_EQ(json::parse(undo.out)["targets"], json::parse(R"([{"version":"2","weight":50}])"));
  ASSERT_EQ(dw({"route", "set", "emitter", "2=50", "--consumer", "monolith"}).code, 0);
  auto none = dw({"route", "rollback", "emitter", "--consumer", "monolith"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "route for emitter (monolith) rolled back to none: it was the first\n");
  EXPECT_EQ(dir_.get("/v1/routes/emitter?consumer=monolith").status, 404);
  auto missing = dw({"route", "rollback", "emitter", "--consumer", "monolith"});
  EXPECT_EQ(missing.code, 65);
  EXPECT_EQ(missing.err, "dw: service emitter has no route for consumer monolith\n");
}

// docs/dw.md#traffic-policies: set replaces the whole policy, show prints it in the flags'
// own words, rm removes it; every problem is named before anything is sent.
TEST_F(DwTest, PolicySetShowAndRemove) {
  auto set = dw({"policy", "set", "emitter", "--retries", "2", "--retry-on", "conn-failure,503",
                 "--timeout", "5s", "--max-conn", "100", "--queue-timeout", "1s", "--balance",
                 "hash:header:X-User"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(set.out,
            "policy for emitter: retries=2 retry-on=conn-failure,503 timeout=5s max-conn=100 "
            "queue-timeout=1s balance=hash:header:X-User\n");
  const auto stored = body_json(dir_.get("/v1/policies/emitter"));
  EXPECT_EQ(stored["max_conn"], 100);
  EXPECT_EQ(stored["retry_on"], json::parse(R"(["conn-failure","503"])"));

  auto replaced = dw({"policy", "set", "//services/emitter", "--eject", "5xx:5"});
  ASSERT_EQ(replaced.code, 0) << replaced.err;
  EXPECT_EQ(replaced.out, "policy for emitter: eject=5xx:5\n");
  ASSERT_EQ(dw({"policy", "set", "barker", "--balance", "leastconn"}).code, 0);

  auto show = dw({"policy", "show"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(show.out, "barker: balance=leastconn\nemitter: eject=5xx:5\n");
  auto one = dw({"--json", "policy", "show", "emitter"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["eject"], "5xx:5");
  EXPECT_EQ(json::parse(one.out)["service"], "emitter");

  auto rm = dw({"policy", "rm", "emitter"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(rm.out, "policy for emitter removed\n");
  EXPECT_EQ(dir_.get("/v1/policies/emitter").status, 404);
  auto again = dw({"policy", "rm", "emitter"});
  EXPECT_EQ(again.code, 65);
  EXPECT_EQ(again.err, "dw: service emitter has no traffic policy\n");
  EXPECT_EQ(dw({"policy", "show", "emitter"}).code, 65);
}

TEST_F(DwTest, InvalidPoliciesAreRefusedWithEveryProblemAndChangeNothing) {
  ASSERT_EQ(dw({"policy", "set", "emitter", "--retries", "1"}).code, 0);
  auto bad = dw({"policy", "set", "emitter", "--retries", "11", "--queue-timeout", "1s",
                 "--retry-on", "5xx"});
  EXPECT_EQ(bad.code, 65);
  EXPECT_THAT(bad.err, HasSubstr("dw: retries 11 is out of range 0..10\n"));
  EXPECT_THAT(bad.err, HasSubstr("dw: queue_timeout: needs max_conn"));
  EXPECT_THAT(bad.err, HasSubstr("dw: retry_on[0] \"5xx\" is invalid"));
  EXPECT_EQ(bad.out, "");
  // Values that are not even of their kind are named first, all of them.
  auto unreadable = dw({"policy", "set", "emitter", "--balance", "hash:header:X-User%", "--timeout",
                        "soon", "--max-conn", "many", "--eject", "5xx:0"});
  EXPECT_EQ(unreadable.code, 65);
  EXPECT_THAT(unreadable.err, HasSubstr("dw: balance \"hash:header:X-User%\" is invalid: the "
                                        "header name must match ^[A-Za-z0-9-]{1,64}$\n"));
  EXPECT_THAT(unreadable.err, HasSubstr("dw: timeout \"soon\" is invalid"));
  EXPECT_THAT(unreadable.err, HasSubstr("dw: max_conn: expected an integer, got a string"));
  EXPECT_THAT(unreadable.err, HasSubstr("dw: eject \"5xx:0\" is invalid"));
  EXPECT_EQ(body_json(dir_.get("/v1/policies/emitter"))["retries"], 1);
  EXPECT_EQ(dw({"policy", "set", "Emitter"}).code, 65);
}

TEST_F(DwTest, RouteListJsonForOneService) {
  ASSERT_EQ(dw({"route", "set", "emitter", "2=10"}).code, 0);
  ASSERT_EQ(dw({"route", "set", "barker", "3=1"}).code, 0);
  auto r = dw({"--json", "route", "list", "barker"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto list = json::parse(r.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["service"], "barker");
  EXPECT_EQ(list[0]["targets"], json::parse(R"([{"version":"3","weight":1}])"));
}

TEST_F(DwTest, JsonWritesShowWhatTheDirectoryStored) {
  auto set = dw({"--json", "route", "set", "emitter", "2=10"});
  ASSERT_EQ(set.code, 0) << set.err;
  auto stored = json::parse(set.out);
  EXPECT_EQ(stored["revision"], dir_.revision());
  EXPECT_EQ(stored["targets"], json::parse(R"([{"version":"2","weight":10}])"));
  auto rm = dw({"--json", "route", "rm", "emitter"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_EQ(json::parse(rm.out), json::parse(R"({"service":"emitter","removed":true})"));
}

TEST_F(DwTest, SeedRouteAddBuildsTheConsumersRouteStepByStep) {
  auto first = dw({"route", "add", "//monolith", "//barker(2)", "10%"});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.out, "route for barker (monolith): 2=10% (others 90%)\n");
  auto second = dw({"route", "add", "//monolith", "//barker(3)", "5%"});
  ASSERT_EQ(second.code, 0) << second.err;
  auto changed = dw({"route", "add", "//monolith", "//barker(2)", "20%"});
  ASSERT_EQ(changed.code, 0) << changed.err;
  EXPECT_EQ(changed.out, "route for barker (monolith): 2=20% 3=5% (others 75%)\n");
  auto stored = body_json(dir_.get("/v1/routes/barker?consumer=monolith"));
  EXPECT_EQ(stored["targets"],
            json::parse(R"([{"version":"2","weight":20},{"version":"3","weight":5}])"));
  EXPECT_EQ(dir_.get("/v1/routes/barker").status, 404) << "the route is the consumer's only";
}

TEST_F(DwTest, InvalidRoutesAreRefusedAndChangeNothing) {
  ASSERT_EQ(dw({"route", "set", "emitter", "2=10"}).code, 0);
  auto over = dw({"route", "set", "emitter", "2=60", "3=50"});
  EXPECT_EQ(over.code, 65);
  EXPECT_EQ(over.err, "dw: targets: weights add up to 110, more than 100\n");
  auto malformed = dw({"route", "set", "emitter", "2:10"});
  EXPECT_EQ(malformed.code, 65);
  EXPECT_EQ(malformed.err, "dw: target \"2:10\" is invalid: write VERSION=PERCENT, like 2=10\n");
  auto seed = dw({"route", "add", "//monolith", "//barker", "10%"});
  EXPECT_EQ(seed.code, 65);
  auto stored = body_json(dir_.get("/v1/routes/emitter"));
  EXPECT_EQ(stored["targets"], json::parse(R"([{"version":"2","weight":10}])"));
}

TEST_F(DwTest, UsageErrorsExit64) {
  EXPECT_EQ(dw({"bogus"}).code, 64);
  EXPECT_EQ(dw({"route"}).code, 64);
  EXPECT_EQ(dw({"route", "set", "emitter"}).code, 64);
  auto bad_address = dw({"-d", "ftp://x", "services"});
  EXPECT_EQ(bad_address.code, 64);
  EXPECT_THAT(bad_address.err, HasSubstr("directory address \"ftp://x\" is invalid"));
}

// Something that is not a directory on -d's address, answering 200 with counts of the wrong
// type: dw says so and exits 69, where it used to end with an uncaught nlohmann type_error (or,
// for -1, print a wrapped count).
TEST_F(DwTest, ServiceCountsOfTheWrongTypeExit69) {
  TestService impostor;
  const std::string at = "127.0.0.1:" + std::to_string(impostor.port());
  for (const std::string count : {R"("3")", "-1", "1.5", "null"}) {
    impostor.set_ok_body(R"({"services": [{"name": "emitter", "instances": )" + count + "}]}");
    auto r = dw({"-d", at, "services"});
    EXPECT_EQ(r.code, 69) << count << "\n" << r.err;
    EXPECT_THAT(r.err, HasSubstr("service entry \"emitter\": \"instances\" is not a count"))
        << count;
  }
  impostor.set_ok_body(R"({"services": [{"name": "emitter", "instances": 3}]})");
  auto r = dw({"-d", at, "services"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "SERVICE  INSTANCES  ROUTABLE  ROUTES\n"
            "emitter  3          0         0\n");
}

TEST_F(DwTest, UnreachableDirectoryExits69) {
  auto port = free_port();
  auto r = dw({"-d", "127.0.0.1:" + std::to_string(port), "services"});
  EXPECT_EQ(r.code, 69);
  EXPECT_THAT(r.err, HasSubstr("cannot connect"));
}

TEST_F(DwTest, AddressFormsAndEnvironment) {
  EXPECT_EQ(dw({"-d", "http://" + address(), "services"}).code, 0);
  ::setenv("DSTACK_DIRECTORY", ("http://" + address()).c_str(), 1);
  std::vector<std::string> argv{DSTACK_DW_BIN, "status"};
  Process p(argv, logs_.path());
  auto code = p.wait(10s);
  ::unsetenv("DSTACK_DIRECTORY");
  EXPECT_EQ(code, 0) << p.stderr_text();
  EXPECT_THAT(p.stdout_text(), HasSubstr("directory  http://" + address()));
}

TEST_F(DwTest, StatusShowsHealthAndCounts) {
  register_emitter();
  auto r = dw({"status"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("status     ok\n"));
  EXPECT_THAT(r.out, HasSubstr("epoch      " + dir_.epoch() + "\n"));
  EXPECT_THAT(r.out, HasSubstr("instances  2 (1 routable)\n"));
  auto j = json::parse(dw({"--json", "status"}).out);
  EXPECT_EQ(j["revision"], dir_.revision());
  EXPECT_EQ(j["services"], 1);
}

TEST_F(DwTest, WatchPrintsEventsAsTheyHappenAndSurvivesARestart) {
  std::vector<std::string> argv{DSTACK_DW_BIN, "-d", address(), "--json", "watch"};
  Process watch(argv, logs_.path());
  // The watch is open once a change made now shows up.
  ASSERT_TRUE(poll_until(10s, [&] {
    dir_.put("/v1/routes/probe", R"({"targets":[{"version":"1","weight":1}]})");
    return watch.stdout_text().find("\"probe\"") != std::string::npos;
  }));
  auto before = watch.stdout_text().size();
  ASSERT_EQ(dw({"route", "set", "emitter", "2=10"}).code, 0);
  ASSERT_TRUE(poll_until(
      5s, [&] { return watch.stdout_text().find("\"emitter\"", before) != std::string::npos; }));
  // Later probe events may still be arriving: take the emitter's line.
  auto text = watch.stdout_text();
  auto at = text.rfind('\n', text.find("\"emitter\"", before)) + 1;
  auto event = json::parse(text.substr(at, text.find('\n', at) - at));
  EXPECT_EQ(event["type"], "route_put");
  EXPECT_EQ(event["route"]["targets"], json::parse(R"([{"version":"2","weight":10}])"));

  // A restart changes the epoch: dw says so and carries on with the new directory.
  dir_.restart();
  ASSERT_TRUE(poll_until(15s, [&] {
    return watch.stderr_text().find("directory restarted") != std::string::npos;
  })) << watch.stderr_text();
  before = watch.stdout_text().size();
  ASSERT_TRUE(poll_until(10s, [&] {
    dir_.put("/v1/routes/after", R"({"targets":[{"version":"1","weight":1}]})");
    return watch.stdout_text().find("\"after\"", before) != std::string::npos;
  }));
  EXPECT_TRUE(watch.running());
}

class DwAuthTest : public DwTest {
 protected:
  DwAuthTest()
      : DwTest(DirectoryOptions{
            "", {"--token-file", "{dir}/token"}, "s3cret", {{"token", "s3cret\n"}}, false}) {}
};

TEST_F(DwAuthTest, WritesWithoutTheTokenExit77AndChangeNothing) {
  auto r = dw({"route", "set", "emitter", "2=10"});
  EXPECT_EQ(r.code, 77);
  EXPECT_THAT(r.err, HasSubstr("this request needs a token with routes:emitter"));
  EXPECT_EQ(dir_.get("/v1/routes/emitter").status, 404);
  auto token = dir_.dir().write("dw-token", "s3cret\n");
  auto ok = dw({"--token-file", token.string(), "route", "set", "emitter", "2=10"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(dir_.get("/v1/routes/emitter").status, 200);
  // Reads need no token.
  EXPECT_EQ(dw({"route", "list"}).code, 0);
}

// dw token create|list|revoke (docs/dw.md#tokens) with the admin token: the secret alone on
// stdout, so it can be redirected into a token file that watson or dw then uses; a scoped token
// cannot administer tokens; bad input is refused before anything is sent.
TEST_F(DwAuthTest, TokensAreCreatedListedAndRevoked) {
  const auto admin = dir_.dir().write("admin-token", "s3cret\n").string();
  auto created = dw({"--token-file", admin, "token", "create", "vm101", "--policy",
                     "register:emitter", "--policy", "read", "--ttl", "30d"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_THAT(created.out, ::testing::MatchesRegex("dstack_[A-Za-z0-9_-]{43}\n"));
  EXPECT_THAT(created.err, HasSubstr("token vm101 created (register:emitter,read, expires "));
  const auto vm101 = dir_.dir().write("vm101-token", created.out).string();

  // The new token reads, but administers nothing.
  EXPECT_EQ(dw({"--token-file", vm101, "services"}).code, 0);
  auto denied = dw({"--token-file", vm101, "token", "list"});
  EXPECT_EQ(denied.code, 77);
  EXPECT_THAT(denied.err, HasSubstr("dw: token vm101 lacks admin"));

  auto list = dw({"--token-file", admin, "token", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, ::testing::ContainsRegex(
                            "vm101 +register:emitter,read +20[0-9-]+T[0-9:]+Z +20[0-9-]+T[0-9:]+Z "
                            "+20[0-9-]+T[0-9:]+Z"));
  EXPECT_THAT(list.out, ::testing::Not(HasSubstr(created.out.substr(0, 20))));
  auto listed = json::parse(dw({"--token-file", admin, "--json", "token", "list"}).out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["policies"], json({"register:emitter", "read"}));

  auto revoked = dw({"--token-file", admin, "token", "revoke", "vm101"});
  EXPECT_EQ(revoked.code, 0) << revoked.err;
  EXPECT_EQ(revoked.out, "token vm101 revoked\n");
  auto after = dw({"--token-file", vm101, "services"});
  EXPECT_EQ(after.code, 77);
  EXPECT_THAT(after.err, HasSubstr("the token is not valid"));
  auto again = dw({"--token-file", admin, "token", "revoke", "vm101"});
  EXPECT_EQ(again.code, 65);
  EXPECT_THAT(again.err, HasSubstr("dw: no token named vm101"));
}

TEST_F(DwAuthTest, BadTokenArgumentsAreRefusedBeforeAnythingIsSent) {
  const auto admin = dir_.dir().write("admin-token", "s3cret\n").string();
  auto r = dw(
      {"--token-file", admin, "token", "create", "VM 1", "--policy", "regster:x", "--ttl", "1.5s"});
  EXPECT_EQ(r.code, 65);
  EXPECT_THAT(r.err, HasSubstr("dw: token \"VM 1\" is invalid: must match"));
  EXPECT_THAT(r.err, HasSubstr("dw: policy \"regster:x\" is invalid: must be read, report, "
                               "admin, register:GLOB or routes:GLOB"));
  EXPECT_THAT(r.err, HasSubstr("dw: --ttl \"1.5s\" is invalid: must be a whole number of "
                               "seconds, at least 1s, such as 12h or 30d"));
  EXPECT_EQ(body_json(dir_.request("GET", "/v1/tokens"))["tokens"], json::array());
  // Nothing reached the directory: every write is in its audit trail, and none is there.
  EXPECT_THAT(dir_.process().stderr_text(), ::testing::Not(HasSubstr("POST /v1/tokens")));
}

}  // namespace
}  // namespace dstack::test
