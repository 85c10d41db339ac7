// SPDX-License-Identifier: Apache-2.0
#include "watson/agent.hpp"

#include <algorithm>

#include "common/log/log.hpp"
#include "common/metrics/writer.hpp"
#include "common/model/json.hpp"

namespace dstack::watson {

namespace {

const char* kind_name(Check::Kind k) {
  switch (k) {
    case Check::Kind::http:
      return "http";
    case Check::Kind::tcp:
      return "tcp";
    case Check::Kind::exec:
      return "exec";
    case Check::Kind::none:
      return "none";
  }
  return "none";
}

// Counts the registrars still shutting down; the last one out wakes the waiter.
struct ShutdownLatch {
  explicit ShutdownLatch(asio::any_io_executor ex, std::size_t n) : pending(n), timer(ex) {}
  std::size_t pending;
  asio::steady_timer timer;
};

awaitable<void> shut_down_one(Registrar* registrar, std::shared_ptr<ShutdownLatch> latch) {
  auto shutdown = registrar->shutdown();
  co_await std::move(shutdown);
  if (--latch->pending == 0) latch->timer.cancel();
}

}  // namespace

Agent::Agent(asio::any_io_executor ex, std::vector<std::unique_ptr<Registrar>> registrars)
    : ex_(ex), registrars_(std::move(registrars)) {}

Agent::~Agent() {
  for (auto& [key, runner] : runners_) runner->stop();
}

void Agent::start() {
  for (auto& r : registrars_) r->start();
}

void Agent::publish(const ServiceRunner& runner) {
  const auto& def = runner.definition();
  auto want = runner.desired();
  for (auto& r : registrars_) {
    if (want) {
      r->put(*want);
    } else {
      r->remove(def.service, def.id);
    }
  }
}

void Agent::apply(const std::vector<ServiceDefinition>& definitions) {
  auto log = log::get("watson");
  std::map<Key, const ServiceDefinition*> next;
  for (const auto& def : definitions) next.emplace(Key{def.service, def.id}, &def);

  for (auto it = runners_.begin(); it != runners_.end();) {
    if (next.count(it->first) > 0) {
      ++it;
      continue;
    }
    log->info("{}/{}: no longer defined; deregistering", it->first.first, it->first.second);
    it->second->stop();
    for (auto& r : registrars_) r->remove(it->first.first, it->first.second);
    it = runners_.erase(it);
  }
  for (const auto& [key, def] : next) {
    auto found = runners_.find(key);
    if (found != runners_.end()) {
      if (!(found->second->definition() == *def))
        log->info("{}/{}: definition changed{}{}", key.first, key.second,
                  def->file.empty() ? "" : " in ", def->file);
      found->second->update(*def);
      continue;
    }
    log->info("{}/{}: checking {}{}{}", key.first, key.second, def->url,
              def->file.empty() ? "" : " (from ", def->file.empty() ? "" : def->file + ")");
    auto runner =
        std::make_shared<ServiceRunner>(ex_, *def, [this](const ServiceRunner& r) { publish(r); });
    runners_.emplace(key, runner);
    runner->start();
  }
}

std::size_t Agent::set_maintenance(const std::string& service, bool on, const std::string& reason) {
  std::size_t n = 0;
  for (auto& [key, runner] : runners_) {
    if (key.first != service) continue;
    runner->set_maintenance(on, reason);
    ++n;
  }
  return n;
}

awaitable<void> Agent::shutdown(Duration deadline) {
  auto log = log::get("watson");
  Duration longest{0};
  for (auto& [key, runner] : runners_) {
    runner->stop_checks();
    runner->set_maintenance(true, "watson is stopping");
    if (runner->draining()) longest = std::max(longest, runner->definition().drain);
  }
  if (longest > Duration::zero()) {
    log->info("draining for {} ms before deregistering",
              std::chrono::duration_cast<std::chrono::milliseconds>(longest).count());
    asio::steady_timer drain(ex_, longest);
    error_code ec;
    auto wait = drain.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  for (auto& [key, runner] : runners_) runner->stop();
  if (registrars_.empty()) co_return;

  auto latch = std::make_shared<ShutdownLatch>(ex_, registrars_.size());
  latch->timer.expires_after(deadline);
  for (auto& r : registrars_) asio::co_spawn(ex_, shut_down_one(r.get(), latch), asio::detached);
  error_code ec;
  auto wait = latch->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  co_await std::move(wait);
  if (latch->pending > 0)
    log->warn("{} directorie(s) did not confirm the deregistration in time; their leases expire",
              latch->pending);
}

nlohmann::json Agent::status() const {
  using nlohmann::json;
  json dirs = json::array();
  for (const auto& r : registrars_) {
    auto s = r->status();
    dirs.push_back({{"directory", s.directory},
                    {"connected", s.connected},
                    {"lease", s.lease},
                    {"last_error", s.last_error},
                    {"registered", s.registered},
                    {"pending", s.pending}});
  }
  json services = json::array();
  for (const auto& [key, runner] : runners_) {
    const auto& def = runner->definition();
    const auto& h = runner->health();
    const auto& last = runner->last_outcome();
    json registration = json::object();
    for (const auto& r : registrars_)
      registration[r->status().directory] = r->state_of(key.first, key.second);
    services.push_back({{"service", def.service},
                        {"id", def.id},
                        {"url", def.url},
                        {"file", def.file},
                        {"health", model::to_string(h.health())},
                        {"routable", h.routable()},
                        {"maintenance", h.maintenance()},
                        {"reason", h.maintenance_reason()},
                        {"summary", h.summary()},
                        {"check",
                         {{"kind", kind_name(def.check.kind)},
                          {"status", last ? json(to_string(last->status)) : json(nullptr)},
                          {"output", last ? last->output : std::string()},
                          {"checks", h.checks()}}},
                        {"registration", registration}});
  }
  return {{"directories", dirs}, {"services", services}, {"problems", problems_}};
}

std::string Agent::metrics() const {
  metrics::Writer w;
  for (const auto& [key, runner] : runners_) {
    for (auto s : {CheckStatus::passing, CheckStatus::warning, CheckStatus::critical})
      w.counter("dstack_watson_checks_total", "Check results by status.",
                static_cast<double>(runner->results(s)),
                {{"service", key.first}, {"id", key.second}, {"status", to_string(s)}});
  }
  for (const auto& [key, runner] : runners_)
    w.gauge("dstack_watson_service_routable", "1 while the instance should take traffic.",
            runner->health().routable() ? 1 : 0, {{"service", key.first}, {"id", key.second}});
  std::vector<Registrar::Status> directories;
  for (const auto& r : registrars_) directories.push_back(r->status());
  for (const auto& s : directories)
    w.gauge("dstack_watson_directory_connected", "1 while the directory answers.",
            s.connected ? 1 : 0, {{"directory", s.directory}});
  for (const auto& s : directories)
    w.gauge("dstack_watson_registered_instances",
            "Instances the directory holds as watson wants them.",
            static_cast<double>(s.registered), {{"directory", s.directory}});
  w.gauge("dstack_watson_config_problems", "Problems in the service files at the last read.",
          static_cast<double>(problems_.size()));
  return std::move(w).text();
}

}  // namespace dstack::watson
