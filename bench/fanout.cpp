// SPDX-License-Identifier: Apache-2.0
// One change delivered to many watchers: the latency from just before the write is sent to each
// watcher's receipt of the event, taken twice: when the kernel received the bytes on the
// watcher's socket ("arrived": what a watcher on a host of its own would see), and when the
// driver, one thread reading all the watchers in turn, got to read them ("read").
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include "bench/conn.hpp"
#include "bench/pipeline.hpp"
#include "bench/proc_stat.hpp"
#include "bench/scenarios.hpp"

namespace dstack::bench {

namespace {

using asio::redirect_error;

const std::string kService = "bench-watch";
const std::string kId = "w";

struct Fanout {
  Fanout(asio::io_context& io, const Target& t) : target(t), signal(io) {}
  const Target& target;
  std::vector<std::shared_ptr<Conn>> watchers;
  std::size_t ready = 0, failed = 0;
  // The round in flight: watchers compare and record against these.
  std::uint32_t round = 0;
  std::string marker;
  Clock::time_point sent;
  std::chrono::system_clock::time_point sent_wall;  // the same moment, on the kernel's clock
  std::size_t got = 0;
  std::vector<std::uint32_t> seen;  // per watcher, the last round it received
  std::vector<double> latencies_ms;
  std::vector<double> arrivals_ms;
  std::vector<double> first_arrivals_ms;  // per recorded round, its first watcher's arrival
  bool record = false;
  asio::steady_timer signal;  // cancelled whenever a count the writer waits on changes
  std::string error;
  int server_pid = 0;
  std::optional<CpuTimes> cpu_start, cpu_end;  // the server's, around the timed rounds
  std::size_t timed_rounds = 0;
};

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;  // no sample: printed as -1, never as a perfect 0
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(rank, v.size() - 1)];
}

enum class Until { all_started, round_done };

bool holds(const Fanout& f, Until what) {
  if (what == Until::all_started) return f.ready + f.failed >= f.watchers.size();
  return f.got >= f.ready;
}

// Waits until `what` holds or the deadline passes; the watchers cancel f->signal on progress.
// (A condition rather than a predicate lambda: GCC 12 mishandles lambda temporaries in co_await.)
awaitable<bool> wait_until(std::shared_ptr<Fanout> f, Clock::time_point deadline, Until what) {
  while (!holds(*f, what) && Clock::now() < deadline) {
    f->signal.expires_at(deadline);
    error_code ec;
    auto wait = f->signal.async_wait(redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  co_return holds(*f, what);
}

// One line of watcher `index`'s stream, which the kernel received at `arrived`. `ready` is whether
// the stream is known to be registered.
void on_watch_line(Fanout& f, std::size_t index, bool& ready, std::string_view line,
                   std::chrono::system_clock::time_point arrived) {
  if (!ready) {
    if (f.target.ready_line(line)) {
      ready = true;
      ++f.ready;
      f.signal.cancel();
    }
    return;
  }
  if (f.seen[index] == f.round || line.find(f.marker) == std::string_view::npos) return;
  f.seen[index] = f.round;
  if (f.record) {
    f.latencies_ms.push_back(ms_between(f.sent, Clock::now()));
    if (arrived >= f.sent_wall)  // else no timestamp came with the bytes
      f.arrivals_ms.push_back(
          std::chrono::duration<double, std::milli>(arrived - f.sent_wall).count());
  }
  if (++f.got >= f.ready) f.signal.cancel();
}

// Feeds what `conn` has received to the watcher's line splitter; false when the stream ended.
bool drain(Fanout& f, std::size_t index, bool& ready, ChunkedLines& lines, Conn& conn) {
  bool ok = lines.feed(conn.pending(), [&](std::string_view line) {
    on_watch_line(f, index, ready, line, conn.arrived());
  });
  conn.consume(conn.pending().size());
  return ok && !lines.ended();
}

awaitable<void> watch_one(std::shared_ptr<Fanout> f, std::size_t index) {
  auto conn = f->watchers[index];
  std::string request;
  f->target.watch(request);
  auto write = conn->write(std::move(request));
  error_code ec = co_await std::move(write);
  if (!ec) {
    auto read_head = conn->read_head();
    ec = co_await std::move(read_head);
  }
  if (ec || conn->head_status() != 200) {
    ++f->failed;
    f->signal.cancel();
    co_return;
  }
  bool ready = f->target.ready_at_head();
  if (ready) ++f->ready;
  ChunkedLines lines;
  f->signal.cancel();
  while (drain(*f, index, ready, lines, *conn)) {
    auto filled = conn->fill();
    if (co_await std::move(filled)) break;
  }
}

awaitable<void> write_rounds(std::shared_ptr<Fanout> f, std::shared_ptr<Conn> writer,
                             std::string lease, std::size_t rounds) {
  auto start_deadline = Clock::now() + std::chrono::seconds(30);
  auto wait_start = wait_until(f, start_deadline, Until::all_started);
  bool all_ready = co_await std::move(wait_start);
  if (!all_ready || f->failed > 0)
    f->error = std::to_string(f->ready) + " of " + std::to_string(f->watchers.size()) +
               " watchers started";
  // Round 1 warms caches and is not recorded.
  for (std::uint32_t r = 1; f->error.empty() && r <= rounds + 1; ++r) {
    auto version = "w" + std::to_string(r);
    std::string put;
    f->target.put_instance(put, kService, kId, lease, version);
    f->marker = f->target.marker(kService, kId, lease, version);
    f->got = 0;
    f->round = r;
    f->record = r > 1;
    if (r == 2) f->cpu_start = cpu_times(f->server_pid);
    const std::size_t arrivals_before = f->arrivals_ms.size();
    f->sent = Clock::now();
    f->sent_wall = std::chrono::system_clock::now();
    auto write = writer->write(std::move(put));
    error_code ec = co_await std::move(write);
    if (!ec) {
      auto read = writer->read_responses(1);
      ec = co_await std::move(read);
    }
    if (ec || writer->responses()[0].status / 100 != 2) {
      f->error = "the write failed";
      break;
    }
    if (f->record) ++f->timed_rounds;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    auto wait_round = wait_until(f, deadline, Until::round_done);
    if (!co_await std::move(wait_round))
      f->error = "round " + std::to_string(r) + ": " + std::to_string(f->ready - f->got) +
                 " watcher(s) never saw the change";
    if (f->arrivals_ms.size() > arrivals_before)
      f->first_arrivals_ms.push_back(
          *std::min_element(f->arrivals_ms.begin() + static_cast<std::ptrdiff_t>(arrivals_before),
                            f->arrivals_ms.end()));
    asio::steady_timer pause(writer->executor(), std::chrono::milliseconds(20));
    auto wait = pause.async_wait(redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
  f->cpu_end = cpu_times(f->server_pid);
  for (auto& w : f->watchers) w->close();
  writer->close();
}

// A lease for the watched instance, granted before the watchers start.
std::string grant_one(const Common& common, int ttl) {
  std::string lease;
  PipelineSpec spec;
  spec.endpoint = common.endpoint;
  spec.connections = 1;
  spec.depth = 1;
  spec.limit = std::chrono::seconds(10);
  bool sent = false;
  spec.next = [&](std::size_t, std::string& out, std::uint64_t& tag) {
    if (sent) return false;
    sent = true;
    tag = 0;
    common.target.grant(out, ttl);
    return true;
  };
  spec.done = [&](std::uint64_t, const Response& r) {
    lease = common.target.lease_id(r).value_or("");
    return !lease.empty();
  };
  run_pipeline(spec);
  return lease;
}

}  // namespace

int run_fanout(const Common& common, const FanoutOptions& options) {
  auto lease = grant_one(common, options.ttl);
  if (lease.empty()) {
    std::cerr << "directory_load: could not grant a lease\n";
    return 1;
  }
  asio::io_context io(1);
  auto f = std::make_shared<Fanout>(io, common.target);
  f->server_pid = common.server_pid;
  f->seen.assign(options.watchers, 0);
  f->latencies_ms.reserve(options.watchers * options.rounds);
  f->arrivals_ms.reserve(options.watchers * options.rounds);
  for (std::size_t i = 0; i < options.watchers; ++i) {
    auto conn = std::make_shared<Conn>(io);
    if (auto ec = conn->connect(common.endpoint)) {
      std::cerr << "directory_load: watcher " << i << ": connect: " << ec.message() << '\n';
      return 1;
    }
    conn->record_arrivals();  // where refused, "arrived" has no samples and prints -1
    f->watchers.push_back(conn);
  }
  auto writer = std::make_shared<Conn>(io);
  if (auto ec = writer->connect(common.endpoint)) {
    std::cerr << "directory_load: writer: connect: " << ec.message() << '\n';
    return 1;
  }
  for (std::size_t i = 0; i < options.watchers; ++i)
    asio::co_spawn(io, watch_one(f, i), asio::detached);
  asio::co_spawn(io, write_rounds(f, writer, lease, options.rounds), asio::detached);
  io.run_for(common.limit);
  if (!io.stopped() && f->error.empty()) f->error = "timed out";
  if (!f->error.empty()) std::cerr << "directory_load: fanout: " << f->error << '\n';

  // The server's CPU per event delivered to one watcher (the pauses between rounds cost ~0), of
  // it the part in the server's own code (user) rather than in the kernel (on loopback the
  // kernel's share includes the receiving side's TCP, run in the sender's send()), and the time
  // per round it was ready to run but waited for its core.
  double cpu_us = -1, user_us = -1, wait_ms = -1;
  if (f->cpu_start && f->cpu_end && f->timed_rounds > 0) {
    auto rounds = static_cast<double>(f->timed_rounds);
    auto deliveries = rounds * static_cast<double>(options.watchers);
    cpu_us = (f->cpu_end->ran - f->cpu_start->ran) * 1e6 / deliveries;
    user_us = (f->cpu_end->user - f->cpu_start->user) * 1e6 / deliveries;
    wait_ms = (f->cpu_end->waited - f->cpu_start->waited) * 1e3 / rounds;
  }
  std::printf(
      "watchers=%zu rounds=%zu samples=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
      "arrived_samples=%zu arrived_p50_ms=%.2f arrived_p99_ms=%.2f arrived_first_p50_ms=%.2f "
      "cpu_us_per_delivery=%.1f user_cpu_us_per_delivery=%.1f wait_ms_per_round=%.1f\n",
      options.watchers, options.rounds, f->latencies_ms.size(), percentile(f->latencies_ms, 50),
      percentile(f->latencies_ms, 99), percentile(f->latencies_ms, 100), f->arrivals_ms.size(),
      percentile(f->arrivals_ms, 50), percentile(f->arrivals_ms, 99),
      percentile(f->first_arrivals_ms, 50), cpu_us, user_us, wait_ms);
  return f->error.empty() ? 0 : 1;
}

}  // namespace dstack::bench
