// SPDX-License-Identifier: Apache-2.0
#include "watson/health_state.hpp"

#include <cassert>
#include <climits>
#include <utility>

#include "common/model/json.hpp"

namespace dstack::watson {

const char* to_string(Transition t) {
  switch (t) {
    case Transition::none:
      return "none";
    case Transition::became_routable:
      return "became_routable";
    case Transition::health_changed:
      return "health_changed";
    case Transition::became_unroutable:
      return "became_unroutable";
  }
  return "none";
}

namespace {

struct View {
  bool routable;
  model::Health health;
};

// One rule for every change, so record() and set_maintenance() cannot disagree on what the
// directory must be told.
Transition between(View before, View after) {
  if (!before.routable && after.routable) return Transition::became_routable;
  if (before.routable && !after.routable) return Transition::became_unroutable;
  if (after.routable && before.health != after.health) return Transition::health_changed;
  return Transition::none;
}

// Counts saturate: a check every second for decades must not overflow into a negative count.
void bump(int& n) {
  if (n < INT_MAX) ++n;
}

}  // namespace

HealthState::HealthState(int rise, int fall) : rise_(rise), fall_(fall) {
  assert(rise >= 1 && fall >= 1);
}

model::Health HealthState::health() const {
  if (maintenance_) return model::Health::maintenance;
  return up_ ? up_health_ : model::Health::critical;
}

Transition HealthState::record(CheckStatus s) {
  View before{routable(), health()};
  last_ = s;
  ++checks_;
  if (s == CheckStatus::critical) {
    bump(failures_);
    passes_ = 0;
    if (up_ && failures_ >= fall_) up_ = false;
  } else {
    bump(passes_);
    failures_ = 0;
    up_health_ = s == CheckStatus::warning ? model::Health::warning : model::Health::passing;
    if (!up_ && passes_ >= rise_) up_ = true;
  }
  return between(before, {routable(), health()});
}

HealthState HealthState::with_thresholds(int rise, int fall) const {
  assert(rise >= 1 && fall >= 1);
  HealthState next = *this;
  next.rise_ = rise;
  next.fall_ = fall;
  if (next.up_ && next.failures_ >= fall) next.up_ = false;
  if (!next.up_ && next.passes_ >= rise) next.up_ = true;
  return next;
}

Transition HealthState::set_maintenance(bool on, std::string reason) {
  View before{routable(), health()};
  maintenance_ = on;
  reason_ = on ? std::move(reason) : std::string{};
  return between(before, {routable(), health()});
}

std::string HealthState::summary() const {
  if (maintenance_) return reason_.empty() ? "maintenance" : "maintenance: " + reason_;
  if (!last_) return "no check yet";
  std::string text = model::to_string(health());
  if (up_ && failures_ > 0)
    text += "; " + std::to_string(failures_) + " of " + std::to_string(fall_) +
            " failures before removal";
  if (!up_ && passes_ > 0)
    text += "; " + std::to_string(passes_) + " of " + std::to_string(rise_) +
            " passes before registering";
  return text;
}

}  // namespace dstack::watson
