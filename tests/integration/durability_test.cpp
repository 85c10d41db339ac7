// SPDX-License-Identifier: Apache-2.0
// Routes are durable operator intent: they survive restarts and kill -9 at any moment, and a
// damaged store is refused loudly rather than loaded half-way.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "directory_fixture.hpp"

namespace dstack::test {
namespace {

using Value = std::optional<json>;  // a route's targets, or nullopt for "no route"

TEST(Durability, RoutesSurviveARestart) {
  Directory d;
  d.start();
  auto a = json::parse(R"({"targets":[{"version":"1","weight":90},{"version":"2","weight":10}]})");
  auto b = json::parse(R"({"targets":[{"version":"3","weight":100}]})");
  ASSERT_EQ(d.put("/v1/routes/emitter", a).status, 200);
  ASSERT_EQ(d.put("/v1/routes/emitter?consumer=barker", b).status, 200);
  ASSERT_EQ(d.put("/v1/routes/gone", b).status, 200);
  ASSERT_EQ(d.del("/v1/routes/gone").status, 200);
  auto lease = d.grant(60);
  d.put_instance("emitter", "a", lease);

  EXPECT_EQ(d.stop(), 0);
  d.start();
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter"))["targets"], a["targets"]);
  EXPECT_EQ(body_json(d.get("/v1/routes/emitter?consumer=barker"))["targets"], b["targets"]);
  EXPECT_EQ(d.get("/v1/routes/gone").status, 404);
  EXPECT_EQ(body_json(d.get("/v1/routes"))["routes"].size(), 2u);
  // Instances are soft state: gone until their watson registers them again.
  EXPECT_EQ(d.snapshot()["instances"], json::array());
  EXPECT_EQ(d.put("/v1/leases/" + lease).status, 404);
}

// One client thread's writes, one at a time, to its own routes.
struct Writer {
  std::vector<std::string> services;
  std::map<std::string, Value> acked;                      // the last acknowledged value per route
  std::optional<std::pair<std::string, Value>> in_flight;  // unanswered when the daemon died
  std::vector<std::string> surprises;                      // answers no write should get
  int writes = 0;

  void run(std::uint16_t port, std::uint32_t seed, const std::atomic<bool>& stop) {
    std::mt19937 rng(seed);
    while (!stop) {
      const auto& service = services[rng() % services.size()];
      Value value;
      if (rng() % 10 >= 3) {
        const int w = static_cast<int>(rng() % 101);
        value = json::array({{{"version", "v" + std::to_string(rng() % 1000)}, {"weight", w}},
                             {{"version", "next"}, {"weight", 100 - w}}});
      }
      in_flight = {service, value};
      auto r = value ? http(port, "PUT", "/v1/routes/" + service, json{{"targets", *value}}.dump(),
                            {}, 3s)
                     : http(port, "DELETE", "/v1/routes/" + service, "", {}, 3s);
      if (r.status == 0) return;  // the daemon is gone: the write in flight may go either way
      if (r.status == 200 || (!value && r.status == 404)) {
        acked[service] = value;
        ++writes;
      } else {
        surprises.push_back(std::to_string(r.status) + " " + r.body);
      }
      in_flight.reset();
    }
  }
};

std::map<std::string, Value> routes_now(const Directory& d) {
  std::map<std::string, Value> out;
  auto r = d.get("/v1/routes");
  if (r.status != 200) throw std::runtime_error("GET /v1/routes answered " + r.body);
  const json body = body_json(r);  // named: a range-for over a temporary's member dangles
  for (auto& route : body["routes"]) out[route["service"].get<std::string>()] = route["targets"];
  return out;
}

// docs/directory.md#durable-state: a kill -9 at any moment loses no acknowledged route
// and never leaves a store that fails to load. Each round starts the daemon on the same data
// dir, writes from two clients, kills it after a random delay, restarts it and compares with
// what was acknowledged.
TEST(Durability, AcknowledgedRoutesSurviveKill9AtRandomMoments) {
  Directory d;
  std::map<std::string, std::vector<Value>> allowed;  // per route: the values it may have now
  std::vector<std::string> all;
  for (int i = 0; i < 8; ++i) {
    all.push_back("svc" + std::to_string(i));
    allowed[all.back()] = {std::nullopt};
  }
  std::mt19937 rng(std::random_device{}());
  const auto seed = rng();
  SCOPED_TRACE("seed " + std::to_string(seed));
  rng.seed(seed);
  // Every route must hold one of the values it may have; from then on it holds exactly that.
  auto settle = [&] {
    auto now = routes_now(d);
    for (auto& service : all) {
      const Value value = now.contains(service) ? Value(now[service]) : Value();
      const auto& ok = allowed[service];
      EXPECT_NE(std::find(ok.begin(), ok.end(), value), ok.end())
          << service << " came back as " << (value ? value->dump() : "absent");
      allowed[service] = {value};
    }
  };
  const auto budget = Clock::now() + 60s;
  int rounds = 0, writes = 0;
  for (; rounds < 30 && Clock::now() < budget; ++rounds) {
    SCOPED_TRACE("round " + std::to_string(rounds));
    d.start();  // throws if the store left by the last kill does not load
    settle();
    Writer w1{{all.begin(), all.begin() + 4}}, w2{{all.begin() + 4, all.end()}};
    std::atomic<bool> stop{false};
    std::thread t1([&, s = rng()] { w1.run(d.port(), s, stop); });
    std::thread t2([&, s = rng()] { w2.run(d.port(), s, stop); });
    // The moment of the kill is what is under test: anywhere in the first 300 ms of writes.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    d.kill9();
    stop = true;
    t1.join();
    t2.join();

    for (auto* w : {&w1, &w2}) {
      for (auto& s : w->surprises) ADD_FAILURE() << "unexpected answer: " << s;
      for (auto& [service, value] : w->acked) allowed[service] = {value};
      if (w->in_flight) allowed[w->in_flight->first].push_back(w->in_flight->second);
      writes += w->writes;
    }
  }
  d.start();
  settle();
  EXPECT_GE(rounds, 10) << "too few rounds within the time budget to mean anything";
  EXPECT_GT(writes, 0);
  std::cout << rounds << " kill -9 rounds, " << writes << " acknowledged writes\n";
}

// Walks the log's records (see directory/route_log_format.hpp) and returns the offset of the one
// that holds byte `at`.
std::uint64_t record_holding(const std::string& log, std::uint64_t at) {
  std::uint64_t offset = std::string_view("DSTACK-ROUTES 1\n").size();
  while (offset < log.size()) {
    std::uint32_t length = 0;
    for (int i = 3; i >= 0; --i)
      length = (length << 8) | static_cast<unsigned char>(log[offset + i]);
    if (at < offset + 8 + length) return offset;
    offset += 8 + length;
  }
  throw std::runtime_error("offset past the last record");
}

TEST(Durability, CorruptedRoutesLogRefusesToStartNamingFileAndOffset) {
  Directory d;
  d.start();
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(d.put("/v1/routes/svc" + std::to_string(i),
                    json::parse(R"({"targets":[{"version":"2","weight":10}]})"))
                  .status,
              200);
  ASSERT_EQ(d.stop(), 0);

  const auto log_path = d.data_dir() / "routes.log";
  std::string log = read_file(log_path);
  ASSERT_GT(log.size(), 200u);
  const std::uint64_t middle = log.size() / 2;
  const auto record = record_holding(log, middle);
  log[middle] = static_cast<char>(log[middle] ^ 0x5a);
  std::ofstream(log_path, std::ios::binary | std::ios::trunc) << log;

  Process p(d.argv(), d.dir().path());
  auto status = p.wait(10s);
  ASSERT_TRUE(status) << "the daemon started on a corrupt store";
  EXPECT_NE(*status, 0);
  const auto err = p.stderr_text();
  EXPECT_NE(
      err.find(log_path.string() + ": corrupt record at offset " + std::to_string(record) + " ("),
      std::string::npos)
      << err;
  EXPECT_NE(err.find("; refusing to load (move the file away to start empty)"), std::string::npos)
      << err;
  // Nothing was rewritten: the operator still has the damaged file to inspect.
  EXPECT_EQ(read_file(log_path), log);
}

}  // namespace
}  // namespace dstack::test
