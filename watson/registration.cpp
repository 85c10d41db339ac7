// SPDX-License-Identifier: Apache-2.0
#include "watson/registration.hpp"

#include <algorithm>

namespace dstack::watson {
namespace {

using Kind = RegistrationStep::Kind;

std::chrono::milliseconds keepalive_interval(std::chrono::seconds ttl) {
  return std::max<std::chrono::milliseconds>(std::chrono::milliseconds(ttl) / 3,
                                             std::chrono::milliseconds(100));
}

}  // namespace

Registration::Registration(std::chrono::seconds ttl, Backoff backoff)
    : backoff_(std::move(backoff)), lease_ttl_(ttl) {}

bool Registration::want(model::Instance desired) {
  desired.lease.clear();
  desired.revision = 0;
  Key key{desired.service, desired.id};
  auto it = desired_.find(key);
  if (it != desired_.end() && it->second == desired) return false;
  desired_[key] = std::move(desired);
  return true;
}

bool Registration::unwant(const std::string& service, const std::string& id) {
  Key key{service, id};
  refused_.erase(key);
  refusal_.erase(key);
  return desired_.erase(key) > 0;
}

bool Registration::needs_work(const Key& key) const {
  auto a = applied_.find(key);
  auto d = desired_.find(key);
  if (d == desired_.end()) return a != applied_.end();
  auto r = refused_.find(key);
  if (r != refused_.end() && r->second == d->second) return false;
  if (a == applied_.end() || unconfirmed_.count(key) > 0) return true;
  model::Instance want = d->second;
  want.lease = lease_;
  return !(a->second == want);
}

// Puts before removes, each in key order: the order the directory sees them in does not matter,
// but a fixed one keeps tests and logs repeatable.
std::optional<Registration::Key> Registration::first_work() const {
  for (const auto& [key, want] : desired_)
    if (needs_work(key)) return key;
  for (const auto& [key, had] : applied_)
    if (desired_.count(key) == 0) return key;
  return std::nullopt;
}

RegistrationStep Registration::next(TimePoint now) const {
  if (stopping_) return {Kind::done};
  if (back_off_until_ && now < *back_off_until_) return {Kind::back_off, *back_off_until_};
  if (lease_.empty()) return {Kind::grant_lease};
  if (now >= next_keepalive_) return {Kind::keepalive};
  if (auto key = first_work()) {
    RegistrationStep step;
    auto d = desired_.find(*key);
    if (d != desired_.end()) {
      step.kind = Kind::put;
      step.instance = d->second;
      step.instance.lease = lease_;
    } else {
      step.kind = Kind::remove;
    }
    step.service = key->first;
    step.id = key->second;
    return step;
  }
  return {Kind::wait, next_keepalive_};
}

bool Registration::succeeded(TimePoint) {
  back_off_until_.reset();
  // The backoff starts over only once a whole round went through, so a directory that answers
  // keepalives but fails every put is still retried ever more slowly.
  if (!first_work()) backoff_.reset();
  if (connected_) return false;
  connected_ = true;
  return true;
}

bool Registration::lease_granted(std::string id, std::chrono::seconds ttl, TimePoint now) {
  lease_ = std::move(id);
  lease_ttl_ = ttl;
  applied_.clear();
  unconfirmed_.clear();
  next_keepalive_ = now + keepalive_interval(lease_ttl_);
  return succeeded(now);
}

bool Registration::keepalive_ok(TimePoint now) {
  next_keepalive_ = now + keepalive_interval(lease_ttl_);
  return succeeded(now);
}

bool Registration::lease_gone(std::string why, TimePoint now, bool back_off) {
  last_error_ = std::move(why);
  lease_.clear();
  applied_.clear();
  unconfirmed_.clear();
  const bool reconnected = succeeded(now);
  if (back_off) back_off_until_ = now + backoff_.next();
  return reconnected;
}

bool Registration::put_ok(const model::Instance& sent, TimePoint now) {
  Key key{sent.service, sent.id};
  applied_[key] = sent;
  unconfirmed_.erase(key);
  refused_.erase(key);
  refusal_.erase(key);
  return succeeded(now);
}

bool Registration::put_refused(const model::Instance& sent, std::string why) {
  Key key{sent.service, sent.id};
  model::Instance version = sent;
  version.lease.clear();
  refused_[key] = std::move(version);
  last_error_ = "register " + key.first + "/" + key.second + ": " + why;
  refusal_[key] = std::move(why);
  return false;
}

bool Registration::removed(const Key& key, TimePoint now) {
  applied_.erase(key);
  unconfirmed_.erase(key);
  return succeeded(now);
}

Registration::Failure Registration::failed(std::string what, TimePoint now,
                                           const model::Instance* maybe_applied) {
  if (maybe_applied) applied_[{maybe_applied->service, maybe_applied->id}] = *maybe_applied;
  const Failure kind = connected_            ? Failure::lost
                       : what != last_error_ ? Failure::still_failing
                                             : Failure::same_again;
  connected_ = false;
  last_error_ = std::move(what);
  // Whatever was in flight may or may not have landed: send everything again on return, and
  // check the lease first.
  for (const auto& [key, had] : applied_) unconfirmed_.insert(key);
  next_keepalive_ = now;
  back_off_until_ = now + backoff_.next();
  return kind;
}

std::vector<Registration::Key> Registration::applied_keys() const {
  std::vector<Key> keys;
  for (const auto& [key, had] : applied_) keys.push_back(key);
  return keys;
}

void Registration::lease_revoked() {
  lease_.clear();
  applied_.clear();
  unconfirmed_.clear();
  connected_ = false;
}

std::size_t Registration::registered() const {
  std::size_t n = 0;
  for (const auto& [key, want] : desired_)
    if (!needs_work(key) && applied_.count(key) > 0) ++n;
  return n;
}

std::size_t Registration::pending() const {
  std::size_t n = 0;
  for (const auto& [key, want] : desired_)
    if (needs_work(key)) ++n;
  for (const auto& [key, had] : applied_)
    if (desired_.count(key) == 0) ++n;
  return n;
}

std::string Registration::state_of(const std::string& service, const std::string& id) const {
  Key key{service, id};
  if (needs_work(key)) return "pending";
  if (desired_.count(key) == 0) return "absent";
  auto r = refusal_.find(key);
  if (r != refusal_.end() && refused_.count(key) > 0) return "refused: " + r->second;
  return "registered";
}

}  // namespace dstack::watson
