// SPDX-License-Identifier: Apache-2.0
// The API (directory/api.cpp) over the real State, stores and Authority, for what needs its
// order of steps: the start of a watch stream, a person's route change during a rollout, and
// who the audit line names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "common/core/clock.hpp"
#include "directory/api.hpp"
#include "directory/token_secret.hpp"
#include "unit/file_size_limit.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

// Records what the API does with a stream.
class RecordingSink final : public net::StreamSink {
 public:
  bool write(Chunk chunk) override {
    if (closed_) return false;
    lines.push_back(*chunk);
    return true;
  }
  bool write(const Chunk& chunk, net::SendBatch&) override { return write(chunk); }
  bool sent(const Chunk&, long) override { return !closed_; }
  void close() override {
    if (closed_) return;
    closed_ = true;
    if (on_close_) on_close_();
  }
  bool closed() const override { return closed_; }
  void on_close(std::function<void()> callback) override { on_close_ = std::move(callback); }

  std::vector<std::string> lines;

 private:
  bool closed_ = false;
  std::function<void()> on_close_;
};

class ApiTest : public ::testing::Test {
 protected:
  ApiTest()
      : data_(DataDir::open(dir_.path())),
        routes_(RouteStore::open(data_)),
        policies_(PolicyStore::open(data_)),
        rollout_store_(RolloutStore::open(data_)),
        tokens_(TokenStore::open(data_)),
        state_(StateOptions{}, clock_, routes_, policies_, "epoch"),
        consumers_(state_, clock_),
        rollouts_(rollout_store_, state_, [] { return std::int64_t{1'700'000'000'000}; }),
        authority_({secret_digest("admin-secret"), Anonymous::none}, tokens_,
                   [] { return std::uint64_t{1'700'000'000}; }),
        api_({.audit =
                  [this](const Caller& caller, const net::HttpRequest& r, int status,
                         const std::string&) {
                    audited_.push_back((caller.name.empty() ? "-" : caller.name) + " " + r.method +
                                       " " + r.target + " " + std::to_string(status));
                  }},
             state_, consumers_, rollouts_, watchers_, authority_) {}

  std::string make_token() {
    auto made = authority_.create("vm101", {std::get<model::Policy>(model::parse_policy("read"))},
                                  std::nullopt);
    return std::get<Authority::Created>(made).secret;
  }
  net::HttpResponse as(const std::string& secret, const std::string& method,
                       const std::string& target, std::string body = "") {
    net::HttpRequest r;
    r.method = method;
    r.target = r.path = target;
    r.body = std::move(body);
    r.authorization = "Bearer " + secret;
    return api_.handle(r);
  }
  net::HttpResponse admin(const std::string& method, const std::string& target,
                          std::string body = "") {
    return as("admin-secret", method, target, std::move(body));
  }
  // The answer to GET /v1/watch with `secret`, its stream not yet started.
  net::HttpResponse watch(const std::string& secret) {
    net::HttpRequest r;
    r.method = "GET";
    r.target = r.path = "/v1/watch";
    r.authorization = "Bearer " + secret;
    return api_.handle(r);
  }

  // Starts the stream of an answer to a watch, as the server does once it may.
  static std::shared_ptr<RecordingSink> start(const net::HttpResponse& answer) {
    auto sink = std::make_shared<RecordingSink>();
    if (answer.start_stream) answer.start_stream(sink);
    return sink;
  }

  test::TempDir dir_;
  FakeClock clock_;
  std::shared_ptr<DataDir> data_;
  RouteStore routes_;
  PolicyStore policies_;
  RolloutStore rollout_store_;
  TokenStore tokens_;
  State state_;
  Consumers consumers_;
  Rollouts rollouts_;
  Watchers watchers_;
  Authority authority_;
  std::vector<std::string> audited_;  // "TOKEN METHOD TARGET STATUS", one per audit line
  Api api_;
};

// The server starts a stream only after writing the answers pipelined before it, which a slow
// reader can hold up for seconds: a token revoked meanwhile, even one made again under its name
// as docs/security.md says to replace a token, must not get the stream its old secret asked for.
TEST_F(ApiTest, AStreamStartsForATokenStillValid) {
  auto answer = watch(make_token());
  ASSERT_EQ(answer.status, 200) << answer.body;
  ASSERT_TRUE(answer.start_stream);
  auto sink = start(answer);
  EXPECT_FALSE(sink->closed());
  EXPECT_EQ(watchers_.size(), 1u);
}

TEST_F(ApiTest, ATokenRevokedBeforeItsStreamStartsGetsNone) {
  auto answer = watch(make_token());
  ASSERT_EQ(answer.status, 200) << answer.body;
  ASSERT_TRUE(std::holds_alternative<Done>(authority_.revoke("vm101")));
  auto sink = start(answer);
  EXPECT_TRUE(sink->closed());
  EXPECT_TRUE(sink->lines.empty());
  EXPECT_EQ(watchers_.size(), 0u);
}

TEST_F(ApiTest, ATokenMadeAgainUnderTheNameDoesNotRevalidateTheOldSecretsStream) {
  auto answer = watch(make_token());
  ASSERT_EQ(answer.status, 200) << answer.body;
  ASSERT_TRUE(std::holds_alternative<Done>(authority_.revoke("vm101")));
  make_token();  // the same name, another secret
  auto sink = start(answer);
  EXPECT_TRUE(sink->closed());
  EXPECT_EQ(watchers_.size(), 0u);
}

// The keep-alive tick's check (directory/server.cpp) ends a running stream whose secret was
// revoked, whatever token now has the name.
TEST_F(ApiTest, TheKeepAliveCheckEndsAStreamWhoseSecretWasRevokedAndItsNameMadeAgain) {
  auto answer = watch(make_token());
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto sink = start(answer);
  ASSERT_EQ(watchers_.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Done>(authority_.revoke("vm101")));
  make_token();
  EXPECT_EQ(
      watchers_.close_if([&](const std::string& key) { return !authority_.still_valid(key); }), 1u);
  EXPECT_TRUE(sink->closed());
  EXPECT_EQ(watchers_.size(), 0u);
}

// A person's route change pauses a running rollout first (docs/rollouts.md): when the pause
// cannot be kept (a full disk), the change is refused and nothing changes, rather than the route
// changing under a rollout that goes on running and sets its next step's route over it.
TEST_F(ApiTest, ARouteChangeWhoseRolloutCannotBePausedChangesNothing) {
  const auto lease = std::get<model::Lease>(state_.grant(60, "vm", Caller{})).id;
  for (const auto& [id, version] : {std::pair{"a", "1"}, {"b", "2"}}) {
    model::Instance in;
    in.service = "emitter";
    in.id = id;
    in.url = std::string("http://10.0.0.1:900") + version + "/";
    in.version = version;
    in.lease = lease;
    ASSERT_TRUE(std::holds_alternative<Done>(state_.put_instance(in, Caller{})));
  }
  ASSERT_EQ(
      admin("PUT", "/v1/routes/emitter", R"({"targets":[{"version":"1","weight":100}]})").status,
      200);
  auto started = admin("PUT", "/v1/rollouts/emitter", R"({"to":"2","steps":[10,50]})");
  ASSERT_EQ(started.status, 201) << started.body;
  // Paused once by someone with a long name: rollouts.log is now the larger file, so a file size
  // limit stops its writes and not those of routes.log.
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(
      rollouts_.command("emitter", Rollouts::Command::pause, std::string(4000, 'x'))));
  ASSERT_TRUE(std::holds_alternative<model::RolloutState>(
      rollouts_.command("emitter", Rollouts::Command::resume, "ops")));
  const auto rollouts_log = std::filesystem::file_size(dir_.path() / "rollouts.log");
  ASSERT_LT(std::filesystem::file_size(dir_.path() / "routes.log") + 1000, rollouts_log);
  const auto route_before = state_.route("emitter", "")->targets;
  const auto revision_before = state_.revision();

  std::vector<net::HttpResponse> answers;
  {
    test::FileSizeLimit full(rollouts_log + 10);
    answers.push_back(
        admin("PUT", "/v1/routes/emitter", R"({"targets":[{"version":"1","weight":100}]})"));
    answers.push_back(admin("DELETE", "/v1/routes/emitter"));
    answers.push_back(admin("POST", "/v1/routes/emitter/rollback"));
  }
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 503) << answer.body;
    EXPECT_THAT(answer.body,
                ::testing::HasSubstr("could not be paused, so the route was not changed"));
  }
  EXPECT_EQ(state_.route("emitter", "")->targets, route_before);
  EXPECT_EQ(state_.revision(), revision_before);
  EXPECT_EQ(rollouts_.find("emitter")->phase, model::RolloutPhase::running);
}

// Requests answered before their permission is worked out (a malformed path, the health check)
// are audited under the token that sent them, as every other write; reads are not audited.
TEST_F(ApiTest, TheAuditLineNamesTheTokenOfEveryWriteWhateverItsAnswer) {
  const std::string secret = make_token();
  EXPECT_EQ(as(secret, "DELETE", "/v1/services//x").status, 404);
  EXPECT_EQ(as(secret, "PUT", "/v1/routes/e%zz").status, 400);
  EXPECT_EQ(as(secret, "POST", "/v1/health").status, 405);
  EXPECT_EQ(as(secret, "POST", "/ui/").status, 405);
  EXPECT_EQ(as(secret, "PUT", "/v1/routes/emitter", "{}").status, 403);
  EXPECT_EQ(as("not-a-token", "POST", "/v1/health").status, 405);
  EXPECT_EQ(as(secret, "HEAD", "/v1/services").status, 405);  // a read all the same
  EXPECT_EQ(as(secret, "GET", "/v1/services").status, 200);
  EXPECT_THAT(audited_, ::testing::ElementsAre(
                            "vm101 DELETE /v1/services//x 404", "vm101 PUT /v1/routes/e%zz 400",
                            "vm101 POST /v1/health 405", "vm101 POST /ui/ 405",
                            "vm101 PUT /v1/routes/emitter 403", "- POST /v1/health 405"));
}

}  // namespace
}  // namespace dstack::directory
