// SPDX-License-Identifier: Apache-2.0
// sherlock and its directories: failing over along the list when the one it follows dies,
// starting again from a snapshot when a directory comes back as a new epoch, and after a 410.
// Real directories (a fake one only for the 410), real sherlock, real HAProxy.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/model/json.hpp"
#include "directory_fixture.hpp"
#include "fake_directory.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

std::string url_of(const Directory& d) {
  return "http://127.0.0.1:" + std::to_string(d.port());
}

void put(Directory& d, const std::string& lease, const std::string& id, const TestService& s) {
  d.put_instance("emitter", id, lease, json{{"url", s.url("/emitter")}});
}

// Two directories, as watson keeps them both up to date. The first dies: sherlock moves to the
// second without changing what HAProxy serves, and follows the second's changes from then on.
TEST(SherlockDirectories, FailsOverToTheNextDirectory) {
  Directory first{synced_directory()}, second{synced_directory()};
  first.start();
  second.start();
  const auto lease1 = first.grant(60), lease2 = second.grant(60);
  TestService a, b;
  put(first, lease1, "a", a);
  put(second, lease2, "a", a);
  SherlockOptions o;
  o.directories = {url_of(first), url_of(second)};
  Sherlock sherlock(o);
  sherlock.start();
  ASSERT_TRUE(sherlock.wait_applied("emitter", 1));
  EXPECT_EQ(sherlock.status()["directory"]["directory"], url_of(first));

  first.kill9();
  ASSERT_TRUE(poll_until(30s, [&] {
    auto s = sherlock.status();
    return s["directory"]["directory"] == url_of(second) && s["directory"]["connected"] == true;
  })) << sherlock.status().dump(2);
  EXPECT_EQ(sherlock.status()["directory"]["failovers"], 1);
  EXPECT_EQ(sherlock.get("/emitter/").status, 200);

  put(second, lease2, "b", b);
  ASSERT_TRUE(sherlock.wait_applied("emitter", 2));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock.get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 5u);
}

// A directory restarted is a new epoch with its instances gone (no watson here re-registers
// them): sherlock reads a fresh snapshot, drops what vanished and follows the new epoch.
TEST(SherlockDirectories, ARestartedDirectoryIsReadAfresh) {
  Directory dir{synced_directory()};
  dir.start();
  TestService a, b;
  put(dir, dir.grant(60), "a", a);
  SherlockOptions o;
  o.directories = {url_of(dir)};
  Sherlock sherlock(o);
  sherlock.start();
  ASSERT_TRUE(sherlock.wait_applied("emitter", 1));
  const auto epoch = sherlock.status()["directory"]["epoch"];
  const auto snapshots = sherlock.status()["directory"]["snapshots"].get<int>();

  dir.restart();
  put(dir, dir.grant(60), "b", b);
  ASSERT_TRUE(poll_until(30s, [&] {
    auto s = sherlock.status();
    auto servers = s["services"]["emitter"]["servers"];
    return s["directory"]["epoch"] != epoch && servers.size() == 1 && servers[0]["id"] == "b" &&
           s["haproxy"]["reload_pending"] == false;
  })) << sherlock.status().dump(2);
  EXPECT_GT(sherlock.status()["directory"]["snapshots"].get<int>(), snapshots);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(sherlock.get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 10u);
}

model::Instance instance(const std::string& id, const TestService& s) {
  model::Instance i;
  i.service = "emitter";
  i.id = id;
  i.lease = "0123456789abcdef";
  i.url = s.url("/emitter");
  return i;
}

// 410 on a watch (the directory no longer has the revision sherlock asked from): sherlock reads
// a fresh snapshot and applies the difference. The real directory gives 410 only after its
// history has moved on; a fake one gives it on demand.
TEST(SherlockDirectories, GoneOnAWatchMeansAFreshSnapshot) {
  TestService a, b;
  FakeDirectory fake;
  const model::Snapshot first{5, "fake-epoch", true, {instance("a", a)}, {}};
  const model::Snapshot second{9, "fake-epoch", true, {instance("a", a), instance("b", b)}, {}};
  fake.set_snapshot(model::to_json(first).dump());
  std::atomic<bool> gone_sent{false};
  fake.on_watch([&](const std::string& target) {
    if (gone_sent || target.find("since=5") == std::string::npos)
      return FakeDirectory::WatchAnswer::silent_stream;
    fake.set_snapshot(model::to_json(second).dump());  // what happened meanwhile
    gone_sent = true;
    return FakeDirectory::WatchAnswer::gone;
  });
  SherlockOptions o;
  o.directories = {"http://127.0.0.1:" + std::to_string(fake.port())};
  Sherlock sherlock(o);
  sherlock.start();
  ASSERT_TRUE(sherlock.wait_applied("emitter", 2));
  EXPECT_TRUE(gone_sent);
  EXPECT_GE(fake.snapshots_served(), 2);
  EXPECT_EQ(sherlock.status()["directory"]["revision"], 9);
  EXPECT_EQ(sherlock.status()["directory"]["failovers"], 0);  // not a failure of the directory
  for (int i = 0; i < 20; ++i) ASSERT_EQ(sherlock.get("/emitter/").status, 200);
  EXPECT_GE(b.requests(), 5u);
}

}  // namespace
}  // namespace dstack::test
