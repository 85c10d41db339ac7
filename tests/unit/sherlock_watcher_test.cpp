// SPDX-License-Identifier: Apache-2.0
// sherlock's Watcher over in-memory registries (tests/support/fake_registry.hpp): the snapshot
// then the watch, a fresh snapshot after a 410, failing over to the next directory, the view kept
// while none answers, and nothing removed while a directory is not synced
// (docs/sherlock.md#fail-static). Every wait polls with a deadline.
#include "sherlock/watcher.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "support/fake_registry.hpp"

namespace dstack::test {
namespace {

using namespace std::chrono_literals;
using sherlock::DirectoryView;
using sherlock::Watcher;
using ::testing::ElementsAre;
using Services = std::set<std::string>;

model::Instance instance(const std::string& service, const std::string& id,
                         const std::string& lease) {
  model::Instance i;
  i.service = service;
  i.id = id;
  i.lease = lease;
  i.url = "http://10.0.0.1:9000/" + service;
  return i;
}

model::Route route(const std::string& service, int v2) {
  return model::Route{service, "", {{"1", 100 - v2}, {"2", v2}}, 0};
}

class WatcherTest : public ::testing::Test {
 protected:
  // The watcher over `n` fake directories named dir1, dir2...
  void make(int n) {
    std::vector<std::unique_ptr<registry::Registry>> dirs;
    for (int k = 1; k <= n; ++k) {
      auto d = std::make_unique<FakeRegistry>(io_.get_executor(), "dir" + std::to_string(k));
      dirs_.push_back(d.get());
      dirs.push_back(std::move(d));
    }
    watcher_ = std::make_unique<Watcher>(io_.get_executor(), std::move(dirs), view_,
                                         [this](const Services& s) { changes_.push_back(s); });
  }

  void TearDown() override {
    if (!watcher_) return;
    watcher_->stop();
    // stop() does not end an open watch; a cut stream does.
    for (auto* d : dirs_) d->down(true);
    EXPECT_TRUE(run_until([this] { return io_.stopped(); })) << "the loop ends once stopped";
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
    return test::run_until(io_, timeout, done);
  }

  bool has(const std::string& service, const std::string& id) const {
    auto s = view_.services().find(service);
    if (s == view_.services().end()) return false;
    const auto& list = s->second.instances;
    return std::any_of(list.begin(), list.end(),
                       [&](const model::Instance& i) { return i.id == id; });
  }
  // Connected to `d`, with a watch open on it.
  bool following(const FakeRegistry& d) const {
    return watcher_->connected() && d.open_watches() == 1 &&
           watcher_->status()["directory"] == d.describe();
  }
  std::vector<std::string> calls_from(const FakeRegistry& d, std::size_t from) const {
    return {d.calls().begin() + static_cast<std::ptrdiff_t>(from), d.calls().end()};
  }

  asio::io_context io_;
  DirectoryView view_;
  std::vector<Services> changes_;
  std::vector<FakeRegistry*> dirs_;  // owned by watcher_
  std::unique_ptr<Watcher> watcher_;
};

TEST_F(WatcherTest, FollowsTheSnapshotThenTheWatch) {
  make(1);
  auto& d = *dirs_[0];
  const auto lease = d.add_lease();
  ASSERT_TRUE(d.add_instance(instance("emitter", "a", lease)).ok());
  ASSERT_TRUE(d.add_route(route("emitter", 10)).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d); }));
  EXPECT_THAT(d.calls(), ElementsAre("snapshot", "watch 2 epoch-dir1"));
  EXPECT_TRUE(has("emitter", "a"));
  EXPECT_EQ(view_.services().at("emitter").routes.at(0).targets.at(1).weight, 10);
  EXPECT_EQ(view_.revision(), 2u);
  EXPECT_EQ(view_.epoch(), "epoch-dir1");
  EXPECT_THAT(changes_, ElementsAre(Services{"emitter"}));
  EXPECT_EQ(watcher_->snapshots(), 1u);

  // Events arrive in the view, in order, each reported with its service.
  ASSERT_TRUE(d.add_instance(instance("emitter", "b", lease)).ok());
  ASSERT_TRUE(d.add_instance(instance("collector", "c", lease)).ok());
  ASSERT_TRUE(d.remove_instance("emitter", "a").ok());
  ASSERT_TRUE(d.add_route(route("emitter", 50)).ok());
  ASSERT_TRUE(run_until([&] { return watcher_->events() == 4; }));
  EXPECT_FALSE(has("emitter", "a"));
  EXPECT_TRUE(has("emitter", "b"));
  EXPECT_TRUE(has("collector", "c"));
  EXPECT_EQ(view_.services().at("emitter").routes.at(0).targets.at(1).weight, 50);
  EXPECT_EQ(view_.revision(), d.revision());
  EXPECT_THAT(changes_, ElementsAre(Services{"emitter"}, Services{"emitter"}, Services{"collector"},
                                    Services{"emitter"}, Services{"emitter"}));
  EXPECT_THAT(d.calls(), ElementsAre("snapshot", "watch 2 epoch-dir1")) << "one watch serves all";
  EXPECT_EQ(watcher_->snapshots(), 1u);
}

// stop() while the snapshot is asked and not yet answered (as prepare_handover stops the
// watcher before it saves the view): the late answer neither changes the view nor reports a
// change.
TEST_F(WatcherTest, ASnapshotAnsweredAfterStopChangesNothing) {
  make(1);
  auto& d = *dirs_[0];
  const auto lease = d.add_lease();
  ASSERT_TRUE(d.add_instance(instance("emitter", "a", lease)).ok());
  watcher_->start();
  ASSERT_TRUE(step_until(io_, 3s, [&] { return !d.calls().empty(); }));
  ASSERT_THAT(d.calls(), ElementsAre("snapshot"));
  watcher_->stop();
  EXPECT_TRUE(run_until([this] { return io_.stopped(); })) << "the watcher ends, no watch opened";
  EXPECT_THAT(d.calls(), ElementsAre("snapshot"));
  EXPECT_FALSE(has("emitter", "a"));
  EXPECT_EQ(view_.revision(), 0u);
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(watcher_->snapshots(), 0u);
}

TEST_F(WatcherTest, AWatchRefusedAsStaleReadsAFreshSnapshot) {
  make(1);
  auto& d = *dirs_[0];
  const auto lease = d.add_lease();
  ASSERT_TRUE(d.add_instance(instance("emitter", "a", lease)).ok());
  watcher_->start();
  // The directory restarts (a new epoch) between the snapshot and the watch: step to the moment
  // the snapshot is asked for, then change it.
  ASSERT_TRUE(step_until(io_, 3s, [&] { return d.calls().size() == 1; }));
  d.set_epoch("epoch-dir1-restarted");
  ASSERT_TRUE(d.add_instance(instance("emitter", "b", lease)).ok());

  ASSERT_TRUE(run_until([&] { return following(d); }));
  EXPECT_THAT(d.calls(), ElementsAre("snapshot", "watch 1 epoch-dir1", "snapshot",
                                     "watch 2 epoch-dir1-restarted"));
  EXPECT_EQ(watcher_->snapshots(), 2u);
  EXPECT_TRUE(has("emitter", "a"));
  EXPECT_TRUE(has("emitter", "b"));
  EXPECT_EQ(view_.epoch(), "epoch-dir1-restarted");
  EXPECT_EQ(watcher_->status()["failovers"], 0);

  ASSERT_TRUE(d.add_instance(instance("emitter", "c", lease)).ok());
  EXPECT_TRUE(run_until([&] { return has("emitter", "c"); }));
}

TEST_F(WatcherTest, AStaleStreamReadsAFreshSnapshotAndWatchesOn) {
  make(1);
  auto& d = *dirs_[0];
  const auto lease = d.add_lease();
  ASSERT_TRUE(d.add_instance(instance("emitter", "a", lease)).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d); }));
  const auto mark = d.calls().size();

  // The history was compacted under the stream (etcd does so); the directory moved on meanwhile.
  d.end_watches(Error{ErrorKind::stale, "compacted", "revision 1 is compacted away", 0});
  ASSERT_TRUE(d.remove_instance("emitter", "a").ok());
  ASSERT_TRUE(d.add_instance(instance("emitter", "b", lease)).ok());
  ASSERT_TRUE(run_until([&] { return following(d) && watcher_->snapshots() == 2; }));
  EXPECT_THAT(calls_from(d, mark), ElementsAre("snapshot", "watch 3 epoch-dir1"));
  EXPECT_FALSE(has("emitter", "a"));
  EXPECT_TRUE(has("emitter", "b"));
  EXPECT_EQ(watcher_->status()["failovers"], 0) << "a 410 is not a lost directory";
}

TEST_F(WatcherTest, TheFirstDirectoryThatAnswersWins) {
  make(2);
  auto& d1 = *dirs_[0];
  auto& d2 = *dirs_[1];
  ASSERT_TRUE(d1.add_instance(instance("emitter", "a", d1.add_lease())).ok());
  ASSERT_TRUE(d2.add_instance(instance("emitter", "z", d2.add_lease())).ok());
  d1.down(true);
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d2); }));
  EXPECT_THAT(d1.calls(), ElementsAre("snapshot"));
  EXPECT_THAT(d2.calls(), ElementsAre("snapshot", "watch 1 epoch-dir2"));
  EXPECT_TRUE(has("emitter", "z"));
  EXPECT_EQ(watcher_->status()["failovers"], 0) << "never lost: dir1 was never followed";
}

TEST_F(WatcherTest, FailsOverToTheSecondDirectoryWhenTheFirstGoesDown) {
  make(2);
  auto& d1 = *dirs_[0];
  auto& d2 = *dirs_[1];
  ASSERT_TRUE(d1.add_instance(instance("emitter", "a", d1.add_lease())).ok());
  const auto lease2 = d2.add_lease();
  ASSERT_TRUE(d2.add_instance(instance("emitter", "a", lease2)).ok());
  ASSERT_TRUE(d2.add_instance(instance("emitter", "b", lease2)).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d1); }));
  EXPECT_TRUE(d2.calls().empty());
  EXPECT_FALSE(has("emitter", "b"));

  d1.down(true);
  ASSERT_TRUE(run_until([&] { return following(d2); }));
  EXPECT_THAT(d2.calls(), ElementsAre("snapshot", "watch 2 epoch-dir2"));
  EXPECT_TRUE(has("emitter", "a"));
  EXPECT_TRUE(has("emitter", "b"));
  EXPECT_EQ(view_.epoch(), "epoch-dir2");
  EXPECT_EQ(watcher_->status()["failovers"], 1);
  EXPECT_TRUE(watcher_->status()["last_error"].is_null());

  // The second directory's events now arrive.
  ASSERT_TRUE(d2.add_instance(instance("collector", "c", lease2)).ok());
  EXPECT_TRUE(run_until([&] { return has("collector", "c"); }));
}

TEST_F(WatcherTest, KeepsTheViewWhileNoDirectoryAnswersAndTriesAgainRoundAfterRound) {
  make(2);
  auto& d1 = *dirs_[0];
  auto& d2 = *dirs_[1];
  const auto lease1 = d1.add_lease();
  ASSERT_TRUE(d1.add_instance(instance("emitter", "a", lease1)).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d1); }));
  const auto changes = changes_.size();

  d2.down(true);
  d1.down(true);
  ASSERT_TRUE(
      run_until([&] { return std::count(d1.calls().begin(), d1.calls().end(), "snapshot") >= 3; }));
  EXPECT_FALSE(watcher_->connected());
  EXPECT_EQ(watcher_->status()["directory"], nlohmann::json(nullptr));
  EXPECT_THAT(watcher_->status()["last_error"].get<std::string>(),
              ::testing::HasSubstr("connection refused"));
  EXPECT_TRUE(has("emitter", "a")) << "fail static: the last state is kept";
  EXPECT_EQ(changes_.size(), changes) << "nothing changed, nothing reported";
  EXPECT_GE(std::count(d2.calls().begin(), d2.calls().end(), "snapshot"), 2);

  // dir1 comes back having lost `a` and gained `b`.
  ASSERT_TRUE(d1.remove_instance("emitter", "a").ok());
  ASSERT_TRUE(d1.add_instance(instance("emitter", "b", lease1)).ok());
  d1.down(false);
  ASSERT_TRUE(run_until([&] { return following(d1); }));
  EXPECT_FALSE(has("emitter", "a"));
  EXPECT_TRUE(has("emitter", "b"));
  EXPECT_EQ(changes_.back(), Services{"emitter"});
}

TEST_F(WatcherTest, WhileNotSyncedNothingIsRemovedAndTheSnapshotIsReadAgain) {
  make(1);
  auto& d = *dirs_[0];
  const auto lease = d.add_lease();
  ASSERT_TRUE(d.add_instance(instance("emitter", "a", lease)).ok());
  ASSERT_TRUE(d.add_instance(instance("emitter", "b", lease)).ok());
  watcher_->start();
  ASSERT_TRUE(run_until([&] { return following(d); }));

  // The directory restarts: the stream is cut, and it comes back not synced, without `b` (its
  // watson has not registered again yet).
  d.end_watches(Error{ErrorKind::unreachable, "unreachable", "dir1: connection reset", 0});
  d.set_synced(false);
  d.set_epoch("epoch-dir1-restarted");
  ASSERT_TRUE(d.remove_instance("emitter", "b").ok());
  const auto mark = d.calls().size();
  ASSERT_TRUE(
      run_until([&] { return std::count(d.calls().begin(), d.calls().end(), "snapshot") >= 3; }));
  EXPECT_THAT(calls_from(d, mark), ElementsAre("snapshot", "snapshot")) << "no watch meanwhile";
  EXPECT_FALSE(view_.synced());
  EXPECT_TRUE(has("emitter", "b")) << "held while not synced";
  EXPECT_THAT(view_.held(), ElementsAre(std::make_pair(std::string("emitter"), std::string("b"))));

  d.set_synced(true);
  ASSERT_TRUE(run_until([&] { return following(d) && view_.synced(); }));
  EXPECT_FALSE(has("emitter", "b")) << "a synced snapshot is authoritative";
  EXPECT_TRUE(has("emitter", "a"));
  EXPECT_TRUE(view_.held().empty());
}

}  // namespace
}  // namespace dstack::test
