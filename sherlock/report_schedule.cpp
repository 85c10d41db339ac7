// SPDX-License-Identifier: Apache-2.0
#include "sherlock/report_schedule.hpp"

#include <algorithm>

namespace dstack::sherlock {

namespace {
constexpr Duration kFirstBackoff = std::chrono::milliseconds(500);
constexpr Duration kMaxBackoff = std::chrono::seconds(30);
}  // namespace

ReportSchedule::ReportSchedule(std::chrono::seconds ttl, Duration report_interval,
                               Clock::TimePoint now)
    : ttl_(ttl),
      interval_(report_interval),
      not_before_(now),
      keepalive_at_(now),
      report_at_(now + report_interval) {}

ReportSchedule::Next ReportSchedule::next() const {
  if (lease_.empty()) return {Action::grant, not_before_};
  if (!registered_) return {Action::register_consumer, not_before_};
  // Both due: the keepalive first, so a slow report never costs the lease.
  if (keepalive_at_ <= report_at_) return {Action::keepalive, std::max(keepalive_at_, not_before_)};
  return {Action::report, std::max(report_at_, not_before_)};
}

void ReportSchedule::granted(std::string lease, Clock::TimePoint now) {
  lease_ = std::move(lease);
  registered_ = false;
  keepalive_at_ = now + std::chrono::duration_cast<Duration>(ttl_) / 3;
  not_before_ = now;
  succeeded();
}

void ReportSchedule::registered(Clock::TimePoint now) {
  registered_ = sent_generation_ == generation_;
  not_before_ = now;
  succeeded();
}

void ReportSchedule::kept_alive(Clock::TimePoint now) {
  keepalive_at_ = now + std::chrono::duration_cast<Duration>(ttl_) / 3;
  succeeded();
}

void ReportSchedule::reported(Clock::TimePoint now) {
  report_at_ = now + interval_;
  succeeded();
}

void ReportSchedule::lease_lost(Clock::TimePoint now) {
  lease_.clear();
  registered_ = false;
  not_before_ = now;
}

void ReportSchedule::consumer_lost(Clock::TimePoint now) {
  registered_ = false;
  not_before_ = now;
}

void ReportSchedule::failed(Clock::TimePoint now) {
  backoff_ = backoff_ == Duration::zero() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  not_before_ = now + backoff_;
}

}  // namespace dstack::sherlock
