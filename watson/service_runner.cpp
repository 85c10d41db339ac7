// SPDX-License-Identifier: Apache-2.0
#include "watson/service_runner.hpp"

#include <algorithm>
#include <random>
#include <utility>

#include "common/log/log.hpp"
#include "common/model/json.hpp"
#include "watson/check_runner.hpp"

namespace dstack::watson {

namespace {

using SteadyClock = std::chrono::steady_clock;

// `check: none` means "registered while watson runs": one pass is enough.
int effective_rise(const Check& c) {
  return c.kind == Check::Kind::none ? 1 : c.rise;
}

// Services loaded together would otherwise be checked in the same millisecond every interval:
// a burst of connections, then nothing. Their first checks are spread over four phases a quarter
// of a second apart (or of the interval, when shorter): bursts a quarter the size, while checks
// that share a phase still share a wake-up (one wake-up per check cost four times the CPU).
Duration first_check_delay(Duration interval) {
  static std::mt19937_64 random{std::random_device{}()};
  constexpr int kPhases = 4;
  const Duration spread = std::min<Duration>(interval, std::chrono::seconds(1));
  return spread * std::uniform_int_distribution<int>(0, kPhases - 1)(random) / kPhases;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

ServiceRunner::ServiceRunner(asio::any_io_executor ex, ServiceDefinition def, Publish publish)
    : ex_(ex),
      def_(std::move(def)),
      publish_(std::move(publish)),
      log_(log::get("watson")),
      health_(effective_rise(def_.check), def_.check.fall),
      next_check_(ex),
      drain_end_(ex) {}

void ServiceRunner::start() {
  if (checking_ || stopped_) return;
  checking_ = true;
  asio::co_spawn(ex_, check_loop(shared_from_this()), asio::detached);
}

void ServiceRunner::stop() {
  stopped_ = true;
  checking_ = false;
  next_check_.cancel();
  drain_end_.cancel();
}

void ServiceRunner::stop_checks() {
  checking_ = false;
  next_check_.cancel();
}

awaitable<void> ServiceRunner::check_loop(std::shared_ptr<ServiceRunner> self) {
  self->next_check_.expires_after(first_check_delay(self->def_.check.interval));
  error_code first_ec;
  auto first_wait = self->next_check_.async_wait(asio::redirect_error(use_awaitable, first_ec));
  co_await std::move(first_wait);
  while (self->checking_) {
    auto started = SteadyClock::now();
    std::uint64_t generation = self->check_generation_;
    auto op = run_check(self->def_.check);
    CheckOutcome outcome = co_await std::move(op);
    if (!self->checking_) break;
    // A result of a check that has since been replaced says nothing about the new one.
    if (generation == self->check_generation_) {
      self->record(outcome);
      self->next_check_.expires_at(started + self->def_.check.interval);
    } else {
      self->next_check_.expires_after(SteadyClock::duration::zero());
    }
    error_code ec;
    auto wait = self->next_check_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(wait);
  }
}

void ServiceRunner::record(const CheckOutcome& outcome) {
  ++counts_[static_cast<int>(outcome.status)];
  bool status_changed = !last_ || last_->status != outcome.status;
  last_ = outcome;
  Transition t = health_.record(outcome.status);
  const std::string who = def_.service + "/" + def_.id;
  if (status_changed)
    log_->info("{}: check {} ({}); {}", who, to_string(outcome.status), first_line(outcome.output),
               health_.summary());
  if (t == Transition::became_routable) {
    log_->info("{}: registering ({})", who, model::to_string(health_.health()));
  } else if (t == Transition::became_unroutable) {
    log_->warn("{}: deregistering after {} failed check(s)", who, health_.consecutive_failures());
  }
  if (t != Transition::none) changed();
}

void ServiceRunner::update(ServiceDefinition def) {
  if (def == def_) return;
  bool check_changed = !(def.check == def_.check);
  def_ = std::move(def);
  if (check_changed) {
    health_ = health_.with_thresholds(effective_rise(def_.check), def_.check.fall);
    ++check_generation_;
    next_check_.cancel();  // run the new check now rather than at the old interval
  }
  changed();
}

void ServiceRunner::set_maintenance(bool on, const std::string& reason) {
  if (stopped_) return;
  if (on == health_.maintenance() && reason == health_.maintenance_reason()) return;
  bool entering = on && !health_.maintenance();
  bool was_routable = health_.routable();
  health_.set_maintenance(on, reason);
  const std::string who = def_.service + "/" + def_.id;
  if (on) {
    log_->info("{}: maintenance on{}{}", who, reason.empty() ? "" : ": ", reason);
    if (entering && was_routable) begin_drain();  // a new reason does not restart the drain
  } else {
    log_->info("{}: maintenance off; {}", who, health_.summary());
    drain_until_ = {};
    drain_end_.cancel();
  }
  changed();
}

void ServiceRunner::begin_drain() {
  drain_until_ = SteadyClock::now() + def_.drain;
  drain_end_.expires_at(drain_until_);
  drain_end_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->stopped_) return;
    log::get("watson")->info("{}/{}: drained; deregistering", self->def_.service, self->def_.id);
    self->drain_until_ = {};
    self->changed();
  });
}

bool ServiceRunner::draining() const {
  return health_.maintenance() && SteadyClock::now() < drain_until_;
}

std::optional<model::Instance> ServiceRunner::desired() const {
  if (!health_.routable() && !draining()) return std::nullopt;
  model::Instance in;
  in.service = def_.service;
  in.id = def_.id;
  in.url = def_.url;
  in.version = def_.version;
  in.weight = def_.weight;
  in.health = health_.health();
  in.tags = def_.tags;
  in.meta = def_.meta;
  in.protocol = def_.protocol;
  return in;
}

void ServiceRunner::changed() {
  if (!stopped_ && publish_) publish_(*this);
}

}  // namespace dstack::watson
