// SPDX-License-Identifier: Apache-2.0
// The sample services, as the real binaries: what emitter answers in each mode and how its mode
// is switched, and transform's pipeline to an emitter and its answer when the emitter fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace dstack::test {
namespace {

using nlohmann::json;

// A sample service binary on a free port, waiting until it answers.
class Sample {
 public:
  Sample(const std::string& binary, std::vector<std::string> args) : port_(free_port()) {
    std::vector<std::string> argv{binary, "--listen", "127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<Process>(argv, dir_.path());
    bool up = poll_until(10s, [&] { return http(port_, "GET", "/mode").status == 200; });
    if (!up) throw std::runtime_error(binary + " did not start: " + process_->stderr_text());
  }
  std::uint16_t port() const { return port_; }
  Process& process() { return *process_; }
  Response get(const std::string& target, Clock::duration timeout = 5s) const {
    return http(port_, "GET", target, "", {}, timeout);
  }
  Response set_mode(const std::string& query) const { return http(port_, "PUT", "/mode?" + query); }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

Sample emitter(std::vector<std::string> args = {}) {
  return Sample(DSTACK_EMITTER_BIN, std::move(args));
}

TEST(Emitter, AnswersWithItsIdVersionAndACounterUnderItsBasePath) {
  auto e = emitter({"--id", "vm101", "--version", "2"});
  for (int n = 1; n <= 3; ++n) {
    auto r = e.get("/emitter/some/path?q=1");
    ASSERT_EQ(r.status, 200);
    auto j = json::parse(r.body);
    EXPECT_EQ(j["id"], "vm101");
    EXPECT_EQ(j["version"], "2");
    EXPECT_EQ(j["count"], n);
    EXPECT_EQ(j["path"], "/emitter/some/path");
    EXPECT_EQ(j["message"], "hello from emitter vm101");
  }
  EXPECT_EQ(e.get("/emitter").status, 200);
  auto live = e.get("/emitter/liveness_check");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_EQ(json::parse(e.get("/emitter/").body)["count"], 5);  // checks are not counted
  EXPECT_EQ(e.get("/emitterx").status, 404);
  EXPECT_EQ(e.get("/other/").status, 404);
}

TEST(Emitter, FailModeFailsEverythingIncludingItsLivenessCheckUntilOk) {
  auto e = emitter({"--mode", "fail"});
  EXPECT_EQ(e.get("/emitter/").status, 503);
  EXPECT_EQ(e.get("/emitter/liveness_check").status, 503);
  auto r = e.set_mode("set=ok");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["mode"], "ok");
  EXPECT_EQ(e.get("/emitter/liveness_check").status, 200);
}

TEST(Emitter, HangHoldsRequestsUntilTheModeChanges) {
  auto e = emitter();
  ASSERT_EQ(e.set_mode("set=hang").status, 200);
  EXPECT_EQ(e.get("/emitter/", 300ms).status, 0);  // nothing within the client's patience
  // The first client gave up; the emitter holds its request until the mode changes.
  auto held = [&] { return json::parse(e.get("/mode").body)["held"].get<int>(); };
  EXPECT_EQ(held(), 1);
  Response answer;
  std::thread client([&] { answer = e.get("/emitter/", 10s); });
  EXPECT_TRUE(poll_until(5s, [&] { return held() == 2; }));
  ASSERT_EQ(e.set_mode("set=ok").status, 200);
  client.join();
  EXPECT_EQ(answer.status, 200);  // answered once the mode left hang
  EXPECT_TRUE(poll_until(5s, [&] { return held() == 0; }));
}

TEST(Emitter, SlowAnswersAfterTheDelay) {
  auto e = emitter({"--mode", "slow", "--delay", "1500ms"});
  auto started = Clock::now();
  EXPECT_EQ(e.get("/emitter/").status, 200);
  EXPECT_GE(Clock::now() - started, 1500ms);
  // A new delay applies to the next request (far under the old one, with room for a slow host).
  ASSERT_EQ(e.set_mode("set=slow&delay=50ms").status, 200);
  started = Clock::now();
  EXPECT_EQ(e.get("/emitter/").status, 200);
  EXPECT_GE(Clock::now() - started, 50ms);
  EXPECT_LT(Clock::now() - started, 1000ms);
}

// A version its checks cannot tell is wrong: a share of its answers are 503, evenly spread,
// while its liveness check passes.
TEST(Emitter, ErrorsAnswers503ToThatShareWhileItsLivenessCheckPasses) {
  auto e = emitter({"--errors", "25%"});
  int failed = 0;
  for (int i = 0; i < 100; ++i) failed += e.get("/emitter/").status == 503;
  EXPECT_EQ(failed, 25);
  EXPECT_EQ(e.get("/emitter/liveness_check").status, 200);
  auto r = e.set_mode("set=ok&errors=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["errors"], 1.0);
  EXPECT_EQ(e.get("/emitter/").status, 503);
  EXPECT_EQ(e.get("/emitter/liveness_check").status, 200);
  ASSERT_EQ(e.set_mode("set=ok").status, 200);  // errors back to 0
  EXPECT_EQ(e.get("/emitter/").status, 200);
  auto bad = e.set_mode("set=ok&errors=1.5");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("1.5"), std::string::npos) << bad.body;
}

TEST(Emitter, BadModeRequestsAndFlagsAreRefusedByName) {
  auto e = emitter();
  EXPECT_EQ(e.set_mode("set=sideways").status, 400);
  auto r = e.set_mode("set=slow&delay=soon");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("soon"), std::string::npos) << r.body;
  EXPECT_EQ(http(e.port(), "DELETE", "/mode").status, 405);
  EXPECT_EQ(http(e.port(), "POST", "/emitter/").status, 405);

  TempDir logs;
  Process bad({DSTACK_EMITTER_BIN, "--mode", "sideways"}, logs.path());
  EXPECT_EQ(bad.wait(10s), 64);
  EXPECT_NE(bad.stderr_text().find("--mode \"sideways\""), std::string::npos) << bad.stderr_text();
  Process bad_listen({DSTACK_EMITTER_BIN, "--listen", "127.0.0.1:99999"}, logs.path());
  EXPECT_EQ(bad_listen.wait(10s), 64);
  EXPECT_NE(bad_listen.stderr_text().find("99999"), std::string::npos) << bad_listen.stderr_text();
}

TEST(Emitter, SigtermEndsItWithZero) {
  auto e = emitter();
  e.process().kill(SIGTERM);
  EXPECT_EQ(e.process().wait(10s), 0);
}

TEST(Transform, ReturnsTheEmittersAnswerTransformed) {
  auto e = emitter({"--id", "vm101"});
  Sample t(DSTACK_TRANSFORM_BIN, {"--id", "t1", "--upstream",
                                  "http://127.0.0.1:" + std::to_string(e.port()) + "/emitter"});
  auto r = t.get("/transform/");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["service"], "transform");
  EXPECT_EQ(j["id"], "t1");
  EXPECT_EQ(j["count"], 1);
  EXPECT_EQ(j["result"], "HELLO FROM EMITTER VM101");
  EXPECT_EQ(j["from"]["id"], "vm101");
  EXPECT_EQ(j["from"]["path"], "/emitter/");
}

TEST(Transform, AnswersBadGatewayNamingTheUpstreamWhenItFailsOrIsGone) {
  auto e = emitter({"--mode", "fail"});
  std::string upstream = "http://127.0.0.1:" + std::to_string(e.port()) + "/emitter";
  Sample t(DSTACK_TRANSFORM_BIN, {"--upstream", upstream});
  auto r = t.get("/transform/");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find(upstream + ": answered 503"), std::string::npos) << r.body;
  e.process().kill(SIGKILL);
  e.process().wait(10s);
  r = t.get("/transform/");
  EXPECT_EQ(r.status, 502);
  EXPECT_NE(r.body.find(upstream), std::string::npos) << r.body;
}

TEST(Transform, RefusesAnUpstreamThatIsNotAnHttpUrl) {
  TempDir logs;
  Process bad({DSTACK_TRANSFORM_BIN, "--upstream", "tcp://127.0.0.1:5000"}, logs.path());
  EXPECT_EQ(bad.wait(10s), 64);
  EXPECT_NE(bad.stderr_text().find("--upstream"), std::string::npos) << bad.stderr_text();
}

}  // namespace
}  // namespace dstack::test
