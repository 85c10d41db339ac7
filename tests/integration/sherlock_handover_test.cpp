// SPDX-License-Identifier: Apache-2.0
// SIGHUP (`systemctl reload dstack-sherlock`): sherlock checks the binary and sherlock.yaml it
// would restart with, then execs itself and the new image takes the running HAProxy over. The
// proxy never stops serving; a refused check changes nothing; a SIGTERM at any moment of it ends
// in an orderly stop.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>
#include <vector>

#include "sherlock_fixture.hpp"
#include "sherlock_probes.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct SherlockHandover : SherlockTest {
  // How many times `text` is in sherlock's stderr so far (one file across exec).
  int logged(const std::string& text) const { return occurrences(sherlock->stderr_text(), text); }
};

// Instances named by host, so the new image's first plan needs the addresses the old one
// resolved: without them they would be left out of the config it takes HAProxy over with.
std::string by_name(const TestService& s, const std::string& path) {
  return "http://localhost:" + std::to_string(s.port()) + path;
}

TEST_F(SherlockHandover, HupHandsHaproxyOverWithoutAFailedRequestAndAppliesTheNewConfig) {
  TestService a, b, c, db;
  put("emitter", "a", by_name(a, "/emitter"));
  put("emitter", "b", by_name(b, "/emitter"));
  put("mongo", "m1", "tcp://127.0.0.1:" + std::to_string(db.port()));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  const pid_t pid = sherlock->process().pid();
  const pid_t master = sherlock->haproxy_pid();
  ASSERT_GT(master, 0);

  // The new config gives mongo a TCP listener: applied only by the sherlock started afresh.
  const auto mongo_port = free_port();
  sherlock->options().tcp = {{"mongo", mongo_port}};
  sherlock->write_config();

  ClientLoop client(sherlock->proxy_port(), "/emitter/");
  ASSERT_TRUE(poll_until(10s, [&] { return client.ok() >= 20; }));
  sherlock->sighup();
  ASSERT_TRUE(poll_until(20s, [&] {
    return logged("taking over HAProxy") == 1 && sherlock->wait_applied("mongo", 1, 100ms);
  })) << sherlock->stderr_text();
  const auto ok_at_takeover = client.ok();
  ASSERT_TRUE(poll_until(10s, [&] { return client.ok() >= ok_at_takeover + 20; }));
  client.stop();

  EXPECT_EQ(client.failed(), 0u) << client.first_failure() << "\n" << sherlock->stderr_text();
  EXPECT_TRUE(sherlock->process().running());
  EXPECT_EQ(sherlock->process().pid(), pid);
  EXPECT_EQ(sherlock->haproxy_pid(), master);  // the same HAProxy, reloaded
  EXPECT_EQ(logged("handing over: exec"), 1);
  EXPECT_EQ(http(mongo_port, "GET", "/raw").status, 200);
  EXPECT_EQ(db.last_path(), "/raw");

  // The new image follows the directory.
  put("emitter", "c", by_name(c, "/emitter"));
  ASSERT_TRUE(sherlock->wait_applied("emitter", 3));
  for (int i = 0; i < 30 && c.requests() == 0; ++i)
    ASSERT_EQ(sherlock->get("/emitter/").status, 200);
  EXPECT_GT(c.requests(), 0);

  // And stops as any sherlock does: HAProxy, its child since before the exec, goes with it.
  sherlock->sigterm();
  ASSERT_EQ(sherlock->wait(30s), 0) << sherlock->stderr_text();
  EXPECT_EQ(sherlock->get("/emitter/", {}, 1s).status, 0);
  EXPECT_THAT(sherlock->stderr_text(), Not(HasSubstr("HAProxy exited")));
}

TEST_F(SherlockHandover, ARefusedConfigChangesNothing) {
  TestService a, b;
  put("emitter", "a", a.url("/emitter"));
  start(options());
  ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
  const pid_t master = sherlock->haproxy_pid();
  const auto reloads = sherlock->metric("dstack_sherlock_reloads_total");

  sherlock->options().extra_config = "proxy_port: 8000\n";  // not a sherlock.yaml key
  sherlock->write_config();
  sherlock->sighup();
  ASSERT_TRUE(poll_until(20s, [&] { return logged("not handing over") == 1; }))
      << sherlock->stderr_text();
  EXPECT_THAT(sherlock->stderr_text(), HasSubstr("proxy_port"));
  EXPECT_EQ(logged("handing over: exec"), 0);

  // The same sherlock carries on: still following the directory, the same HAProxy, no reload.
  put("emitter", "b", b.url("/emitter"));
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  EXPECT_EQ(sherlock->haproxy_pid(), master);
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);
  EXPECT_EQ(sherlock->get("/emitter/").status, 200);

  // A second SIGHUP once the file is right hands over.
  sherlock->options().extra_config.clear();
  sherlock->write_config();
  sherlock->sighup();
  ASSERT_TRUE(poll_until(20s, [&] { return logged("taking over HAProxy") == 1; }))
      << sherlock->stderr_text();
  ASSERT_TRUE(sherlock->wait_applied("emitter", 2));
  EXPECT_EQ(sherlock->haproxy_pid(), master);
}

// SIGTERM right behind SIGHUP lands in the check, in the handover itself, in the new image before
// it has taken HAProxy over or after: wherever, sherlock stops in order (exit 0, HAProxy stopped
// with it), never killed by a signal its new image was not yet listening for.
TEST_F(SherlockHandover, SigtermAtAnyMomentOfAHandoverStopsInOrder) {
  TestService a;
  put("emitter", "a", a.url("/emitter"));
  // The check takes tens of milliseconds, the rest a few: steps of 10 ms land in every part.
  std::vector<std::chrono::milliseconds> delays;
  for (auto d = 0ms; d <= 150ms; d += 10ms) delays.push_back(d);
  delays.push_back(300ms);
  for (const auto delay : delays) {
    SCOPED_TRACE("SIGTERM " + std::to_string(delay.count()) + " ms after SIGHUP");
    start(options());
    ASSERT_TRUE(sherlock->wait_applied("emitter", 1));
    const pid_t master = sherlock->haproxy_pid();
    sherlock->sighup();
    std::this_thread::sleep_for(delay);  // where in the handover the SIGTERM lands, not a wait
    sherlock->sigterm();
    ASSERT_EQ(sherlock->wait(30s), 0) << sherlock->stderr_text();
    EXPECT_TRUE(poll_until(10s, [&] { return ::kill(master, 0) != 0; }))
        << "HAProxy outlived sherlock\n"
        << sherlock->stderr_text();
  }
}

}  // namespace
}  // namespace dstack::test
