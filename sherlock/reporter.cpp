// SPDX-License-Identifier: Apache-2.0
#include "sherlock/reporter.hpp"

#include "common/log/log.hpp"

namespace dstack::sherlock {

namespace {

void merge(model::TrafficByVersion& into, const model::TrafficByVersion& more) {
  for (const auto& [service, versions] : more)
    for (const auto& [version, counts] : versions) into[service][version].add(counts);
}

}  // namespace

Reporter::Reporter(asio::any_io_executor ex,
                   std::vector<std::unique_ptr<registry::Registry>> directories,
                   ReporterSettings settings, TakeTraffic take, const Clock& clock)
    : ex_(ex),
      directories_(std::move(directories)),
      settings_(std::move(settings)),
      take_(std::move(take)),
      clock_(clock),
      schedule_(settings_.ttl, settings_.interval, clock.now()),
      pending_since_(clock.now()),
      wake_(ex),
      run_ended_(ex, asio::steady_timer::time_point::max()) {}

void Reporter::start() {
  if (directories_.empty() || running_) return;
  running_ = true;
  status_.directory = directory().describe();
  asio::co_spawn(ex_, run(), asio::detached);
}

void Reporter::set_services(std::vector<std::string> services) {
  if (services == services_) return;
  services_ = std::move(services);
  schedule_.services_changed();
  wake_.cancel();
}

awaitable<void> Reporter::stop(bool revoke) {
  stopping_ = true;
  wake_.cancel();
  if (running_) {
    // The loop's request in flight is answered first: a directory's client sends one request at
    // a time, and a second on the same connection would corrupt both.
    error_code ec;
    auto ended = run_ended_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(ended);
  }
  if (schedule_.lease().empty()) co_return;
  if (status_.registered) {
    auto last = step(ReportSchedule::Action::report);
    co_await std::move(last);
  }
  if (!revoke) co_return;
  auto op = directory().revoke(schedule_.lease());
  (void)co_await std::move(op);
}

void Reporter::failed(const Error& e, const char* what) {
  ++status_.failures;
  if (e.code == "not_supported") {
    // No directory of this kind takes reports: what was counted will never be sent, and is
    // let go rather than kept (it stays on /metrics).
    unsupported_ = true;
    (void)take_();
  }
  const std::string message = std::string(what) + ": " + e.message;
  if (message != status_.last_error)
    log::get("sherlock")->warn("consumer {}: {}", settings_.consumer, message);
  status_.last_error = message;
  const auto now = clock_.now();
  if (e.kind == ErrorKind::not_found && e.code == "lease_not_found") {
    schedule_.lease_lost(now);
    status_.registered = false;
  } else if (e.kind == ErrorKind::not_found && e.code == "consumer_not_found") {
    schedule_.consumer_lost(now);
    status_.registered = false;
  } else {
    if (e.kind == ErrorKind::unreachable && directories_.size() > 1) {
      // The next directory knows nothing of this one's lease.
      current_ = (current_ + 1) % directories_.size();
      status_.directory = directory().describe();
      schedule_.lease_lost(now);
      status_.registered = false;
    }
    schedule_.failed(now);
  }
}

awaitable<void> Reporter::step(ReportSchedule::Action action) {
  using A = ReportSchedule::Action;
  auto& dir = directory();
  switch (action) {
    case A::grant: {
      auto op = dir.grant_lease(settings_.ttl, settings_.host);
      auto r = co_await std::move(op);
      if (!r) co_return failed(r.error(), "lease");
      schedule_.granted(r->id, clock_.now());
      co_return;
    }
    case A::register_consumer: {
      model::Consumer c{settings_.consumer, schedule_.lease(), settings_.host,
                        settings_.api,      services_,         0};
      schedule_.registering();
      auto op = dir.put_consumer(std::move(c));
      auto r = co_await std::move(op);
      if (!r) co_return failed(r.error(), "registration");
      schedule_.registered(clock_.now());
      if (!status_.registered)
        log::get("sherlock")
            ->info("consumer {} registered with {}", settings_.consumer, dir.describe());
      status_.registered = true;
      status_.last_error.clear();
      co_return;
    }
    case A::keepalive: {
      auto op = dir.keepalive(schedule_.lease());
      auto r = co_await std::move(op);
      if (!r) co_return failed(r.error(), "lease keepalive");
      schedule_.kept_alive(clock_.now());
      co_return;
    }
    case A::report: {
      merge(pending_, take_());
      const auto now = clock_.now();
      model::TrafficReport report{
          std::max<std::int64_t>(
              1,
              std::chrono::duration_cast<std::chrono::milliseconds>(now - pending_since_).count()),
          pending_};
      auto op = dir.report_traffic(settings_.consumer, std::move(report));
      auto r = co_await std::move(op);
      if (!r) co_return failed(r.error(), "traffic report");
      pending_.clear();
      pending_since_ = now;
      ++status_.reports;
      schedule_.reported(clock_.now());
      co_return;
    }
  }
}

awaitable<void> Reporter::run() {
  auto log = log::get("sherlock");
  while (!stopping_) {
    const auto next = schedule_.next();
    const auto now = clock_.now();
    if (next.at > now) {
      wake_.expires_after(next.at - now);
      error_code ec;
      auto wait = wake_.async_wait(asio::redirect_error(use_awaitable, ec));
      co_await std::move(wait);
      continue;  // woken early (services changed, stop) or due: decide again
    }
    auto op = step(next.action);
    co_await std::move(op);
    if (unsupported_) {
      log->warn("consumer {}: {}; traffic is counted on /metrics only (docs/insight.md)",
                settings_.consumer, status_.last_error);
      break;
    }
  }
  running_ = false;
  run_ended_.cancel();
}

}  // namespace dstack::sherlock
