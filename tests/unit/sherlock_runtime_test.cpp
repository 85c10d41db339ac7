// SPDX-License-Identifier: Apache-2.0
// What sherlock sends HAProxy's runtime API for a change, and how it reads HAProxy's answers:
// the diff between two plans (commands per server, what needs a reload instead), the runtime
// part of a structural change, prompt-mode transcripts and `show proc`. The answers below are
// HAProxy 2.6.12's own, captured from the real binary (docs/notes/haproxy-2.6.md §1.2, §9).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sherlock/haproxy_cli.hpp"
#include "sherlock/haproxy_master.hpp"
#include "sherlock/runtime_diff.hpp"

namespace dstack::sherlock {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

PlannedServer server(std::string name, std::string address, int weight, std::uint16_t port = 8080) {
  PlannedServer s;
  s.name = std::move(name);
  s.address = std::move(address);
  s.port = port;
  s.weight = weight;
  return s;
}

PlannedBackend backend(std::string service, std::vector<PlannedServer> servers,
                       std::string base = "") {
  PlannedBackend be;
  be.service = std::move(service);
  be.base_path = std::move(base);
  be.servers = std::move(servers);
  return be;
}

std::vector<std::string> lines(const RuntimeDiff& d) {
  std::vector<std::string> out;
  for (const auto& c : d.commands) out.push_back(c.line);
  return out;
}

struct RuntimeDiffTest : ::testing::Test {
  SherlockConfig cfg;
  RuntimePaths paths = runtime_paths(cfg);
  std::map<ServerRef, PlannedServer> lingering;
  RuntimeDiff diff(const Plan& a, const Plan& b) {
    return runtime_diff(a, lingering, b, cfg, paths);
  }
};

TEST_F(RuntimeDiffTest, SamePlanSendsNothing) {
  Plan p{{backend("emitter", {server("a", "10.0.0.1", 100)})}, {}};
  auto d = diff(p, p);
  EXPECT_FALSE(d.needs_reload);
  EXPECT_THAT(d.commands, IsEmpty());
}

// Header pinning's map follows the servers (docs/sherlock.md#header-pinning): each version's
// first server by name, added, moved and removed through the runtime API.
TEST_F(RuntimeDiffTest, ThePinMapFollowsEachVersionsFirstServer) {
  auto v = [](PlannedServer s, std::string version) {
    s.version = std::move(version);
    return s;
  };
  const Plan before{{backend("emitter", {v(server("b", "10.0.0.2", 100), "1"),
                                         v(server("c", "10.0.0.3", 0), "2")})},
                    {}};
  const Plan after{{backend("emitter", {v(server("a", "10.0.0.1", 100), "1"),
                                        v(server("b", "10.0.0.2", 100), "1"),
                                        v(server("c", "10.0.0.3", 0), ""),  // no longer healthy
                                        v(server("d", "10.0.0.4", 0), "3")})},
                   {}};
  const auto pin = paths.pin_map;
  auto d = diff(before, after);
  EXPECT_FALSE(d.needs_reload);
  std::vector<std::string> maps;
  for (const auto& l : lines(d))
    if (l.find(" map ") != std::string::npos) maps.push_back(l);
  EXPECT_THAT(maps,
              ElementsAre("del map " + pin + " 2/be_emitter", "set map " + pin + " 1/be_emitter a",
                          "add map " + pin + " 3/be_emitter d"));
  // Off without a header, and a run_dir the runtime API cannot name takes a reload.
  cfg.version_header.clear();
  for (const auto& l : lines(diff(before, after))) EXPECT_EQ(l.find(" map "), std::string::npos);
  cfg.version_header = "X-Dstack-Version";
  paths.pin_map = "/run/sher lock/pin.map";
  EXPECT_TRUE(diff(before, after).needs_reload);
}

TEST_F(RuntimeDiffTest, NewServerIsAddedThenEnabledWithItsChecks) {
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100)})}, {}};
  Plan b{{backend("emitter", {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50)})}, {}};
  auto d = diff(a, b);
  ASSERT_FALSE(d.needs_reload);
  EXPECT_THAT(lines(d), ElementsAre("add server be_emitter/b " +
                                        server_arguments(b.backends[0].servers[1], {}, cfg, paths),
                                    "enable health be_emitter/b", "enable server be_emitter/b"));
  EXPECT_THAT(lines(d)[0], ::testing::HasSubstr("10.0.0.2:8080 weight 50"));
}

TEST_F(RuntimeDiffTest, GoneServerIsDrainedThenDeleted) {
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50)})}, {}};
  Plan b{{backend("emitter", {server("b", "10.0.0.2", 50)})}, {}};
  auto d = diff(a, b);
  EXPECT_THAT(lines(d),
              ElementsAre("set server be_emitter/a state maint", "del server be_emitter/a"));
  EXPECT_FALSE(d.commands[0].is_delete);
  EXPECT_TRUE(d.commands[1].is_delete);
  ASSERT_EQ(d.deleting.size(), 1u);
  EXPECT_EQ(d.deleting.begin()->first, (ServerRef{"be_emitter", "a"}));
}

TEST_F(RuntimeDiffTest, WeightAndAddressChangesAreSetInPlace) {
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50)})}, {}};
  Plan b{{backend("emitter", {server("a", "10.0.0.1", 0), server("b", "10.0.0.9", 50, 9090)})}, {}};
  auto d = diff(a, b);
  EXPECT_THAT(lines(d), ElementsAre("set server be_emitter/a weight 0",
                                    "set server be_emitter/b addr 10.0.0.9 port 9090"));
}

TEST_F(RuntimeDiffTest, LingeringServerThatComesBackIsRevivedNotAdded) {
  lingering[{"be_emitter", "a"}] = server("a", "10.0.0.1", 100);
  Plan a{{backend("emitter", {})}, {}};
  Plan b{{backend("emitter", {server("a", "10.0.0.3", 70)})}, {}};
  auto d = diff(a, b);
  EXPECT_THAT(lines(d),
              ElementsAre("set server be_emitter/a addr 10.0.0.3 port 8080",
                          "set server be_emitter/a weight 70", "set maxconn server be_emitter/a 0",
                          "set server be_emitter/a state ready"));
  EXPECT_THAT(d.revived, ElementsAre(ServerRef{"be_emitter", "a"}));
}

TEST_F(RuntimeDiffTest, TlsChangesNeedAReload) {
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100)})}, {}};
  Plan b = a;
  b.backends[0].servers.edit()[0].tls = true;
  b.backends[0].servers.edit()[0].host = "vm101.example";
  auto d = diff(a, b);
  EXPECT_TRUE(d.needs_reload);
  EXPECT_THAT(d.commands, IsEmpty());

  lingering[{"be_emitter", "x"}] = server("x", "10.0.0.1", 100);
  Plan c{{backend("emitter", {server("a", "10.0.0.1", 100)})}, {}};
  Plan e = c;
  auto back = server("x", "10.0.0.1", 100);
  back.tls = true;
  back.host = "x.example";
  e.backends[0].servers.edit().push_back(back);
  EXPECT_TRUE(diff(c, e).needs_reload);
}

TEST_F(RuntimeDiffTest, StructuralChangesNeedAReload) {
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100)})}, {}};
  Plan more = a;
  more.backends.push_back(backend("transform", {}));
  EXPECT_TRUE(diff(a, more).needs_reload);
  Plan other_base{{backend("emitter", {server("a", "10.0.0.1", 100)}, "/v2")}, {}};
  EXPECT_TRUE(diff(a, other_base).needs_reload);
}

// A traffic policy's max_conn is the one policy field HAProxy changes at runtime: on every server
// of the backend (a lingering one when it comes back), 0 for no limit. Any other field is a
// reload.
TEST_F(RuntimeDiffTest, MaxConnChangesEachServerAndOtherPolicyFieldsReload) {
  lingering[{"be_emitter", "old"}] = server("old", "10.0.0.9", 100);
  Plan a{{backend("emitter", {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50)})}, {}};
  Plan b = a;
  b.backends[0].policy.max_conn = 20;
  auto d = diff(a, b);
  EXPECT_FALSE(d.needs_reload);
  EXPECT_THAT(lines(d), ElementsAre("set maxconn server be_emitter/a 20",
                                    "set maxconn server be_emitter/b 20"));
  EXPECT_THAT(lines(diff(b, a)), ElementsAre("set maxconn server be_emitter/a 0",
                                             "set maxconn server be_emitter/b 0"));
  // The lingering server missed it: it gets the limit when it comes back.
  Plan back = b;
  back.backends[0].servers = {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50),
                              server("old", "10.0.0.9", 100)};
  EXPECT_THAT(lines(diff(b, back)), ::testing::Contains("set maxconn server be_emitter/old 20"));
  // A server added under a limit gets it in its `add server` arguments.
  Plan c = b;
  c.backends[0].servers = {server("a", "10.0.0.1", 100), server("b", "10.0.0.2", 50),
                           server("c", "10.0.0.3", 50)};
  EXPECT_THAT(lines(diff(b, c))[0], ::testing::EndsWith(" maxconn 20"));

  for (auto change : {+[](model::TrafficPolicy& p) { p.retries = 3; },
                      +[](model::TrafficPolicy& p) { p.timeout = std::chrono::seconds(2); },
                      +[](model::TrafficPolicy& p) { p.eject_5xx = 5; },
                      +[](model::TrafficPolicy& p) {
                        p.balance = model::Balance{model::Balance::Kind::leastconn, ""};
                      }}) {
    Plan other = a;
    change(other.backends[0].policy);
    EXPECT_TRUE(diff(a, other).needs_reload);
    EXPECT_TRUE(needs_reload(a, other));
  }
}

TEST(RuntimePart, TakesServersOfUnchangedBackendsOnly) {
  Plan applied{
      {backend("a", {server("x", "10.0.0.1", 1)}), backend("b", {server("y", "10.0.0.2", 1)})}, {}};
  Plan desired{{backend("a", {server("x", "10.0.0.1", 9)}), backend("b", {}, "/moved"),
                backend("c", {server("z", "10.0.0.3", 1)})},
               {}};
  desired.backends[0].policy.max_conn = 7;
  Plan part = runtime_part(applied, desired);
  ASSERT_EQ(part.backends.size(), 2u);
  EXPECT_EQ(part.backends[0].servers[0].weight, 9);  // a: same shape, desired servers
  EXPECT_EQ(part.backends[0].policy.max_conn, 7);    // and its limit
  EXPECT_EQ(part.backends[1], applied.backends[1]);  // b: shape changed, left as it was
  EXPECT_FALSE(needs_reload(applied, part));
}

// A backend that turns grpc waits for its reload whole: its HTTP/2 servers are not mixed into
// the running HTTP/1.1 backend, and the other backends' runtime changes still apply meanwhile.
TEST(RuntimePart, AProtocolChangeWaitsForTheReload) {
  Plan applied{
      {backend("a", {server("x", "10.0.0.1", 1)}), backend("b", {server("y", "10.0.0.2", 1)})}, {}};
  Plan desired = applied;
  desired.backends[0].servers.edit()[0].weight = 9;
  desired.backends[1].protocol = model::Protocol::grpc;
  desired.backends[1].servers.edit()[0].h2 = true;
  EXPECT_TRUE(needs_reload(applied, desired));
  Plan part = runtime_part(applied, desired);
  EXPECT_EQ(part.backends[0].servers[0].weight, 9);
  EXPECT_EQ(part.backends[1], applied.backends[1]);
  EXPECT_FALSE(needs_reload(applied, part));
}

TEST(PromptAnswers, SplitsHaproxysTranscriptPerCommand) {
  // prompt; set weight (ok); set weight of an unknown server; add server; set state; del; get
  const std::string raw =
      "\n> \n> No such server.\n\n> New server registered.\n\n> \n> Server deleted.\n> 5 "
      "(initial 10)\n\n> ";
  EXPECT_THAT(split_prompt_answers(raw),
              ElementsAre("", "", "No such server.", "New server registered.", "",
                          "Server deleted.", "5 (initial 10)"));
}

TEST(PromptAnswers, KnowsWhichAnswersAreSuccesses) {
  EXPECT_TRUE(cli_success(""));
  EXPECT_TRUE(cli_success("New server registered."));
  EXPECT_TRUE(cli_success("Server deleted."));
  EXPECT_TRUE(
      cli_success("IP changed from '0.0.0.0' to '127.0.0.1', port changed from '+0' to "
                  "'21001' by 'stats socket command'"));
  EXPECT_TRUE(cli_success("no need to change the addr, port changed from '21001' to '21019'"));
  EXPECT_FALSE(cli_success("No such server."));
  EXPECT_FALSE(cli_success("Server still has connections attached to it, cannot remove it."));
  EXPECT_FALSE(cli_success("Absolute weight can only be between 0 and 256 inclusive."));
}

TEST(ShowProc, ReadsMasterCountersAndWorkers) {
  const std::string text =
      "#<PID>          <type>          <reloads>       <uptime>        <version>      \n"
      "2013            master          2 [failed: 1]   0d00h00m39s     2.6.12-1+deb12u4\n"
      "# workers\n"
      "2788            worker          1               0d00h00m05s     2.6.12-1+deb12u4\n"
      "# old workers\n"
      "14544           worker          1               0d00h00m06s     2.6.12-1+deb12u4\n"
      "# programs\n\n";
  auto p = parse_show_proc(text);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->master, 2013);
  EXPECT_EQ(p->reloads, 2u);
  EXPECT_EQ(p->failed, 1u);
  EXPECT_THAT(p->workers, ElementsAre(2788));
  EXPECT_THAT(p->old_workers, ElementsAre(14544));
}

TEST(ShowProc, RefusesOtherText) {
  EXPECT_FALSE(parse_show_proc("").has_value());
  EXPECT_FALSE(parse_show_proc("Unknown command.\n").has_value());
  EXPECT_FALSE(parse_show_proc("2013 master x [failed: 1] 0d 2.6\n").has_value());
}

}  // namespace
}  // namespace dstack::sherlock
