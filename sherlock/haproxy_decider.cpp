// SPDX-License-Identifier: Apache-2.0
#include "sherlock/haproxy_decider.hpp"

namespace dstack::sherlock {

using Kind = HaproxyStep::Kind;

HaproxyDecider::HaproxyDecider(Duration min_reload_interval, Backoff restart_backoff)
    : min_reload_interval_(min_reload_interval), restart_backoff_(std::move(restart_backoff)) {}

HaproxyStep HaproxyDecider::next(TimePoint now, bool structural) const {
  if (stopping_) return {Kind::exit};
  // A refusal holds only for the plan refused: any newer plan is tried.
  const bool refused = refused_gen_ && *refused_gen_ == gen_;

  if (!running_) {
    if (refused) return {Kind::sleep};
    // Not cut short by plans: one every few ms must not turn restarts into a tight loop.
    if (backoff_until_ && now < *backoff_until_) return {Kind::wait_backoff, *backoff_until_};
    return {Kind::start};
  }

  if (reload_wanted_ || structural) {
    // Other services' instance changes need not wait for the reload's slot.
    if (part_applied_gen_ != gen_) return {Kind::apply_runtime_part};
    if (refused) return {Kind::sleep};
    // Changes arriving before the slot are coalesced into one reload.
    if (now < next_reload_at_) return {Kind::sleep, next_reload_at_};
    HaproxyStep reload{Kind::reload};
    reload.reason = reload_wanted_ ? reload_reason_ : "services or listeners changed";
    return reload;
  }

  if (runtime_applied_gen_ != gen_) return {Kind::apply_runtime};
  if (lingering_) {
    if (now < delete_retry_at_) return {Kind::sleep, delete_retry_at_};
    return {Kind::retry_deletes};
  }
  return {Kind::sleep};
}

void HaproxyDecider::started(std::uint64_t gen, StartOutcome outcome, TimePoint now) {
  switch (outcome) {
    case StartOutcome::up:
    case StartOutcome::up_but_refused:
      running_ = true;
      backoff_until_.reset();
      restart_backoff_.reset();
      lingering_ = false;
      if (outcome == StartOutcome::up) {
        reload_wanted_ = false;
        next_reload_at_ = now + min_reload_interval_;
        part_applied_gen_ = runtime_applied_gen_ = gen;
      } else {
        refused_gen_ = gen;
        next_reload_at_ = now + min_reload_interval_;
        part_applied_gen_.reset();
        runtime_applied_gen_.reset();
      }
      return;
    case StartOutcome::config_refused:
      refused_gen_ = gen;
      return;
    case StartOutcome::failed:
      backoff_until_ = now + restart_backoff_.next();
      return;
  }
}

void HaproxyDecider::reloaded(std::uint64_t gen, ReloadOutcome outcome, TimePoint now) {
  reload_wanted_ = false;
  if (outcome != ReloadOutcome::config_refused) next_reload_at_ = now + min_reload_interval_;
  if (outcome == ReloadOutcome::ok) {
    part_applied_gen_ = runtime_applied_gen_ = gen;
    lingering_ = false;
  } else {
    refused_gen_ = gen;
  }
}

void HaproxyDecider::runtime_applied(std::uint64_t gen, bool part, bool lingering, TimePoint now) {
  if (part)
    part_applied_gen_ = gen;
  else
    runtime_applied_gen_ = gen;
  lingering_ = lingering;
  if (lingering) delete_retry_at_ = now + kDeleteRetry;
}

void HaproxyDecider::reload_needed(std::string reason) {
  if (!reload_wanted_) reload_reason_ = std::move(reason);
  reload_wanted_ = true;
}

void HaproxyDecider::runtime_refused(std::string reason) {
  reload_wanted_ = true;
  reload_reason_ = std::move(reason);
}

void HaproxyDecider::deletes_retried(bool lingering, TimePoint now) {
  lingering_ = lingering;
  if (lingering) delete_retry_at_ = now + kDeleteRetry;
}

}  // namespace dstack::sherlock
