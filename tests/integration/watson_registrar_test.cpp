// SPDX-License-Identifier: Apache-2.0
// watson's registrar against the real directory: registration, keepalive, re-registration after
// restarts, outages and revoked leases, shutdown, and refused input. The registrar runs on its
// own io_context thread; the tests talk to it by posting and watch the directory over HTTP.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <optional>
#include <thread>

#include "common/registry/directory_client.hpp"
#include "directory_fixture.hpp"
#include "watson/registrar.hpp"

namespace dstack::test {
namespace {

using watson::Registrar;

model::Instance instance(const std::string& service, const std::string& id, int weight = 100,
                         const std::string& url = "http://vm101:8080/x") {
  model::Instance i;
  i.service = service;
  i.id = id;
  i.url = url;
  i.weight = weight;
  return i;
}

// The real client, counting the puts per instance id so tests can see what was sent.
class CountingRegistry final : public registry::Registry {
 public:
  CountingRegistry(std::unique_ptr<registry::Registry> inner, std::map<std::string, int>& puts)
      : inner_(std::move(inner)), puts_(puts) {}
  std::string describe() const override { return inner_->describe(); }
  awaitable<Result<model::DirectoryHealth>> health() override { return inner_->health(); }
  awaitable<Result<model::Lease>> grant_lease(std::chrono::seconds ttl,
                                              std::string owner) override {
    return inner_->grant_lease(ttl, std::move(owner));
  }
  awaitable<Status> keepalive(std::string id) override { return inner_->keepalive(std::move(id)); }
  awaitable<Status> revoke(std::string id) override { return inner_->revoke(std::move(id)); }
  awaitable<Status> put_instance(model::Instance i) override {
    ++puts_[i.id];
    return inner_->put_instance(std::move(i));
  }
  awaitable<Status> delete_instance(std::string service, std::string id) override {
    return inner_->delete_instance(std::move(service), std::move(id));
  }
  awaitable<Result<std::vector<registry::ServiceSummary>>> services() override {
    return inner_->services();
  }
  awaitable<Result<registry::ServiceView>> service(std::string name) override {
    return inner_->service(std::move(name));
  }
  awaitable<Result<model::Snapshot>> snapshot() override { return inner_->snapshot(); }
  awaitable<Result<std::unique_ptr<registry::Watch>>> watch(std::uint64_t since,
                                                            std::string epoch) override {
    return inner_->watch(since, std::move(epoch));
  }
  awaitable<Result<std::vector<model::Route>>> routes(std::optional<std::string> svc) override {
    return inner_->routes(std::move(svc));
  }
  awaitable<Result<model::Route>> route(std::string service, std::string consumer) override {
    return inner_->route(std::move(service), std::move(consumer));
  }
  awaitable<Status> put_route(model::Route route) override {
    return inner_->put_route(std::move(route));
  }
  awaitable<Status> delete_route(std::string service, std::string consumer) override {
    return inner_->delete_route(std::move(service), std::move(consumer));
  }
  awaitable<Result<std::vector<model::TrafficPolicy>>> policies() override {
    return inner_->policies();
  }
  awaitable<Result<model::TrafficPolicy>> policy(std::string service) override {
    return inner_->policy(std::move(service));
  }
  awaitable<Status> put_policy(model::TrafficPolicy policy) override {
    return inner_->put_policy(std::move(policy));
  }
  awaitable<Status> delete_policy(std::string service) override {
    return inner_->delete_policy(std::move(service));
  }

 private:
  std::unique_ptr<registry::Registry> inner_;
  std::map<std::string, int>& puts_;
};

awaitable<void> shutdown_registrar(Registrar* r) {
  auto shutdown = r->shutdown();
  co_await std::move(shutdown);
}

class RegistrarTest : public ::testing::Test {
 protected:
  // Runs `f` on the registrar's thread and waits for it.
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto done = task.get_future();
    asio::post(io_, [&task] { task(); });
    return done.get();
  }

  void SetUp() override { d_.start(); }

  void TearDown() override {
    if (reg_ && !shut_down_) shutdown(10s);
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    reg_.reset();
  }

  void launch(std::chrono::seconds ttl) {
    auto address =
        registry::parse_directory_address("http://127.0.0.1:" + std::to_string(d_.port()));
    registry::ClientSettings settings;
    settings.http.connect_timeout = 1s;
    settings.http.request_timeout = 2s;
    auto client = registry::make_registry(io_.get_executor(),
                                          std::get<registry::DirectoryAddress>(address), settings);
    reg_ = std::make_unique<Registrar>(io_.get_executor(),
                                       std::make_unique<CountingRegistry>(std::move(client), puts_),
                                       ttl, "vm101");
    thread_ = std::thread([this] { io_.run(); });
    on_io([this] { reg_->start(); });
  }

  void put(model::Instance i) {
    on_io([&] { reg_->put(i); });
  }
  void remove(const std::string& service, const std::string& id) {
    on_io([&] { reg_->remove(service, id); });
  }
  int puts(const std::string& id) {
    return on_io([&] { return puts_[id]; });
  }
  Registrar::Status status() {
    return on_io([&] { return reg_->status(); });
  }

  // True when shutdown() completed within `timeout`.
  bool shutdown(Clock::duration timeout) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    asio::co_spawn(io_, shutdown_registrar(reg_.get()),
                   [done](std::exception_ptr) { done->set_value(); });
    shut_down_ = true;
    return finished.wait_for(timeout) == std::future_status::ready;
  }

  // The instance as the directory has it; null when it has none.
  json find(const std::string& service, const std::string& id) {
    auto snapshot = d_.snapshot();  // kept: a range over a temporary's member would dangle
    for (auto& i : snapshot["instances"])
      if (i["service"] == service && i["id"] == id) return i;
    return nullptr;
  }
  bool present(const std::string& service, const std::string& id, const std::string& lease) {
    auto i = find(service, id);
    return !i.is_null() && i["lease"] == lease;
  }

  Directory d_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::map<std::string, int> puts_;  // touched on the io thread only
  std::unique_ptr<Registrar> reg_;
  std::thread thread_;
  bool shut_down_ = false;
};

TEST_F(RegistrarTest, RegistersRemovesAndUpdatesUnderItsLease) {
  launch(10s);
  put(instance("emitter", "a"));
  put(instance("emitter", "b"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().pending == 0 && status().registered == 2; }));
  auto lease = status().lease;
  ASSERT_FALSE(lease.empty());
  EXPECT_TRUE(present("emitter", "a", lease));
  EXPECT_TRUE(present("emitter", "b", lease));
  EXPECT_TRUE(status().connected);
  EXPECT_EQ(d_.metric("dstack_directory_leases"), 1);

  remove("emitter", "a");
  EXPECT_TRUE(poll_until(5s, [&] { return find("emitter", "a").is_null(); }));
  EXPECT_TRUE(present("emitter", "b", lease));

  put(instance("emitter", "b", 7));
  EXPECT_TRUE(poll_until(5s, [&] { return find("emitter", "b")["weight"] == 7; }));
  // The directory may answer the test before the registrar has read its own answer.
  EXPECT_TRUE(poll_until(5s, [&] { return status().registered == 1 && status().pending == 0; }));
}

TEST_F(RegistrarTest, CoalescesRapidChangesIntoTheLatest) {
  launch(10s);
  put(instance("emitter", "a"));
  ASSERT_TRUE(poll_until(5s, [&] { return !find("emitter", "a").is_null(); }));
  on_io([this] {
    for (int w = 1; w <= 50; ++w) reg_->put(instance("emitter", "b", w));
  });
  ASSERT_TRUE(poll_until(5s, [&] { return find("emitter", "b")["weight"] == 50; }));
  EXPECT_EQ(puts("b"), 1);
}

TEST_F(RegistrarTest, KeepaliveKeepsAShortLeaseAlive) {
  launch(2s);
  put(instance("emitter", "a"));
  ASSERT_TRUE(poll_until(5s, [&] { return !find("emitter", "a").is_null(); }));
  auto lease = status().lease;
  // Three TTLs: without keepalives the lease and its instance would be gone.
  EXPECT_FALSE(poll_until(
      7s, [&] { return !present("emitter", "a", lease); }, 100ms));
  EXPECT_EQ(status().lease, lease);
}

TEST_F(RegistrarTest, ReRegistersAfterDirectoryRestart) {
  launch(2s);
  put(instance("emitter", "a"));
  put(instance("emitter", "b"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().registered == 2; }));
  auto old_lease = status().lease;
  d_.restart();
  EXPECT_TRUE(poll_until(5s, [&] {
    auto lease = status().lease;
    return lease != old_lease && !lease.empty() && present("emitter", "a", lease) &&
           present("emitter", "b", lease);
  }));
}

TEST_F(RegistrarTest, KeepsDesiredStateWhileDirectoryIsDownAndAppliesItOnReturn) {
  launch(2s);
  put(instance("emitter", "a"));
  put(instance("emitter", "b"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().registered == 2; }));
  d_.stop();
  ASSERT_TRUE(poll_until(5s, [&] { return !status().connected; }));
  EXPECT_FALSE(status().last_error.empty());
  put(instance("emitter", "b", 9));
  put(instance("emitter", "c"));
  remove("emitter", "a");
  std::this_thread::sleep_for(2s);  // the outage itself, not a synchronisation
  d_.start();
  EXPECT_TRUE(poll_until(15s, [&] {
    auto s = status();
    return s.connected && s.pending == 0 && present("emitter", "b", s.lease) &&
           present("emitter", "c", s.lease) && find("emitter", "a").is_null() &&
           find("emitter", "b")["weight"] == 9;
  }));
}

TEST_F(RegistrarTest, TakesANewLeaseWhenItsLeaseIsRevoked) {
  launch(2s);
  put(instance("emitter", "a"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().registered == 1; }));
  auto old_lease = status().lease;
  auto r = d_.del("/v1/leases/" + old_lease);
  ASSERT_LT(r.status, 300) << r.body;
  EXPECT_TRUE(poll_until(5s, [&] {
    auto lease = status().lease;
    return lease != old_lease && !lease.empty() && present("emitter", "a", lease);
  }));
  EXPECT_EQ(d_.metric("dstack_directory_leases"), 1);
}

TEST_F(RegistrarTest, ShutdownDeregistersAndRevokesTheLease) {
  launch(10s);
  put(instance("emitter", "a"));
  put(instance("collector", "b"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().registered == 2; }));
  ASSERT_EQ(d_.metric("dstack_directory_leases"), 1);
  ASSERT_TRUE(shutdown(2s));
  EXPECT_EQ(d_.snapshot()["instances"], json::array());
  EXPECT_EQ(d_.metric("dstack_directory_leases"), 0);
  EXPECT_TRUE(status().lease.empty());
}

TEST_F(RegistrarTest, RefusedInstanceDoesNotBlockValidOnes) {
  launch(2s);
  put(instance("emitter", "bad", 100, "ftp://x"));
  put(instance("emitter", "good"));
  ASSERT_TRUE(poll_until(5s, [&] { return status().registered == 1 && status().pending == 0; }));
  EXPECT_TRUE(present("emitter", "good", status().lease));
  EXPECT_TRUE(find("emitter", "bad").is_null());
  EXPECT_THAT(status().last_error, ::testing::HasSubstr("emitter/bad"));
  EXPECT_TRUE(status().connected);

  // Not retried, not over keepalives (ttl/3 = 667 ms) nor when other instances change.
  EXPECT_EQ(puts("bad"), 1);
  auto keepalives = d_.metric("dstack_directory_keepalives_total");
  ASSERT_TRUE(poll_until(
      5s, [&] { return d_.metric("dstack_directory_keepalives_total") >= keepalives + 2; }));
  put(instance("emitter", "good", 3));
  EXPECT_TRUE(poll_until(5s, [&] { return find("emitter", "good")["weight"] == 3; }));
  EXPECT_EQ(puts("bad"), 1);

  // A corrected version is sent.
  put(instance("emitter", "bad", 100, "http://vm101:8081/x"));
  EXPECT_TRUE(poll_until(5s, [&] { return present("emitter", "bad", status().lease); }));
}

}  // namespace
}  // namespace dstack::test
