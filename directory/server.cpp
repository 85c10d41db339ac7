// SPDX-License-Identifier: Apache-2.0
#include "directory/server.hpp"

#include <random>

#include "common/daemon/daemon.hpp"
#include "common/log/log.hpp"
#include "directory/api.hpp"

namespace dstack::directory {

namespace {

std::string new_epoch() {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return buf;
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

  const std::string& token = config.token;

  auto store = RouteStore::open(config.data_dir);
  if (!store.recovery().message.empty()) log->warn("{}", store.recovery().message);

  SteadyClock clock;
  State state(config.state, clock, store, new_epoch());
  // Before the watchers: the streams they hold own timers of this io_context, so they must go
  // first when run() returns.
  asio::io_context io(1);
  Watchers watchers;
  state.set_listener(
      [&](std::uint64_t, const EventHistory::Line& line) { watchers.publish(line); });

  std::unique_ptr<net::HttpServer> server;
  Api api({token, identity.name, identity.advertise}, state, watchers,
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
  asio::co_spawn(io, every(config.watch_keepalive, [&] { watchers.keepalive(state.revision()); }),
                 asio::detached);
  daemon::Signals signals(io, [&] {
    log->info("shutting down");
    daemon::notify_stopping();
    server->stop();
    io.stop();
  });
  daemon::start_watchdog(io);

  log->info("listening on {}{} (epoch {}, {} route(s) loaded, writes {})",
            config.tls ? "https://" : "http://", config.listen.to_string(), state.epoch(),
            state.route_count(), token.empty() ? "open" : "need a token");
  daemon::notify_ready();
  io.run();
  return 0;
}

}  // namespace dstack::directory
