// SPDX-License-Identifier: Apache-2.0
// dw traffic, dw consumers and dw top (docs/dw.md#traffic-insight): the directory's
// /v1/traffic and /v1/consumers for people.
#include <unistd.h>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <ostream>

#include "common/core/clock.hpp"
#include "common/core/duration.hpp"
#include "common/core/exit_codes.hpp"
#include "common/model/json.hpp"
#include "common/model/validate.hpp"
#include "dw/commands.hpp"
#include "dw/route_args.hpp"
#include "dw/terminal.hpp"
#include "dw/top_screen.hpp"
#include "dw/traffic_tables.hpp"
// After common/net/asio.hpp (through commands.hpp), which must come first.
#include <boost/asio/posix/stream_descriptor.hpp>

namespace dstack::dw {

using nlohmann::json;

namespace {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "23:44:10", local time.
std::string clock_text() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &tm);
  return text;
}

// --window as typed, or the message refusing it.
std::variant<std::optional<Duration>, std::string> parse_window(const std::string& text) {
  if (text.empty()) return std::optional<Duration>{};
  const auto d = parse_duration(text);
  if (!d || *d < std::chrono::seconds(1))
    return "--window \"" + model::printable(text) +
           "\" is invalid: must be a duration of at least 1s, such as 30s, 5m or 1h (at most the "
           "directory's traffic_window)";
  return std::optional<Duration>{*d};
}

// The directory's answer to `query`, or the exit code of its failure (said on o.err). With
// --json the answer is printed here and `printed` set.
awaitable<std::variant<model::TrafficView, int>> fetch_traffic(registry::Registry& reg,
                                                               const Output& o,
                                                               registry::TrafficQuery query,
                                                               bool& printed) {
  auto fetch = reg.traffic(std::move(query));
  auto view = co_await std::move(fetch);
  if (!view) co_return fail(o, view.error());
  printed = o.json;
  if (o.json) o.out << model::to_json(*view).dump(2) << '\n';
  co_return std::move(*view);
}

// What dw top shares between its refresher, its key reader and itself.
struct TopSession {
  explicit TopSession(asio::any_io_executor ex) : done(ex, asio::steady_timer::time_point::max()) {}
  Terminal terminal;
  TopFrame frame;
  asio::steady_timer done;  // cancelled to end the session
  void draw() {
    frame.width = terminal.width();
    frame.height = terminal.height();
    terminal.draw(render_top(frame));
  }
};

awaitable<void> refresh_top(registry::Registry& reg, std::shared_ptr<TopSession> s,
                            registry::TrafficQuery query) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    const auto started = real_clock().now();
    auto fetch = reg.traffic(query);
    auto view = co_await std::move(fetch);
    if (view) {
      s->frame.view = std::move(*view);
      s->frame.window = s->frame.view->window;
      s->frame.problem.clear();
      s->frame.clock = clock_text();
    } else {
      s->frame.problem = view.error().message.empty() ? view.error().code : view.error().message;
    }
    s->draw();
    tick.expires_at(started + std::chrono::seconds(1));
    auto wait = tick.async_wait(use_awaitable);
    co_await std::move(wait);
  }
}

awaitable<void> read_top_keys(std::shared_ptr<TopSession> s) {
  asio::posix::stream_descriptor in(co_await asio::this_coro::executor, ::dup(STDIN_FILENO));
  char keys[16];
  for (;;) {
    boost::system::error_code ec;
    auto read = in.async_read_some(asio::buffer(keys), asio::redirect_error(use_awaitable, ec));
    const std::size_t n = co_await std::move(read);
    if (ec) co_return;  // no more keys: Ctrl-C still ends it
    for (std::size_t i = 0; i < n; ++i) {
      if (keys[i] == 'q' || keys[i] == 'Q') {
        s->done.cancel();
        co_return;
      }
      if (auto sort = top_sort_for_key(keys[i])) s->frame.sort = *sort;
    }
    s->draw();
  }
}

}  // namespace

awaitable<int> traffic(registry::Registry& reg, Output o, std::string service, std::string window) {
  registry::TrafficQuery query;
  query.service = service_argument(service);
  if (auto p = model::check_service_name(*query.service)) co_return refuse(o, {*p});
  auto parsed = parse_window(window);
  if (auto* why = std::get_if<std::string>(&parsed)) co_return refuse(o, {*why});
  query.window = std::get<std::optional<Duration>>(parsed);
  bool printed = false;
  auto fetch = fetch_traffic(reg, o, query, printed);
  auto answer = co_await std::move(fetch);
  if (auto* code = std::get_if<int>(&answer)) co_return *code;
  if (printed) co_return exit_code::ok;
  const auto* view = &std::get<model::TrafficView>(answer);
  if (view->services.empty()) {
    o.out << "no traffic to " << *query.service << " reported in the last " << view->window << '\n';
    co_return exit_code::ok;
  }
  const auto& s = view->services.front();
  o.out << s.service << ", last " << view->window << '\n';
  versions_table(s).print(o.out);
  o.out << '\n';
  consumers_traffic_table(s).print(o.out);
  co_return exit_code::ok;
}

awaitable<int> consumers(registry::Registry& reg, Output o) {
  auto fetch = reg.consumers();
  auto list = co_await std::move(fetch);
  if (!list) co_return fail(o, list.error());
  if (o.json) {
    json out = json::array();
    for (auto& c : *list) out.push_back(model::to_json(c));
    o.out << out.dump(2) << '\n';
    co_return exit_code::ok;
  }
  consumers_table(*list, wall_ms()).print(o.out);
  co_return exit_code::ok;
}

awaitable<int> top(registry::Registry& reg, Output o, std::string window, bool once) {
  auto parsed = parse_window(window.empty() ? "1m" : window);
  if (auto* why = std::get_if<std::string>(&parsed)) co_return refuse(o, {*why});
  registry::TrafficQuery query;
  query.window = std::get<std::optional<Duration>>(parsed);
  if (once || o.json || !Terminal::interactive()) {
    // One table, as `top -b -n 1` and `kubectl top` print.
    bool printed = false;
    auto fetch = fetch_traffic(reg, o, query, printed);
    auto answer = co_await std::move(fetch);
    if (auto* code = std::get_if<int>(&answer)) co_return *code;
    if (printed) co_return exit_code::ok;
    const auto* view = &std::get<model::TrafficView>(answer);
    o.out << top_summary(*view) << ", last " << view->window << '\n';
    if (!view->services.empty()) top_table(*view, TopSort::rps).print(o.out);
    co_return exit_code::ok;
  }
  auto ex = co_await asio::this_coro::executor;
  auto session = std::make_shared<TopSession>(ex);
  session->frame.directory = reg.describe();
  session->frame.window = format_duration(*query.window);
  session->frame.clock = clock_text();
  session->draw();
  asio::signal_set signals(ex, SIGINT, SIGTERM);
  signals.async_wait([session](const boost::system::error_code& ec, int) {
    if (!ec) session->done.cancel();
  });
  // Both run until the command ends: dw stops its io_context then (cli.cpp).
  asio::co_spawn(ex, refresh_top(reg, session, query), asio::detached);
  asio::co_spawn(ex, read_top_keys(session), asio::detached);
  boost::system::error_code ec;
  auto wait = session->done.async_wait(asio::redirect_error(use_awaitable, ec));
  co_await std::move(wait);
  session->terminal.restore();
  co_return exit_code::ok;
}

}  // namespace dstack::dw
