// SPDX-License-Identifier: Apache-2.0
#include "directory/traffic_window.hpp"

#include <algorithm>
#include <set>

namespace dstack::directory {

namespace {

template <class D>
std::int64_t ticks(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

double TrafficFigures::error_ratio() const {
  const auto total = counts.total();
  return total ? static_cast<double>(counts.errors()) / static_cast<double>(total) : 0;
}

TrafficWindow::TrafficWindow(TrafficWindowOptions options) : options_(options) {}

std::int64_t TrafficWindow::slot_of(Clock::TimePoint t) const {
  return ticks(t.time_since_epoch()) / ticks(options_.slot);
}

std::int64_t TrafficWindow::consumer_slot_of(Clock::TimePoint t) const {
  return ticks(t.time_since_epoch()) / ticks(options_.consumer_slot);
}

std::uint32_t TrafficWindow::id_of(const std::string& service, const std::string& version) {
  auto [it, fresh] = ids_.try_emplace(Key{service, version}, 0);
  if (!fresh) return it->second;
  std::uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(series_.size());
    series_.emplace_back();
  }
  series_[id] = Series{it, {}, 0};
  it->second = id;
  return id;
}

void TrafficWindow::release(std::uint32_t id) {
  if (series_[id].holders > 0) --series_[id].holders;
  forget_if_unused(id);
}

void TrafficWindow::forget_if_unused(std::uint32_t id) {
  auto& s = series_[id];
  if (s.holders > 0 || !s.merged.empty()) return;
  ids_.erase(s.key);
  s = Series{ids_.end(), {}, 0};
  free_ids_.push_back(id);
}

void TrafficWindow::add(const std::string& consumer, const model::TrafficByVersion& report,
                        Duration interval, Clock::TimePoint now) {
  // The first report's requests happened over its interval, before it arrived.
  if (!first_report_) first_report_ = now - interval;
  // Everything is swept once per slot; between sweeps only what this report touches.
  const std::int64_t slot = slot_of(now);
  if (slot != swept_slot_) {
    expire(now);
    swept_slot_ = slot;
  }
  const std::int64_t cslot = consumer_slot_of(now);
  const std::int64_t coldest = consumer_slot_of(now - options_.window);
  auto& mine = consumers_[consumer];
  for (const auto& [service, versions] : report)
    for (const auto& [version, counts] : versions) {
      const std::uint32_t id = id_of(service, version);
      auto& ring = series_[id].merged;
      if (ring.empty() || ring.back().first != slot)
        ring.emplace_back(slot, model::TrafficCounts{});
      ring.back().second.add(counts);
      auto at = std::lower_bound(mine.begin(), mine.end(), id,
                                 [](const ConsumerSeries& c, std::uint32_t i) { return c.id < i; });
      if (at == mine.end() || at->id != id) {
        at = mine.insert(at, ConsumerSeries{id, {}});
        ++series_[id].holders;
      }
      at->slots.drop_before(coldest);
      at->slots.add(cslot, counts);
    }
}

void TrafficWindow::remove(const std::string& consumer) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return;
  for (const auto& c : it->second) release(c.id);
  consumers_.erase(it);
}

void TrafficWindow::expire(Clock::TimePoint now) {
  const std::int64_t coldest = consumer_slot_of(now - options_.window);
  for (auto c = consumers_.begin(); c != consumers_.end();) {
    auto& mine = c->second;
    std::erase_if(mine, [&](ConsumerSeries& s) {
      s.slots.drop_before(coldest);
      if (!s.slots.empty()) return false;
      release(s.id);
      return true;
    });
    c = mine.empty() ? consumers_.erase(c) : std::next(c);
  }
  const std::int64_t oldest = slot_of(now - options_.window);
  for (std::uint32_t id = 0; id < series_.size(); ++id) {
    auto& s = series_[id];
    if (s.key == ids_.end()) continue;  // free
    while (!s.merged.empty() && s.merged.front().first < oldest) s.merged.pop_front();
    forget_if_unused(id);
  }
}

double TrafficWindow::covered_seconds(Clock::TimePoint now, Duration window) const {
  if (!first_report_) return 0;
  const auto since =
      std::min<Duration>(window, std::chrono::duration_cast<Duration>(now - *first_report_));
  return std::chrono::duration<double>(since).count();
}

std::vector<ServiceTraffic> TrafficWindow::query(const TrafficQuery& q,
                                                 Clock::TimePoint now) const {
  const Duration window = std::min(q.window, options_.window);
  const std::int64_t from = slot_of(now - window);
  const std::int64_t cfrom = consumer_slot_of(now - window);
  // Figures cover whole slots: from the start of the slot the window starts in, which for
  // per-consumer figures is the start of a minute.
  auto since = [&](std::int64_t slot, Duration width) {
    return covered_seconds(
        now, std::chrono::duration_cast<Duration>(now.time_since_epoch() -
                                                  std::chrono::milliseconds(slot * ticks(width))));
  };
  const double seconds = since(from, options_.slot);
  const double cseconds = since(cfrom, options_.consumer_slot);

  // By id while collecting, in name order when answering.
  std::map<std::uint32_t, VersionTraffic> out;
  if (!q.consumer) {
    for (const auto& [key, id] : ids_) {
      if (q.service && key.first != *q.service) continue;
      TrafficFigures f{{}, seconds};
      for (const auto& [slot, counts] : series_[id].merged)
        if (slot >= from) f.counts.add(counts);
      if (f.counts.empty()) continue;
      out[id].version = key.second;
      out[id].merged = f;
    }
  }
  for (const auto& [consumer, mine] : consumers_) {
    if (q.consumer && consumer != *q.consumer) continue;
    for (const auto& [id, slots] : mine) {
      const Key& key = series_[id].key->first;
      if (q.service && key.first != *q.service) continue;
      // A consumer's minute may reach further back than the merged window: a version with no
      // requests in the window is not shown for the share it had before.
      const auto merged = out.find(id);
      if (!q.consumer && merged == out.end()) continue;
      if (!q.breakdown && !q.consumer) {
        if (slots.any_from(cfrom)) ++merged->second.reporting;
        continue;
      }
      TrafficFigures f{{}, cseconds};
      slots.sum_from(cfrom, f.counts);
      if (f.counts.empty()) continue;
      auto& v = out[id];
      v.version = key.second;
      if (q.consumer) v.merged = f;
      v.consumers[consumer] = f;
      ++v.reporting;
    }
  }
  std::vector<ServiceTraffic> services;
  for (const auto& [key, id] : ids_) {
    auto v = out.find(id);
    if (v == out.end()) continue;
    if (services.empty() || services.back().service != key.first)
      services.push_back({key.first, {}});
    services.back().versions.push_back(std::move(v->second));
  }
  return services;
}

std::size_t TrafficWindow::reporting(Duration window, Clock::TimePoint now) const {
  const std::int64_t cfrom = consumer_slot_of(now - std::min(window, options_.window));
  std::size_t n = 0;
  for (const auto& [consumer, mine] : consumers_)
    n += std::any_of(mine.begin(), mine.end(),
                     [&](const ConsumerSeries& s) { return s.slots.any_from(cfrom); });
  return n;
}

std::size_t TrafficWindow::consumer_series() const {
  std::size_t n = 0;
  for (const auto& [consumer, mine] : consumers_) n += mine.size();
  return n;
}

model::TrafficView view_of(const std::vector<ServiceTraffic>& services, Duration window,
                           std::size_t reporting, bool breakdown) {
  model::TrafficView view;
  view.window = format_duration(window);
  view.window_seconds = std::chrono::duration<double>(window).count();
  view.reporting = reporting;
  view.breakdown = breakdown;
  for (const auto& s : services) {
    model::ServiceTrafficSummary service{s.service, {}};
    for (const auto& v : s.versions) {
      model::VersionTrafficSummary version{
          v.version, model::summarize(v.merged.counts, v.merged.seconds), {}, v.reporting};
      for (const auto& [consumer, f] : v.consumers)
        version.consumers.push_back({consumer, model::summarize(f.counts, f.seconds)});
      service.versions.push_back(std::move(version));
    }
    view.services.push_back(std::move(service));
  }
  return view;
}

}  // namespace dstack::directory
