// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_master.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <sstream>

#include "common/core/clock.hpp"
#include "sherlock/haproxy_cli.hpp"

namespace dstack::sherlock {
namespace {

constexpr Duration kCliTimeout = std::chrono::seconds(2);
constexpr Duration kPoll = std::chrono::milliseconds(10);

template <class T>
bool number(const std::string& s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

awaitable<void> pause(Duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  auto op = t.async_wait(use_awaitable);
  co_await std::move(op);
}

}  // namespace

std::optional<ProcList> parse_show_proc(const std::string& text) {
  // #<PID>   <type>   <reloads>   <uptime>   <version>
  // 2302     master   0 [failed: 0]   0d00h00m02s   2.6.12-1+deb12u4
  // # workers
  // 2322     worker   0   0d00h00m02s   2.6.12-1+deb12u4
  // # old workers
  // # programs
  ProcList out;
  bool seen_master = false;
  enum { none, workers, old_workers, other } section = none;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# workers", 0) == 0)
      section = workers;
    else if (line.rfind("# old workers", 0) == 0)
      section = old_workers;
    else if (line.rfind("#", 0) == 0)
      section = line.rfind("#<PID>", 0) == 0 ? none : other;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
    if (w.size() < 3) continue;
    pid_t pid = 0;
    if (!number(w[0], pid)) continue;
    if (w[1] == "master" && w.size() >= 5) {
      std::string failed = w[4];
      if (!failed.empty() && failed.back() == ']') failed.pop_back();
      if (!number(w[2], out.reloads) || !number(failed, out.failed)) return std::nullopt;
      out.master = pid;
      seen_master = true;
    } else if (w[1] == "worker") {
      if (section == workers)
        out.workers.push_back(pid);
      else if (section == old_workers)
        out.old_workers.push_back(pid);
    }
  }
  if (!seen_master) return std::nullopt;
  return out;
}

std::optional<Status> reload_outcome(const ProcList& before, const ProcList& now) {
  if (now.reloads <= before.reloads) return std::nullopt;  // still re-executing
  if (now.failed > 0)
    return Status(Error{ErrorKind::refused, "reload_failed",
                        "HAProxy refused to load the new config (its log has the [ALERT]); the "
                        "previous config keeps serving"});
  bool fresh =
      !now.workers.empty() && std::none_of(now.workers.begin(), now.workers.end(), [&](pid_t w) {
        return std::find(before.workers.begin(), before.workers.end(), w) != before.workers.end();
      });
  if (!fresh)
    return Status(Error{ErrorKind::refused, "reload_failed", "HAProxy kept its old worker"});
  return Status(Ok{});
}

awaitable<Result<ProcList>> show_proc(std::string master_socket, Duration timeout) {
  auto op = cli_command(std::move(master_socket), "show proc", timeout);
  auto answer = co_await std::move(op);
  if (!answer) co_return answer.error();
  auto parsed = parse_show_proc(*answer);
  if (!parsed)
    co_return Error{
        ErrorKind::protocol, "show_proc",
        "HAProxy's master answered `show proc` with something else: " + answer->substr(0, 200)};
  co_return *parsed;
}

awaitable<Result<ProcList>> wait_for_worker(std::string master_socket, Duration timeout) {
  const auto deadline = real_clock().now() + timeout;
  Error last{ErrorKind::unreachable, "no_worker", "HAProxy's master has no worker yet"};
  while (real_clock().now() < deadline) {
    auto op = show_proc(master_socket, kCliTimeout);
    auto procs = co_await std::move(op);
    if (procs && !procs->workers.empty()) co_return procs;
    if (!procs) last = procs.error();
    auto p = pause(kPoll);
    co_await std::move(p);
  }
  last.message = "HAProxy did not come up within " + format_duration(timeout) + ": " + last.message;
  co_return last;
}

awaitable<Status> reload_master(std::string master_socket, Duration timeout) {
  auto before_op = show_proc(master_socket, kCliTimeout);
  auto before = co_await std::move(before_op);
  if (!before) co_return before.error();
  auto send = cli_command(master_socket, "reload", kCliTimeout);
  auto sent = co_await std::move(send);
  if (!sent) co_return sent.error();

  const auto deadline = real_clock().now() + timeout;
  while (real_clock().now() < deadline) {
    auto p = pause(kPoll);
    co_await std::move(p);
    auto op = show_proc(master_socket, kCliTimeout);
    auto now = co_await std::move(op);
    if (!now) continue;  // the master's CLI is down while it re-executes
    if (auto outcome = reload_outcome(*before, *now)) co_return std::move(*outcome);
  }
  co_return Error{ErrorKind::unreachable, "reload_timeout",
                  "HAProxy's master did not report the reload within " + format_duration(timeout)};
}

}  // namespace dstack::sherlock
