// SPDX-License-Identifier: Apache-2.0
// The watch stream: from a revision, resume without gaps, keep-alive lines, and the 410/400
// answers that send a client back to the snapshot.
#include <gtest/gtest.h>
#include <memory>
#include <set>
#include <vector>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

std::string watch_from(Directory& d, std::uint64_t since) {
  return "/v1/watch?since=" + std::to_string(since) + "&epoch=" + d.epoch();
}

// The next event line, skipping keep-alive lines.
json next_event(LineStream& s, Clock::duration timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (auto line = s.next_line(deadline - Clock::now())) {
    auto j = json::parse(*line);
    if (j["type"] != "keepalive") return j;
  }
  return nullptr;
}

// Five changes of every kind; returns the revision before them.
std::uint64_t make_changes(Directory& d) {
  auto before = d.revision();
  auto lease = d.grant(60);  // leases themselves are not events
  d.put_instance("emitter", "a", lease);
  d.put_instance("emitter", "a", lease, {{"weight", 7}});
  EXPECT_EQ(d.put("/v1/routes/emitter?consumer=barker",
                  json::parse(R"({"targets":[{"version":"1","weight":100}]})"))
                .status,
            200);
  EXPECT_EQ(d.del("/v1/routes/emitter?consumer=barker").status, 200);
  EXPECT_EQ(d.del("/v1/services/emitter/instances/a").status, 200);
  EXPECT_EQ(d.revision(), before + 5);
  return before;
}

TEST(Watch, SinceRevisionGivesExactlyTheLaterEventsThenLiveOnes) {
  Directory d;
  d.start();
  const auto r0 = make_changes(d);
  LineStream s(d.port(), watch_from(d, r0 + 2));
  ASSERT_EQ(s.head().status, 200) << s.head().body;
  EXPECT_EQ(s.head().header("content-type"), "application/x-ndjson");
  EXPECT_EQ(s.head().header("transfer-encoding"), "chunked");

  auto e3 = next_event(s);
  EXPECT_EQ(e3["revision"], r0 + 3);
  EXPECT_EQ(e3["type"], "route_put");
  EXPECT_EQ(e3["service"], "emitter");
  EXPECT_EQ(e3["consumer"], "barker");
  EXPECT_EQ(e3["route"]["targets"], json::parse(R"([{"version":"1","weight":100}])"));
  auto e4 = next_event(s);
  EXPECT_EQ(e4["revision"], r0 + 4);
  EXPECT_EQ(e4["type"], "route_delete");
  EXPECT_EQ(e4["consumer"], "barker");
  auto e5 = next_event(s);
  EXPECT_EQ(e5, json({{"revision", r0 + 5},
                      {"type", "instance_delete"},
                      {"service", "emitter"},
                      {"id", "a"}}));

  // Nothing more is queued; the next change arrives live with the next revision.
  d.put_instance("barker", "b", d.grant(60));
  auto live = next_event(s);
  EXPECT_EQ(live["revision"], r0 + 6);
  EXPECT_EQ(live["type"], "instance_put");
  EXPECT_EQ(live["instance"]["id"], "b");
  EXPECT_EQ(live["instance"]["lease"].get<std::string>().size(), 16u);
}

// A stop with watchers connected is an ordinary stop: exit 0, and no memory touched after it was
// freed on the way out (the streams once outlived the event loop whose timers they hold; the
// sanitizer suites fail on the report even where the exit status survives it).
TEST(Watch, StopWithOpenStreamsExitsCleanly) {
  Directory d;
  d.start();
  std::vector<std::unique_ptr<LineStream>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(std::make_unique<LineStream>(d.port(), "/v1/watch"));
    ASSERT_EQ(streams.back()->head().status, 200);
  }
  d.put_instance("emitter", "a", d.grant(60));
  for (auto& s : streams) ASSERT_EQ(next_event(*s)["type"], "instance_put");
  EXPECT_EQ(d.stop(), 0);
}

// consumers=1 (docs/api.md#consumer-events): the list first, then a line when a consumer registers
// or changes what it says (not for the same registration again) and when its lease ends; other
// streams never see them, and the revision does not move.
TEST(Watch, ConsumerEventsFollowTheListOnStreamsThatAskForThem) {
  Directory d;
  d.start();
  const auto lease = d.grant(60);
  const json early{{"lease", lease}, {"host", "h0"}, {"services", {"emitter"}}};
  ASSERT_EQ(d.put("/v1/consumers/web-0", early).status, 200);
  const auto revision = d.revision();
  LineStream s(d.port(), "/v1/watch?consumers=1");
  LineStream plain(d.port(), "/v1/watch");
  ASSERT_EQ(s.head().status, 200);
  ASSERT_EQ(plain.head().status, 200);
  auto e = next_event(s);
  EXPECT_EQ(e["type"], "consumers");
  ASSERT_EQ(e["consumers"].size(), 1u) << e.dump();
  EXPECT_EQ(e["consumers"][0]["name"], "web-0");
  EXPECT_EQ(e["consumers"][0]["last_report"], nullptr);

  const json web1{{"lease", lease}, {"host", "h1"}, {"services", {"emitter"}}};
  ASSERT_EQ(d.put("/v1/consumers/web-1", web1).status, 200);
  ASSERT_EQ(d.put("/v1/consumers/web-1", web1).status, 200);  // the same again: no event
  json moved = web1;
  moved["services"] = {"emitter", "transform"};
  ASSERT_EQ(d.put("/v1/consumers/web-1", moved).status, 200);
  e = next_event(s);
  EXPECT_EQ(e["type"], "consumer_put");
  EXPECT_EQ(e["consumer"]["name"], "web-1");
  EXPECT_EQ(e["consumer"]["services"], json({"emitter"}));
  EXPECT_EQ(e["revision"], revision);
  e = next_event(s);
  EXPECT_EQ(e["type"], "consumer_put");
  EXPECT_EQ(e["consumer"]["services"], json({"emitter", "transform"}));

  ASSERT_EQ(d.del("/v1/leases/" + lease).status, 200);
  std::set<std::string> gone;
  for (int i = 0; i < 2; ++i) {
    e = next_event(s);
    EXPECT_EQ(e["type"], "consumer_delete");
    gone.insert(e["name"].get<std::string>());
  }
  EXPECT_EQ(gone, (std::set<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(d.revision(), revision);                // consumers are not changes
  EXPECT_TRUE(next_event(plain, 500ms).is_null());  // nor on a stream that did not ask
  EXPECT_EQ(body_json(d.get("/v1/watch?consumers=yes"))["error"], "invalid_consumers");
}

// Rollout events (docs/api.md#rollout-events): the list as a stream with rollouts=1 opens, then
// the rollout each time it is kept; the routes it sets are changes every stream gets, the
// rollout lines only the streams that asked.
TEST(Watch, RolloutEventsFollowEachRolloutOnStreamsThatAskForThem) {
  Directory d;
  d.start();
  const auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease, json{{"url", "http://127.0.0.1:9001/"}, {"version", "1"}});
  d.put_instance("emitter", "b", lease, json{{"url", "http://127.0.0.1:9002/"}, {"version", "2"}});
  LineStream s(d.port(), "/v1/watch?rollouts=1");
  LineStream plain(d.port(), "/v1/watch");
  auto e = next_event(s);
  EXPECT_EQ(e["type"], "rollouts");
  EXPECT_EQ(e["rollouts"], json::array());
  ASSERT_EQ(d.put("/v1/rollouts/emitter", json{{"to", "2"}, {"interval", "1h"}}).status, 201);
  e = next_event(s);
  EXPECT_EQ(e["type"], "route_put");
  EXPECT_EQ(e["route"]["targets"],
            json::parse(R"([{"version":"2","weight":5},{"version":"1","weight":95}])"));
  e = next_event(s);
  EXPECT_EQ(e["type"], "rollout_put");
  EXPECT_EQ(e["rollout"]["phase"], "running");
  EXPECT_EQ(e["rollout"]["spec"]["from"], "1");
  EXPECT_EQ(e["revision"], d.revision());  // the route's revision: a rollout is not a change
  ASSERT_EQ(d.post("/v1/rollouts/emitter/abort", json::object()).status, 200);
  next_event(s);  // the route back to 100 % version 1
  e = next_event(s);
  EXPECT_EQ(e["type"], "rollout_put");
  EXPECT_EQ(e["rollout"]["phase"], "aborted");
  ASSERT_EQ(d.del("/v1/rollouts/emitter").status, 200);
  e = next_event(s);
  EXPECT_EQ(e["type"], "rollout_delete");
  EXPECT_EQ(e["service"], "emitter");
  // The plain stream: the two routes, nothing of the rollout.
  EXPECT_EQ(next_event(plain)["type"], "route_put");
  EXPECT_EQ(next_event(plain)["type"], "route_put");
  EXPECT_TRUE(next_event(plain, 500ms).is_null());
  EXPECT_EQ(body_json(d.get("/v1/watch?rollouts=yes"))["error"], "invalid_rollouts");
}

TEST(Watch, WithoutSinceStartsAtTheCurrentRevision) {
  Directory d;
  d.start();
  const auto r0 = make_changes(d);
  LineStream s(d.port(), "/v1/watch");
  ASSERT_EQ(s.head().status, 200);
  d.put_instance("emitter", "z", d.grant(60));
  auto e = next_event(s);
  EXPECT_EQ(e["revision"], r0 + 6);
  EXPECT_EQ(e["id"], "z");
}

TEST(Watch, ResumeAfterDisconnectHasNoGapAndNoDuplicate) {
  Directory d;
  d.start();
  auto lease = d.grant(60);
  const auto r0 = d.revision();
  std::vector<std::uint64_t> seen;
  {
    LineStream s(d.port(), watch_from(d, r0));
    ASSERT_EQ(s.head().status, 200);
    for (int i = 0; i < 3; ++i) d.put_instance("emitter", "i" + std::to_string(i), lease);
    for (int i = 0; i < 3; ++i) seen.push_back(next_event(s)["revision"].get<std::uint64_t>());
  }  // disconnected; changes go on meanwhile
  for (int i = 3; i < 6; ++i) d.put_instance("emitter", "i" + std::to_string(i), lease);
  LineStream s(d.port(), watch_from(d, seen.back()));
  ASSERT_EQ(s.head().status, 200);
  for (int i = 6; i < 8; ++i) d.put_instance("emitter", "i" + std::to_string(i), lease);
  for (int i = 3; i < 8; ++i) {
    auto e = next_event(s);
    ASSERT_FALSE(e.is_null()) << "event " << i << " missing";
    seen.push_back(e["revision"].get<std::uint64_t>());
    EXPECT_EQ(e["id"], "i" + std::to_string(i));
  }
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], r0 + 1 + i) << "at " << i;
}

TEST(Watch, KeepaliveLinesArriveWhenIdle) {
  Directory d({.config = "watch_keepalive: 200ms\n"});
  d.start();
  make_changes(d);
  const auto rev = d.revision();
  LineStream s(d.port(), watch_from(d, rev));
  ASSERT_EQ(s.head().status, 200);
  for (int i = 0; i < 2; ++i) {
    auto line = s.next_line(3s);
    ASSERT_TRUE(line) << "no keep-alive line within 3 s";
    EXPECT_EQ(json::parse(*line), json({{"type", "keepalive"}, {"revision", rev}}));
  }
}

TEST(Watch, OldEpochAfterRestartAnswers410StaleEpoch) {
  Directory d;
  d.start();
  const auto old_epoch = d.epoch();
  const auto rev = d.revision();
  d.restart();
  const auto epoch = d.epoch();
  EXPECT_NE(epoch, old_epoch);
  auto r = d.get("/v1/watch?since=" + std::to_string(rev) + "&epoch=" + old_epoch);
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(body_json(r)["error"], "stale_epoch");
  EXPECT_EQ(body_json(r)["message"], "epoch " + old_epoch +
                                         " is not the directory's current epoch " + epoch +
                                         "; re-read /v1/snapshot");
  // The current epoch from the same revision works.
  LineStream ok(d.port(), "/v1/watch?since=" + std::to_string(d.revision()) + "&epoch=" + epoch);
  EXPECT_EQ(ok.head().status, 200);
}

TEST(Watch, RevisionOlderThanHistoryAnswers410StaleRevision) {
  Directory d({.config = "limits:\n  watch_history: 3\n"});
  d.start();
  const auto r0 = make_changes(d);  // r0+1 .. r0+5; history keeps r0+3 .. r0+5
  LineStream kept(d.port(), watch_from(d, r0 + 2));
  ASSERT_EQ(kept.head().status, 200);
  EXPECT_EQ(next_event(kept)["revision"], r0 + 3);

  auto r = d.get(watch_from(d, r0 + 1));
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(body_json(r)["error"], "stale_revision");
  EXPECT_EQ(body_json(r)["message"], "revision " + std::to_string(r0 + 1) +
                                         " is no longer served (history holds " +
                                         "revisions after " + std::to_string(r0 + 2) + " up to " +
                                         std::to_string(r0 + 5) + "); re-read /v1/snapshot");
}

TEST(Watch, SinceNeedsAnEpochAndANumber) {
  Directory d;
  d.start();
  auto r = d.get("/v1/watch?since=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body_json(r)["error"], "epoch_required");
  EXPECT_EQ(body_json(r)["message"],
            "since needs the epoch it came from: /v1/watch?since=REV&epoch=EPOCH");
  for (auto since : {"abc", "-1", "1x", ""}) {
    auto bad = d.get(std::string("/v1/watch?since=") + since + "&epoch=" + d.epoch());
    EXPECT_EQ(bad.status, 400) << since;
    EXPECT_EQ(body_json(bad)["error"], "invalid_since") << since;
    EXPECT_EQ(body_json(bad)["message"],
              std::string("since \"") + since + "\" is not a revision number");
  }
}

// An instance whose event line is about 8 KB long.
json big_meta() {
  json meta = json::object();
  for (int k = 0; k < 16; ++k) meta["k" + std::to_string(k)] = std::string(500, 'a' + k);
  return {{"meta", meta}};
}

// `n` big instances on as many leases as the directory's per-lease limit needs. The sockets
// between the directory and an idle reader take about 4 MB: these are 8 MB.
void put_big_instances(Directory& d, int n) {
  std::vector<std::string> leases;
  for (int i = 0; i < n; ++i) {
    if (i % 500 == 0) leases.push_back(d.grant(60));
    d.put_instance("emitter", "i" + std::to_string(i), leases.back(), big_meta());
  }
}

// How the directory sends a change to its watch streams (docs/directory.md#watch-fan-out): all in
// one io_uring submission (the default), or one send(2) each. Each delivery test runs both ways,
// and checks from the log that it ran the way it meant to.
const char* const kBatched = "watch_io_uring: true\n";
const char* const kOneByOne = "watch_io_uring: false\n";

void expect_fan_out(Directory& d, const std::string& config) {
  const std::string log = d.process().stderr_text();
  if (config == kBatched)
    EXPECT_NE(log.find("watch streams: each change in one io_uring submission"), std::string::npos)
        << log;
  else
    EXPECT_NE(log.find("watch streams: one send per stream (watch_io_uring: false)"),
              std::string::npos)
        << log;
}

// Most watchers take each event at once, straight from the change; one that pauses gets what its
// socket does not take queued, starting mid-event, and must still read every event whole and
// in order when it reads again.
void a_reader_that_pauses_gets_every_event(const std::string& fan_out) {
  Directory d({.config = "limits:\n  watch_buffer: 64MiB\n" + fan_out});
  d.start();
  expect_fan_out(d, fan_out);
  const auto rev = d.revision();
  LineStream s(d.port(), watch_from(d, rev));
  ASSERT_EQ(s.head().status, 200);
  constexpr int kChanges = 1000;
  put_big_instances(d, kChanges);
  for (int i = 0; i < kChanges; ++i) {
    auto e = next_event(s);
    ASSERT_FALSE(e.is_null()) << "event " << i << " missing or torn";
    ASSERT_EQ(e["revision"], rev + 1 + i) << "at " << i;  // leases are not events
    ASSERT_EQ(e["instance"]["meta"], big_meta()["meta"]);
  }
  EXPECT_EQ(d.metric("dstack_directory_watchers_cut_off_total"), 0);
}

TEST(Watch, AReaderThatPausesGetsEveryEventWholeAndInOrder) {
  a_reader_that_pauses_gets_every_event(kBatched);
}

TEST(Watch, AReaderThatPausesGetsEveryEventWholeAndInOrderSentOneByOne) {
  a_reader_that_pauses_gets_every_event(kOneByOne);
}

// One that stops reading altogether is cut off once watch_buffer bytes wait for it: it resumes
// from its revision, and what it got before the cut is whole.
void a_reader_far_behind_is_cut_off(const std::string& fan_out) {
  Directory d({.config = "limits:\n  watch_buffer: 64KiB\n" + fan_out});
  d.start();
  expect_fan_out(d, fan_out);
  const auto rev = d.revision();
  LineStream s(d.port(), watch_from(d, rev));
  ASSERT_EQ(s.head().status, 200);
  put_big_instances(d, 1000);
  ASSERT_TRUE(
      poll_until(5s, [&] { return d.metric("dstack_directory_watchers_cut_off_total") == 1; }));
  std::uint64_t last = rev;
  int events = 0;
  while (auto line = s.next_line(5s)) {
    auto e = json::parse(*line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << "a torn line: " << line->substr(0, 80);
    if (e["type"] == "keepalive") continue;
    ASSERT_EQ(e["revision"], last + 1) << "a gap or a torn event";
    last = e["revision"].get<std::uint64_t>();
    ++events;
  }
  EXPECT_TRUE(s.ended()) << "the stream was not ended";
  EXPECT_GT(events, 0);
  EXPECT_LT(events, 1000);
}

TEST(Watch, AReaderFarBehindIsCutOffAfterWholeEvents) {
  a_reader_far_behind_is_cut_off(kBatched);
}

TEST(Watch, AReaderFarBehindIsCutOffAfterWholeEventsSentOneByOne) {
  a_reader_far_behind_is_cut_off(kOneByOne);
}

// Many watchers, most reading as the events come and a few not at all for a while: each gets
// every event, in order, whichever way the directory sends them.
void many_watchers_get_every_event(const std::string& fan_out) {
  Directory d({.config = fan_out});
  d.start();
  expect_fan_out(d, fan_out);
  const auto rev = d.revision();
  std::vector<std::unique_ptr<LineStream>> streams;
  for (int i = 0; i < 50; ++i) {
    streams.push_back(std::make_unique<LineStream>(d.port(), watch_from(d, rev)));
    ASSERT_EQ(streams.back()->head().status, 200);
  }
  ASSERT_TRUE(poll_until(5s, [&] { return d.metric("dstack_directory_watchers") == 50; }));
  const auto lease = d.grant(60);
  constexpr int kChanges = 200;
  for (int i = 0; i < kChanges; ++i) d.put_instance("emitter", "i" + std::to_string(i), lease);
  for (std::size_t w = 0; w < streams.size(); ++w)
    for (int i = 0; i < kChanges; ++i) {
      auto e = next_event(*streams[w]);
      ASSERT_FALSE(e.is_null()) << "watcher " << w << ": event " << i << " missing or torn";
      ASSERT_EQ(e["revision"], rev + 1 + i) << "watcher " << w;
    }
  EXPECT_EQ(d.metric("dstack_directory_watchers_cut_off_total"), 0);
}

TEST(Watch, ManyWatchersGetEveryEvent) {
  many_watchers_get_every_event(kBatched);
}

TEST(Watch, ManyWatchersGetEveryEventSentOneByOne) {
  many_watchers_get_every_event(kOneByOne);
}

TEST(Watch, WatchersAreCountedAndReleasedOnDisconnect) {
  // Keep-alive lines are what lets the server notice a reader that went away.
  Directory d({.config = "watch_keepalive: 200ms\n"});
  d.start();
  auto watchers = [&] { return d.metric("dstack_directory_watchers"); };
  {
    LineStream a(d.port(), "/v1/watch");
    LineStream b(d.port(), "/v1/watch");
    ASSERT_EQ(a.head().status, 200);
    ASSERT_EQ(b.head().status, 200);
    EXPECT_TRUE(poll_until(5s, [&] { return watchers() == 2; }));
  }
  EXPECT_TRUE(poll_until(5s, [&] { return watchers() == 0; })) << watchers();
}

}  // namespace
}  // namespace dstack::test
