// SPDX-License-Identifier: Apache-2.0
#pragma once
// What one directory should be told next about this host's instances, decided apart from I/O
// (the rules: docs/watson.md#health-and-registration): one lease, a keepalive every ttl/3, a new
// lease and everything registered again when the lease is gone, puts and removes for whatever
// the directory has that watson does not want, and a jittered, capped backoff while the
// directory fails. The Registrar performs each step and reports how it went; this class owns no
// socket, timer or clock, so each rule is tested step by step with a fake clock
// (tests/unit/watson_registration_test).

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/core/backoff.hpp"
#include "common/model/model.hpp"

namespace dstack::watson {

struct RegistrationStep {
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Kind {
    grant_lease,
    keepalive,
    put,       // `instance`, lease filled in
    remove,    // `service`, `id`
    back_off,  // the directory failed: wait until `until`; changes do not cut it short
    wait,      // until `until` (the next keepalive) or the next change
    done,      // stopping
  };
  Kind kind = Kind::wait;
  TimePoint until = TimePoint::max();
  model::Instance instance;
  std::string service, id;
};

class Registration {
 public:
  using TimePoint = RegistrationStep::TimePoint;
  using Key = std::pair<std::string, std::string>;  // service, id

  Registration(std::chrono::seconds ttl, Backoff backoff);

  // ---- what watson wants (from the health checks) ----
  // The latest desired state of an instance wins. False when nothing changed.
  bool want(model::Instance desired);
  bool unwant(const std::string& service, const std::string& id);

  RegistrationStep next(TimePoint now) const;

  // ---- how the steps went; each returns true when it reconnected (worth a log line) ----
  bool lease_granted(std::string id, std::chrono::seconds ttl, TimePoint now);
  bool keepalive_ok(TimePoint now);
  // The directory answered that the lease is gone (keepalive 404, or a put naming the lease):
  // everything is registered again under a new one; `back_off` first when a put said so.
  bool lease_gone(std::string why, TimePoint now, bool back_off);
  bool put_ok(const model::Instance& sent, TimePoint now);
  // The directory refused the instance: a person must fix it, so this version is not sent again.
  bool put_refused(const model::Instance& sent, std::string why);
  bool removed(const Key& key, TimePoint now);  // also when the directory had no such instance
  // The call failed (unreachable, server error). `maybe_applied`: a put that may have landed,
  // which a later remove must still delete. Returns what the failure means for the log.
  enum class Failure { lost, still_failing, same_again };
  Failure failed(std::string what, TimePoint now, const model::Instance* maybe_applied = nullptr);
  void stop() { stopping_ = true; }

  // ---- what it knows ----
  const std::string& lease() const { return lease_; }
  std::chrono::seconds lease_ttl() const { return lease_ttl_; }
  bool connected() const { return connected_; }
  const std::string& last_error() const { return last_error_; }
  std::size_t desired_count() const { return desired_.size(); }
  // Instances the directory may hold under the lease (for a shutdown's deregistration).
  std::vector<Key> applied_keys() const;
  // Forgets the lease (revoked at shutdown).
  void lease_revoked();
  std::size_t registered() const;  // desired instances the directory has as desired
  std::size_t pending() const;     // puts and removes still to send (refused ones excluded)
  // `registered`, `pending`, `absent`, or `refused: <the directory's message>`.
  std::string state_of(const std::string& service, const std::string& id) const;

 private:
  bool needs_work(const Key& key) const;
  std::optional<Key> first_work() const;
  bool succeeded(TimePoint now);  // any answer that is not a failure

  Backoff backoff_;
  std::map<Key, model::Instance> desired_;
  std::map<Key, model::Instance> applied_;  // what the directory has (or may have) under lease_
  std::map<Key, model::Instance> refused_;  // desired versions (lease blank) it refused
  std::map<Key, std::string> refusal_;      // and why
  std::set<Key> unconfirmed_;               // in applied_ but unknown after a failure
  std::string lease_;
  std::chrono::seconds lease_ttl_;
  TimePoint next_keepalive_{};
  std::optional<TimePoint> back_off_until_;
  bool connected_ = false;
  bool stopping_ = false;
  std::string last_error_;
};

}  // namespace dstack::watson
