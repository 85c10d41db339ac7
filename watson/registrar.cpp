// SPDX-License-Identifier: Apache-2.0
#include "watson/registrar.hpp"

#include <algorithm>
#include <exception>
#include <vector>

#include "common/core/exception_text.hpp"

namespace dstack::watson {

namespace {

constexpr Duration kBackoffBase = std::chrono::milliseconds(200);
constexpr Duration kBackoffCap = std::chrono::seconds(10);

// Retries while the directory is away come at least every ttl/3 (10 s at most), so a directory
// that comes back is registered with again within one lease TTL.
Duration backoff_cap(std::chrono::seconds ttl) {
  return std::clamp<Duration>(std::chrono::duration_cast<Duration>(ttl) / 3, kBackoffBase,
                              kBackoffCap);
}

}  // namespace

Registrar::Registrar(asio::any_io_executor ex, std::unique_ptr<registry::Registry> reg,
                     std::chrono::seconds ttl, std::string owner, const Clock& clock)
    : ex_(ex),
      reg_(std::move(reg)),
      ttl_(ttl),
      owner_(std::move(owner)),
      clock_(clock),
      log_(log::get("registrar")),
      registration_(ttl, Backoff(kBackoffBase, backoff_cap(ttl))),
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
  if (registration_.want(std::move(desired))) wake();
}

void Registrar::remove(const std::string& service, const std::string& id) {
  if (registration_.unwant(service, id)) wake();
}

void Registrar::wake() {
  dirty_ = true;
  if (waiting_wakeable_) wake_.cancel();
}

Registrar::Status Registrar::status() const {
  return Status{reg_->describe(),           registration_.connected(),  registration_.lease(),
                registration_.last_error(), registration_.registered(), registration_.pending()};
}

std::string Registrar::state_of(const std::string& service, const std::string& id) const {
  return registration_.state_of(service, id);
}

bool Registrar::settled() const {
  return registration_.pending() == 0;
}

void Registrar::connected(bool just_now) {
  if (just_now) log_->info("connected to {}", reg_->describe());
}

void Registrar::failed(const Error& error, const char* what, const model::Instance* maybe_applied) {
  std::string text = std::string(what) + ": " + error.message;
  switch (registration_.failed(text, clock_.now(), maybe_applied)) {
    case Registration::Failure::lost:
      log_->warn("lost {}: {}; retrying with backoff", reg_->describe(), text);
      break;
    case Registration::Failure::still_failing:
      log_->warn("{} still failing: {}", reg_->describe(), text);
      break;
    case Registration::Failure::same_again:
      break;
  }
}

awaitable<void> Registrar::wait_until(std::chrono::steady_clock::time_point until, bool wakeable) {
  if (stopping_ || (wakeable && dirty_)) co_return;
  wake_.expires_at(until);
  waiting_wakeable_ = wakeable;
  error_code ec;
  auto op = wake_.async_wait(asio::redirect_error(use_awaitable, ec));
  co_await std::move(op);
  waiting_wakeable_ = false;
}

awaitable<void> Registrar::run() {
  using Kind = RegistrationStep::Kind;
  for (;;) {
    dirty_ = false;
    RegistrationStep step = registration_.next(clock_.now());
    switch (step.kind) {
      case Kind::done:
        co_return;
      case Kind::grant_lease: {
        auto op = reg_->grant_lease(ttl_, owner_);
        auto granted = co_await std::move(op);
        if (!granted) {
          failed(granted.error(), "grant lease");
          break;
        }
        connected(registration_.lease_granted(granted->id, granted->ttl, clock_.now()));
        log_->info("lease {} from {} (ttl {}s); registering {} instance(s)", granted->id,
                   reg_->describe(), granted->ttl.count(), registration_.desired_count());
        break;
      }
      case Kind::keepalive: {
        const std::string lease = registration_.lease();
        auto op = reg_->keepalive(lease);
        auto r = co_await std::move(op);
        if (r) {
          connected(registration_.keepalive_ok(clock_.now()));
        } else if (r.error().kind == ErrorKind::not_found) {
          log_->warn("lease {} on {} is gone (keepalive: {}); taking a new one", lease,
                     reg_->describe(), r.error().message);
          connected(registration_.lease_gone("keepalive: " + r.error().message, clock_.now(),
                                             /*back_off=*/false));
        } else {
          failed(r.error(), "keepalive");
        }
        break;
      }
      case Kind::put: {
        auto op = put_one(std::move(step.instance));
        co_await std::move(op);
        break;
      }
      case Kind::remove: {
        auto op = remove_one(std::move(step.service), std::move(step.id));
        co_await std::move(op);
        break;
      }
      case Kind::back_off:
      case Kind::wait: {
        auto op = wait_until(step.until, step.kind == Kind::wait);
        co_await std::move(op);
        break;
      }
    }
  }
}

awaitable<void> Registrar::put_one(model::Instance want) {
  auto op = reg_->put_instance(want);
  auto r = co_await std::move(op);
  if (r) {
    connected(registration_.put_ok(want, clock_.now()));
    co_return;
  }
  const Error& e = r.error();
  if (e.kind == ErrorKind::not_found && e.code == "lease_not_found") {
    log_->warn("lease {} on {} is gone (register: {}); taking a new one", want.lease,
               reg_->describe(), e.message);
    connected(registration_.lease_gone("register: " + e.message, clock_.now(),
                                       /*back_off=*/true));
    co_return;
  }
  if (e.kind == ErrorKind::refused || e.kind == ErrorKind::not_found) {
    log_->error("{} refused instance {}/{}: {}", reg_->describe(), want.service, want.id,
                e.message);
    registration_.put_refused(want, e.message);
    co_return;
  }
  failed(e, "register", &want);  // it may have landed: removing it later must still delete it
}

awaitable<void> Registrar::remove_one(std::string service, std::string id) {
  auto op = reg_->delete_instance(service, id);
  auto r = co_await std::move(op);
  if (!r && r.error().kind != ErrorKind::not_found && r.error().kind != ErrorKind::refused) {
    failed(r.error(), "deregister");
    co_return;
  }
  if (!r && r.error().kind == ErrorKind::refused)
    log_->error("{} refused to deregister {}/{}: {}", reg_->describe(), service, id,
                r.error().message);
  connected(registration_.removed({service, id}, clock_.now()));
}

awaitable<void> Registrar::shutdown() {
  stopping_ = true;
  registration_.stop();
  wake_.cancel();
  if (started_ && !loop_done_) {
    done_.expires_at(std::chrono::steady_clock::time_point::max());
    error_code ec;
    auto op = done_.async_wait(asio::redirect_error(use_awaitable, ec));
    co_await std::move(op);
  }
  auto op = finish();
  co_await std::move(op);
}

awaitable<void> Registrar::finish() {
  const std::string lease = registration_.lease();
  if (lease.empty()) co_return;
  const auto keys = registration_.applied_keys();
  for (const auto& key : keys) {
    auto op = reg_->delete_instance(key.first, key.second);
    auto r = co_await std::move(op);
    if (!r && r.error().kind == ErrorKind::unreachable) {
      log_->warn("cannot deregister from {}: {}; its lease {} will expire", reg_->describe(),
                 r.error().message, lease);
      co_return;
    }
    registration_.removed(key, clock_.now());
  }
  auto op = reg_->revoke(lease);
  auto r = co_await std::move(op);
  if (!r && r.error().kind != ErrorKind::not_found) {
    log_->warn("cannot revoke lease {} on {}: {}", lease, reg_->describe(), r.error().message);
  } else {
    log_->info("revoked lease {} on {}{}", lease, reg_->describe(),
               keys.empty()
                   ? std::string()
                   : " after deregistering " + std::to_string(keys.size()) + " instance(s)");
  }
  registration_.lease_revoked();
}

}  // namespace dstack::watson
