// SPDX-License-Identifier: Apache-2.0
#pragma once
// One watched service's health, Envoy/HAProxy style: thresholds turn a stream of check results
// into "should the directory route to it" without flapping on single blips. Pure state; the
// caller feeds it results and acts on the Transition it returns.
//
// Rules, precisely:
// - It starts unroutable and critical, with no check yet.
// - Results are passing or warning ("non-critical") or critical. A non-critical result resets the
//   failure count; a critical one resets the pass count.
// - While unroutable, `rise` non-critical results in a row make it routable.
// - While routable, `fall` critical results in a row make it unroutable. Fewer are hidden: health
//   stays at the last non-critical result's (passing or warning).
// - While routable, every non-critical result sets the health at once (passing <-> warning).
// - Maintenance is an overlay: while it is on, results are still counted and the thresholds still
//   run underneath exactly as above, but the instance is not routable and its health is
//   maintenance. Turning it off shows what the thresholds say at that moment, as if maintenance
//   had never been on (so an instance routable before, with fewer than `fall` failures since,
//   is routable again at once; one that never reached `rise` is not).
// - `check: none`: construct with rise 1 and record passing once.

#include <cstdint>
#include <optional>
#include <string>

#include "common/model/model.hpp"
#include "watson/check_result.hpp"

namespace dstack::watson {

// What a change means for the directory: register, update the health, or remove. Maintenance on
// and off report these too (an unroutable instance entering maintenance reports none).
enum class Transition { none, became_routable, health_changed, became_unroutable };

const char* to_string(Transition t);

class HealthState {
 public:
  HealthState(int rise, int fall);  // both >= 1; config validation guarantees it

  Transition record(CheckStatus s);
  // The same history under new thresholds (a reloaded definition): counts and maintenance stay,
  // and routability is what the new thresholds make of them, so an edit of rise or fall does not
  // take a healthy instance out of the directory.
  HealthState with_thresholds(int rise, int fall) const;
  Transition set_maintenance(bool on, std::string reason = {});

  bool routable() const { return up_ && !maintenance_; }
  // passing / warning while routable; maintenance while on; critical otherwise.
  model::Health health() const;
  // For the status page: `no check yet`, `passing`, `warning; 1 of 3 failures before removal`,
  // `critical; 1 of 2 passes before registering`, `critical`, `maintenance: <reason>`.
  std::string summary() const;

  bool maintenance() const { return maintenance_; }
  const std::string& maintenance_reason() const { return reason_; }
  int consecutive_passes() const { return passes_; }  // non-critical results in a row
  int consecutive_failures() const { return failures_; }
  std::optional<CheckStatus> last_status() const { return last_; }
  std::uint64_t checks() const { return checks_; }
  int rise() const { return rise_; }
  int fall() const { return fall_; }

 private:
  int rise_;
  int fall_;
  int passes_ = 0;
  int failures_ = 0;
  std::uint64_t checks_ = 0;
  bool up_ = false;                                   // what the thresholds say, maintenance aside
  model::Health up_health_ = model::Health::passing;  // the last non-critical result
  std::optional<CheckStatus> last_;
  bool maintenance_ = false;
  std::string reason_;
};

}  // namespace dstack::watson
