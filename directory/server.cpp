// SPDX-License-Identifier: Apache-2.0
#include "directory/server.hpp"

#include <ctime>
#include <random>

#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "common/model/validate.hpp"
#include "directory/api.hpp"
#include "directory/consumer_events.hpp"
#include "directory/rollout_events.hpp"
#include "directory/token_secret.hpp"
#include "directory/traffic_events.hpp"

namespace dstack::directory {

namespace {

std::string new_epoch() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
}

// Token times are wall-clock seconds: they outlive restarts, unlike the steady clock's. Read for
// every request with a token: time() is the cheapest read of the wall clock in seconds.
std::uint64_t unix_now() {
  return static_cast<std::uint64_t>(std::time(nullptr));
}

// Rollout intervals are wall-clock milliseconds: a step's interval outlives a restart.
std::int64_t unix_now_ms() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
}

// The watch streams' batch (docs/directory.md#watch-fan-out), or none, and the log says which.
std::unique_ptr<net::SendBatch> open_send_batch(bool wanted, spdlog::logger& log) {
  if (!wanted) {
    log.info("watch streams: one send per stream (watch_io_uring: false)");
    return nullptr;
  }
  std::string why;
  // Room for this many sends per system call; more watchers take a few.
  constexpr unsigned kBatchEntries = 1024;
  auto batch = net::SendBatch::open(kBatchEntries, why);
  if (batch)
    log.info("watch streams: each change in one io_uring submission");
  else
    log.info("watch streams: one send per stream ({})", why);
  return batch;
}

// Runs `tick` every `period` until the io_context stops.
awaitable<void> every(Duration period, std::function<void()> tick) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(period);
    auto wait = timer.async_wait(use_awaitable);
    co_await std::move(wait);
    tick();
  }
}

void server_metrics(const net::ServerStats& s, metrics::Writer& w) {
  auto n = [](auto v) { return static_cast<double>(v); };
  w.gauge("dstack_directory_connections", "Open client connections.", n(s.connections_open))
      .counter("dstack_directory_connections_total", "Connections accepted.",
               n(s.connections_total))
      .counter("dstack_directory_connections_refused_total",
               "Connections refused over max_connections.", n(s.connections_refused))
      .counter("dstack_directory_requests_total", "Requests parsed.", n(s.requests_total))
      .counter("dstack_directory_bad_requests_total",
               "Requests unparsable, too large, timed out or cut off mid-request.",
               n(s.bad_requests));
}

}  // namespace

int run(const DirectoryConfig& config, const Identity& identity) {
  auto log = log::get("directory");
  daemon::raise_fd_limit();

  auto data_dir = DataDir::open(config.data_dir);
  auto store = RouteStore::open(data_dir);
  if (!store.recovery().message.empty()) log->warn("{}", store.recovery().message);
  auto policies = PolicyStore::open(data_dir);
  if (!policies.recovery().message.empty()) log->warn("{}", policies.recovery().message);
  auto rollout_store = RolloutStore::open(data_dir);
  if (!rollout_store.recovery().message.empty()) log->warn("{}", rollout_store.recovery().message);
  auto tokens = TokenStore::open(data_dir);
  if (!tokens.recovery().message.empty()) log->warn("{}", tokens.recovery().message);
  const bool access_control = !config.token.empty();
  const Anonymous anonymous = anonymous_access(config);
  Authority authority({access_control ? secret_digest(config.token) : std::string(), anonymous},
                      tokens, unix_now);

  SteadyClock clock;
  State state(config.state, clock, store, policies, new_epoch());
  Consumers consumers(state, clock, {config.traffic_window});
  state.set_lease_end_listener([&](const std::string& lease) { consumers.lease_ended(lease); });
  // Before the watchers: the streams they hold own timers of this io_context, so they must go
  // first when run() returns.
  asio::io_context io(1);
  Watchers watchers(open_send_batch(config.watch_io_uring, *log));
  state.set_listener(
      [&](std::uint64_t, const EventHistory::Line& line) { watchers.publish(line); });
  consumers.on_change([&](const std::string& name, const model::Consumer* now) {
    if (watchers.consumer_streams() == 0) return;
    watchers.publish_consumers(std::make_shared<const std::string>(
        consumer_event_line(consumers, name, now, state.revision())));
  });
  Rollouts rollouts(rollout_store, state, unix_now_ms);
  consumers.on_report([&](const std::string& name, const model::TrafficRows& report) {
    rollouts.on_report(name, report);
  });
  // A rollout event (docs/api.md#rollout-events) to the streams that asked for them.
  const auto publish_rollout = [&](const std::string& service, const model::RolloutState* now) {
    if (watchers.rollout_streams() == 0) return;
    watchers.publish_rollouts(std::make_shared<const std::string>(
        rollout_event_line(rollouts, service, now, state.revision())));
  };
  rollouts.set_listener([&](const std::string& service, const model::RolloutState* now) {
    if (now)
      log->info("rollout of {}: {} at step {} of {}{}{}", service, model::to_string(now->phase),
                now->step + 1, now->spec.steps.size(), now->reason.empty() ? "" : ": ",
                now->reason);
    publish_rollout(service, now);
  });
  for (const auto& problem : rollouts.recover()) log->error("{}; tried again each second", problem);

  std::unique_ptr<net::HttpServer> server;
  auto audit = log::get("audit");
  Api api(
      {identity.name, identity.advertise,
       [&](const Caller& caller, const net::HttpRequest& r, int status, const std::string& note) {
         // Checked first: making the target printable costs an allocation per write even when
         // the trail is off (log_level warn).
         if (!audit->should_log(spdlog::level::info)) return;
         // The target is as sent (percent-encoded, with its query), made safe for a log line.
         audit->info("token={} from={} {} {} {}{}{}", caller.name.empty() ? "-" : caller.name,
                     r.remote, r.method, model::printable(r.target), status,
                     note.empty() ? "" : " ", note);
       }},
      state, consumers, rollouts, watchers, authority,
      [&](metrics::Writer& w) { server_metrics(server->stats(), w); });
  server = std::make_unique<net::HttpServer>(
      io, config.limits, [&](const net::HttpRequest& r) { return api.handle(r); }, config.tls);
  server->listen(config.listen.host, config.listen.port);

  asio::co_spawn(io,
                 every(std::chrono::milliseconds(100),
                       [&] {
                         if (auto n = state.expire()) log->info("{} lease(s) expired", n);
                       }),
                 asio::detached);
  asio::co_spawn(io,
                 every(config.watch_keepalive,
                       [&] {
                         // A token revoked or expired since the last tick ends its streams.
                         watchers.close_if(
                             [&](const std::string& key) { return !authority.still_valid(key); });
                         watchers.keepalive(state.revision());
                       }),
                 asio::detached);
  asio::co_spawn(io,
                 every(std::chrono::milliseconds(250),
                       [&] {
                         rollouts.tick();
                         // Figures so far, for live views: decisions alone would leave them as
                         // they were when the step began.
                         for (const auto& service : rollouts.fresh_figures())
                           publish_rollout(service, rollouts.find(service));
                       }),
                 asio::detached);
  TrafficEventPacer traffic_events;
  asio::co_spawn(
      io,
      every(std::chrono::milliseconds(250),
            [&] {
              if (watchers.traffic_streams() == 0) return;
              if (!traffic_events.due(clock.now(), consumers.counters().reports)) return;
              const auto view = consumers.traffic({TrafficEventPacer::kWindow, {}, {}, false});
              watchers.publish_traffic(
                  std::make_shared<const std::string>(traffic_event_line(view, state.revision())));
            }),
      asio::detached);
  daemon::Signals signals(io, [&] {
    log->info("shutting down");
    daemon::notify_stopping();
    server->stop();
    io.stop();
  });
  daemon::start_watchdog(io);

  log->info(
      "listening on {}{} (epoch {}, {} route(s), {} policy(ies), {} rollout(s) and {} token(s) "
      "loaded, {})",
      config.tls ? "https://" : "http://", config.listen.to_string(), state.epoch(),
      state.route_count(), state.policy_count(), rollout_store.rollouts().size(),
      tokens.tokens().size(),
      !access_control                ? "access control off: no token_file"
      : anonymous == Anonymous::read ? "requests without a token may read"
                                     : "every request but health needs a token");
  daemon::notify_ready();
  io.run();
  return 0;
}

}  // namespace dstack::directory
