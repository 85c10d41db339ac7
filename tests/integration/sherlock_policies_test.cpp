// SPDX-License-Identifier: Apache-2.0
// Traffic policies through sherlock's proxy, set in the real directory and sent by curl
// (docs/sherlock.md#traffic-policies): retries repeat only GETs, a POST is never sent twice;
// an emitter switched to 5xx by its mode API is ejected after N and back once its checks pass; a
// consistent hash keeps each key on its instance and moves only the added instance's share;
// max_conn queues and answers 503 after queue_timeout, and changes without a reload; timeout
// answers 504.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "emitter_process.hpp"
#include "sherlock_fixture.hpp"
#include "test_service.hpp"

namespace dstack::test {
namespace {

using Mode = TestService::Mode;

// One answer of a curl batch.
struct Answer {
  int status = 0;
  std::string body;
};

// One curl request of a batch: its method and its extra header ("" for none).
struct Request {
  std::string method = "GET";
  std::string header;
};

// Every request in one curl process, over its kept-alive connections, in order.
std::vector<Answer> curl_batch(const TempDir& dir, std::uint16_t port, const std::string& path,
                               const std::vector<Request>& requests) {
  const auto config = dir.path() / "curl.config";
  std::string text;
  for (const auto& r : requests) {
    if (!text.empty()) text += "next\n";  // between requests: a trailing one asks for another
    text += "url = \"http://127.0.0.1:" + std::to_string(port) + path + "\"\n";
    text += "max-time = 10\n";
    text += "write-out = \"<<%{http_code}>>\\n\"\n";
    if (r.method == "POST") text += "data = \"x=1\"\n";
    if (!r.header.empty()) text += "header = \"" + r.header + "\"\n";
  }
  std::ofstream(config) << text;
  auto [out, status] = shell("curl -sS -K " + config.string());
  EXPECT_EQ(status, 0) << out;
  std::vector<Answer> answers;
  static const std::regex kAnswer("([^]*?)<<([0-9]{3})>>\n");
  for (std::sregex_iterator it(out.begin(), out.end(), kAnswer), end; it != end; ++it)
    answers.push_back({std::stoi((*it)[2]), (*it)[1]});
  EXPECT_EQ(answers.size(), requests.size()) << out;
  return answers;
}

std::vector<Answer> curl_same(const TempDir& dir, std::uint16_t port, const std::string& path,
                              std::size_t n, Request r = {}) {
  return curl_batch(dir, port, path, std::vector<Request>(n, r));
}

struct SherlockPolicies : SherlockTest {
  TempDir scratch;

  // Three instances of `service` answering their own name.
  void serve(const std::string& service, std::vector<std::unique_ptr<TestService>>& instances,
             const std::vector<std::string>& names) {
    for (const auto& name : names) {
      instances.push_back(std::make_unique<TestService>());
      instances.back()->set_ok_body(name);
      put(service, name, instances.back()->url("/"));
    }
  }

  void set_policy(const std::string& service, const json& body) {
    const auto r = directory.put("/v1/policies/" + service, body);
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Until sherlock's HAProxy applies exactly this policy to the service, reload included.
  bool wait_policy(const std::string& service, const json& policy) {
    json last;
    const bool ok = poll_until(15s, [&] {
      last = sherlock->status();
      return last.is_object() && last["haproxy"]["reload_pending"] == false &&
             last["services"].contains(service) && last["services"][service]["policy"] == policy;
    });
    if (!ok) std::cerr << "sherlock status: " << last.dump(2) << "\n";
    return ok;
  }

  std::vector<Answer> send(std::size_t n, Request r = {}) {
    return curl_same(scratch, sherlock->proxy_port(), "/api/", n, r);
  }
};

std::size_t count_status(const std::vector<Answer>& answers, int status) {
  return std::count_if(answers.begin(), answers.end(),
                       [&](const Answer& a) { return a.status == status; });
}

TEST_F(SherlockPolicies, RetriesRepeatGetsOnAnotherInstanceAndNeverAPost) {
  std::vector<std::unique_ptr<TestService>> instances;
  serve("api", instances, {"a", "b"});
  instances[1]->set_mode(Mode::fail);  // 503 "down"
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 2)) << sherlock->stderr_text();

  // Without a policy a 503 is not a reason to retry: the client sees it.
  EXPECT_GE(count_status(send(10), 503), 3u);

  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  set_policy("api", {{"retries", 2}, {"retry_on", {"conn-failure", "503"}}});
  ASSERT_TRUE(wait_policy("api", {{"retries", 2}, {"retry_on", {"conn-failure", "503"}}}));
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads + 1);
  EXPECT_THAT(read_file(sherlock->run_dir() / "haproxy.cfg"),
              ::testing::HasSubstr("    retries 2\n    retry-on conn-failure 503\n"));

  for (const auto& a : send(20)) {
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.body, "a");
  }
  // A POST is sent once: each one that reached b comes back 503, and no instance saw more
  // requests than were sent.
  const auto before = instances[0]->requests() + instances[1]->requests();
  const auto b_before = instances[1]->requests();
  const auto posts = send(20, {"POST", ""});
  EXPECT_EQ(instances[0]->requests() + instances[1]->requests() - before, 20u);
  EXPECT_EQ(count_status(posts, 503), instances[1]->requests() - b_before);
  EXPECT_GE(count_status(posts, 503), 1u) << "round robin never sent a POST to b";
}

// Who answered: the emitter's id, from its JSON (ok or failing alike).
std::string answered_by(const Answer& a) {
  const auto j = json::parse(a.body, nullptr, false);
  if (j.contains("id")) return j["id"];
  if (!j.contains("message")) return "?";
  std::istringstream words(j["message"].get<std::string>());  // "api b is in mode fail"
  std::string service, id;
  words >> service >> id;
  return id;
}

TEST_F(SherlockPolicies, EjectionTakesA5xxInstanceOutUntilItsChecksBringItBack) {
  Emitter a("a"), b("b");
  put("api", "a", a.url());
  put("api", "b", b.url());
  auto o = options();
  o.health_check_interval = "2s";  // an ejected server is out for two checks: 4 s
  start(o);
  ASSERT_TRUE(sherlock->wait_applied("api", 2)) << sherlock->stderr_text();
  set_policy("api", {{"eject", "5xx:3"}});
  ASSERT_TRUE(wait_policy("api", {{"eject", "5xx:3"}}));

  ASSERT_EQ(b.set_mode("fail"), 200);
  // Round robin alternates: three 503s from b in a row take it out, then a answers everything.
  const auto answers = send(30);
  EXPECT_EQ(count_status(answers, 503), 3u);
  for (std::size_t i = 6; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i].status, 200) << i;
    EXPECT_EQ(answered_by(answers[i]), "a") << i;
  }

  // Healthy again: HAProxy's checks bring it back and it takes its share.
  ASSERT_EQ(b.set_mode("ok"), 200);
  EXPECT_TRUE(poll_until(20s, [&] {
    const auto r = send(4);
    return std::any_of(r.begin(), r.end(), [](const Answer& x) { return answered_by(x) == "b"; });
  }));
}

TEST_F(SherlockPolicies, ConsistentHashKeepsEachKeyAndMovesOnlyTheNewInstancesShare) {
  std::vector<std::unique_ptr<TestService>> instances;
  serve("api", instances, {"a", "b", "c"});
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 3)) << sherlock->stderr_text();
  set_policy("api", {{"balance", "hash:header:X-User"}});
  ASSERT_TRUE(wait_policy("api", {{"balance", "hash:header:X-User"}}));

  // One key, 1,000 requests: one instance.
  std::set<std::string> alice;
  for (const auto& a : send(1000, {"GET", "X-User: alice"})) alice.insert(a.body);
  EXPECT_EQ(alice.size(), 1u);

  std::vector<Request> keys;
  for (int k = 0; k < 1000; ++k) keys.push_back({"GET", "X-User: user-" + std::to_string(k)});
  const auto before = curl_batch(scratch, sherlock->proxy_port(), "/api/", keys);
  std::map<std::string, int> share;
  for (const auto& a : before) ++share[a.body];
  EXPECT_EQ(share.size(), 3u) << "the keys did not spread over the instances";

  // A fourth instance, added at run time: only keys that now land on it move.
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  serve("api", instances, {"d"});
  ASSERT_TRUE(sherlock->wait_applied("api", 4)) << sherlock->stderr_text();
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);
  const auto after = curl_batch(scratch, sherlock->proxy_port(), "/api/", keys);
  ASSERT_EQ(after.size(), before.size());
  int moved = 0;
  for (std::size_t k = 0; k < keys.size(); ++k) {
    if (after[k].body == before[k].body) continue;
    ++moved;
    EXPECT_EQ(after[k].body, "d") << keys[k].header << " moved between old instances";
  }
  EXPECT_GT(moved, 0);
  EXPECT_LE(moved, 2 * 1000 / 4) << "more than 2/N of the keys moved";
}

TEST_F(SherlockPolicies, ACookieHashKeepsASessionOnItsInstance) {
  std::vector<std::unique_ptr<TestService>> instances;
  serve("api", instances, {"a", "b", "c"});
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 3)) << sherlock->stderr_text();
  set_policy("api", {{"balance", "hash:cookie:session"}});
  ASSERT_TRUE(wait_policy("api", {{"balance", "hash:cookie:session"}}));
  std::set<std::string> seen_by_sessions;
  for (int s = 0; s < 20; ++s) {
    std::set<std::string> one;
    for (const auto& a : send(20, {"GET", "Cookie: theme=dark; session=s" + std::to_string(s)}))
      one.insert(a.body);
    EXPECT_EQ(one.size(), 1u) << "session s" << s;
    seen_by_sessions.insert(one.begin(), one.end());
  }
  EXPECT_GE(seen_by_sessions.size(), 2u);
}

TEST_F(SherlockPolicies, MaxConnAnswers503AfterTheQueueTimeoutAndChangesWithoutAReload) {
  std::vector<std::unique_ptr<TestService>> instances;
  serve("api", instances, {"a"});
  instances[0]->set_delay(2s);
  instances[0]->set_mode(Mode::slow);
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1)) << sherlock->stderr_text();
  const json limited = {{"max_conn", 1}, {"queue_timeout", "200ms"}};
  set_policy("api", limited);
  ASSERT_TRUE(wait_policy("api", limited));

  // One slow request holds the only slot; the next waits 200 ms in the queue, then gets a 503.
  auto holder = std::async(std::launch::async, [&] { return sherlock->get("/api/", {}, 10s); });
  ASSERT_TRUE(poll_until(5s, [&] { return instances[0]->requests() == 1; }));
  const auto start_time = Clock::now();
  const auto queued = sherlock->get("/api/", {}, 10s);
  const auto waited = Clock::now() - start_time;
  EXPECT_EQ(queued.status, 503);
  EXPECT_GE(waited, 150ms);
  EXPECT_LT(waited, 1500ms) << "the request waited for the slow one instead of its queue timeout";
  EXPECT_EQ(holder.get().status, 200);

  // A higher limit reaches the server through the runtime API: no reload, both are served.
  const double reloads = sherlock->metric("dstack_sherlock_reloads_total");
  const json wider = {{"max_conn", 5}, {"queue_timeout", "200ms"}};
  set_policy("api", wider);
  ASSERT_TRUE(wait_policy("api", wider));
  EXPECT_EQ(sherlock->metric("dstack_sherlock_reloads_total"), reloads);
  const auto seen = instances[0]->requests();
  auto first = std::async(std::launch::async, [&] { return sherlock->get("/api/", {}, 10s); });
  auto second = std::async(std::launch::async, [&] { return sherlock->get("/api/", {}, 10s); });
  // Both reach the instance while the first is still being answered (2 s): neither queued.
  EXPECT_TRUE(poll_until(1500ms, [&] { return instances[0]->requests() == seen + 2; }))
      << "the second request waited for the first: the limit is still 1";
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST_F(SherlockPolicies, TimeoutAnswers504WhenTheInstanceStaysSilent) {
  std::vector<std::unique_ptr<TestService>> instances;
  serve("api", instances, {"a"});
  instances[0]->set_delay(3s);
  instances[0]->set_mode(Mode::slow);
  start();
  ASSERT_TRUE(sherlock->wait_applied("api", 1)) << sherlock->stderr_text();
  set_policy("api", {{"timeout", "300ms"}, {"retries", 0}});
  ASSERT_TRUE(wait_policy("api", {{"retries", 0}, {"timeout", "300ms"}}));
  const auto start_time = Clock::now();
  const auto r = sherlock->get("/api/", {}, 10s);
  EXPECT_EQ(r.status, 504);
  EXPECT_LT(Clock::now() - start_time, 2s);

  // Removed: sherlock.yaml's timeouts apply again and the slow answer arrives.
  ASSERT_EQ(directory.del("/v1/policies/api").status, 200);
  ASSERT_TRUE(wait_policy("api", json::object()));
  EXPECT_EQ(sherlock->get("/api/", {}, 10s).status, 200);
}

}  // namespace
}  // namespace dstack::test
