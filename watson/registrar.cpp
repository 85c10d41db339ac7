#include "watson/registrar.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#include "common/core/exception_text.hpp"

namespace dstack::watson {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr Duration kBackoffBase = std::chrono::milliseconds(200);
constexpr Duration kBackoffCap = std::chrono::seconds(10);

// Retries while the directory is away come at least every ttl/3 (10 s at most), so a directory
// that comes back is registered with again within one lease TTL.
Duration backoff_cap(std::chrono::seconds ttl) {
  return std::clamp<Duration>(std::chrono::duration_cast<Duration>(ttl) / 3, kBackoffBase,
                              kBackoffCap);
}

SteadyClock::duration keepalive_interval(std::chrono::seconds ttl) {
  return std::max<SteadyClock::duration>(std::chrono::milliseconds(ttl) / 3,
                                         std::chrono::milliseconds(100));
}

}  // namespace

Registrar::Registrar(asio::any_io_executor ex, std::unique_ptr<registry::Registry> reg,
                     std::chrono::seconds ttl, std::string owner)
    : ex_(ex),
      reg_(std::move(reg)),
      ttl_(ttl),
      owner_(std::move(owner)),
      log_(log::get("registrar")),
      backoff_(kBackoffBase, backoff_cap(ttl)),
      lease_ttl_(ttl),
      wake_(ex),
      done_(ex) {}

void Registrar::start() {
  if (started_) return;
  started_ = true;
  asio::co_spawn(ex_, run(), [this](std::exception_ptr e) {
    if (e) {
      log_->critical("registration loop for {} failed: {}", reg_->describe(), exception_text(e));
    }
    loop_done_ = true;
    done_.cancel();
  });
}

void Registrar::put(model::Instance desired) {
  desired.lease.clear();
  desired.revision = 0;
  Key key{desired.service, desired.id};
  auto it = desired_.find(key);
  if (it != desired_.end() && it->second == desired) return;
  desired_[key] = std::move(desired);
  wake();
}

void Registrar::remove(const std::string& service, const std::string& id) {
  Key key{service, id};
  refused_.erase(key);
  refusal_.erase(key);
  if (desired_.erase(key) > 0) wake();
}

void Registrar::wake() {
  dirty_ = true;
  if (waiting_wakeable_) wake_.cancel();
}

bool Registrar::needs_work(const Key& key) const {
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

Registrar::Status Registrar::status() const {
  Status s{reg_->describe(), connected_, lease_, last_error_, 0, 0};
  for (const auto& [key, want] : desired_) {
    if (needs_work(key)) {
      ++s.pending;
    } else if (applied_.count(key) > 0) {
      ++s.registered;
    }
  }
  for (const auto& [key, had] : applied_)
    if (desired_.count(key) == 0) ++s.pending;
  return s;
}

std::string Registrar::state_of(const std::string& service, const std::string& id) const {
  Key key{service, id};
  if (needs_work(key)) return "pending";
  if (desired_.count(key) == 0) return "absent";
  auto r = refusal_.find(key);
  if (r != refusal_.end() && refused_.count(key) > 0) return "refused: " + r->second;
  return "registered";
}

bool Registrar::settled() const {
  return status().pending == 0;
}

void Registrar::mark_connected() {
  if (connected_) return;
  connected_ = true;
  log_->info("connected to {}", reg_->describe());
}

void Registrar::failed(const Error& error, const char* what) {
  std::string text = std::string(what) + ": " + error.message;
  if (connected_) {
    log_->warn("lost {}: {}; retrying with backoff", reg_->describe(), text);
  } else if (text != last_error_) {
    log_->warn("{} still failing: {}", reg_->describe(), text);
  }
  connected_ = false;
  last_error_ = std::move(text);
  // Whatever was in flight may or may not have landed: send everything again on return, and
  // check the lease first.
  for (const auto& [key, had] : applied_) unconfirmed_.insert(key);
  next_keepalive_ = SteadyClock::now();
}

void Registrar::lease_lost(const std::string& why) {
  log_->warn("lease {} on {} is gone ({}); taking a new one", lease_, reg_->describe(), why);
  last_error_ = why;
  lease_.clear();
  applied_.clear();
  unconfirmed_.clear();
}

awaitable<void> Registrar::wait(SteadyClock::duration d, bool wakeable) {
  if (stopping_) co_return;
  wake_.expires_after(d);
  waiting_wakeable_ = wakeable;
  error_code ec;
  co_await wake_.async_wait(asio::redirect_error(use_awaitable, ec));
  waiting_wakeable_ = false;
}

awaitable<void> Registrar::run() {
  while (!stopping_) {
    dirty_ = false;
    bool ok = co_await step();
    if (stopping_) break;
    if (!ok) {
      SteadyClock::duration pause = backoff_.next();
      co_await wait(pause, false);
      continue;
    }
    backoff_.reset();
    if (dirty_) continue;
    SteadyClock::duration until = next_keepalive_ - SteadyClock::now();
    if (until > SteadyClock::duration::zero()) co_await wait(until, true);
  }
}

awaitable<bool> Registrar::step() {
  bool ok = co_await ensure_lease();
  if (!ok) co_return false;
  ok = co_await keepalive();
  if (!ok) co_return false;
  if (lease_.empty()) {
    ok = co_await ensure_lease();
    if (!ok) co_return false;
  }
  ok = co_await sync();
  co_return ok;
}

awaitable<bool> Registrar::ensure_lease() {
  if (!lease_.empty()) co_return true;
  auto granted = co_await reg_->grant_lease(ttl_, owner_);
  if (!granted) {
    failed(granted.error(), "grant lease");
    co_return false;
  }
  lease_ = granted->id;
  lease_ttl_ = granted->ttl;
  applied_.clear();
  unconfirmed_.clear();
  next_keepalive_ = SteadyClock::now() + keepalive_interval(lease_ttl_);
  mark_connected();
  log_->info("lease {} from {} (ttl {}s); registering {} instance(s)", lease_, reg_->describe(),
             lease_ttl_.count(), desired_.size());
  co_return true;
}

awaitable<bool> Registrar::keepalive() {
  if (SteadyClock::now() < next_keepalive_) co_return true;
  auto r = co_await reg_->keepalive(lease_);
  if (r) {
    mark_connected();
    next_keepalive_ = SteadyClock::now() + keepalive_interval(lease_ttl_);
    co_return true;
  }
  if (r.error().kind == ErrorKind::not_found) {
    mark_connected();
    lease_lost("keepalive: " + r.error().message);
    co_return true;
  }
  failed(r.error(), "keepalive");
  co_return false;
}

awaitable<bool> Registrar::sync() {
  for (;;) {
    std::vector<Key> work;
    for (const auto& [key, want] : desired_)
      if (needs_work(key)) work.push_back(key);
    for (const auto& [key, had] : applied_)
      if (desired_.count(key) == 0) work.push_back(key);
    if (work.empty()) co_return true;
    for (auto& key : work) {
      if (stopping_) co_return true;
      if (!needs_work(key)) continue;  // changed back while we were busy
      bool ok = co_await sync_one(key);
      if (!ok) co_return false;
    }
  }
}

awaitable<bool> Registrar::sync_one(Key key) {
  auto d = desired_.find(key);
  if (d != desired_.end()) {
    model::Instance want = d->second;
    want.lease = lease_;
    auto r = co_await reg_->put_instance(want);
    if (r) {
      mark_connected();
      applied_[key] = want;
      unconfirmed_.erase(key);
      refused_.erase(key);
      refusal_.erase(key);
      co_return true;
    }
    const Error& e = r.error();
    if (e.kind == ErrorKind::not_found && e.code == "lease_not_found") {
      lease_lost("register: " + e.message);
      co_return false;  // a short backoff, then a new lease
    }
    if (e.kind == ErrorKind::refused || e.kind == ErrorKind::not_found) {
      // A person must fix the input; retrying the same version would only repeat the answer.
      log_->error("{} refused instance {}/{}: {}", reg_->describe(), key.first, key.second,
                  e.message);
      want.lease.clear();
      refused_[key] = std::move(want);
      refusal_[key] = e.message;
      last_error_ = "register " + key.first + "/" + key.second + ": " + e.message;
      co_return true;
    }
    applied_[key] = want;  // it may have landed: removing it later must still delete it
    failed(e, "register");
    co_return false;
  }
  auto r = co_await reg_->delete_instance(key.first, key.second);
  if (r || r.error().kind == ErrorKind::not_found || r.error().kind == ErrorKind::refused) {
    if (!r && r.error().kind == ErrorKind::refused)
      log_->error("{} refused to deregister {}/{}: {}", reg_->describe(), key.first, key.second,
                  r.error().message);
    applied_.erase(key);
    unconfirmed_.erase(key);
    co_return true;
  }
  failed(r.error(), "deregister");
  co_return false;
}

awaitable<void> Registrar::shutdown() {
  stopping_ = true;
  wake_.cancel();
  if (started_ && !loop_done_) {
    done_.expires_at(SteadyClock::time_point::max());
    error_code ec;
    co_await done_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  co_await finish();
}

awaitable<void> Registrar::finish() {
  if (lease_.empty()) co_return;
  std::vector<Key> keys;
  for (const auto& [key, had] : applied_) keys.push_back(key);
  for (auto& key : keys) {
    auto r = co_await reg_->delete_instance(key.first, key.second);
    if (!r && r.error().kind == ErrorKind::unreachable) {
      log_->warn("cannot deregister from {}: {}; its lease {} will expire", reg_->describe(),
                 r.error().message, lease_);
      co_return;
    }
    applied_.erase(key);
  }
  auto r = co_await reg_->revoke(lease_);
  if (!r && r.error().kind != ErrorKind::not_found) {
    log_->warn("cannot revoke lease {} on {}: {}", lease_, reg_->describe(), r.error().message);
  } else {
    log_->info("revoked lease {} on {}{}", lease_, reg_->describe(),
               keys.empty()
                   ? std::string()
                   : " after deregistering " + std::to_string(keys.size()) + " instance(s)");
  }
  lease_.clear();
  applied_.clear();
  unconfirmed_.clear();
  connected_ = false;
}

}  // namespace dstack::watson
