// SPDX-License-Identifier: Apache-2.0
#include "directory/traffic_window.hpp"

#include <algorithm>

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

std::uint32_t TrafficWindow::id_of(const std::string& service, const std::string& version,
                                   std::map<Key, std::uint32_t>::iterator& next) {
  if (next != ids_.end() && next->first.first == service && next->first.second == version)
    return (next++)->second;
  auto [it, fresh] = ids_.try_emplace(Key{service, version}, 0);
  next = std::next(it);
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

void TrafficWindow::add(const std::string& consumer, const std::vector<model::TrafficRow>& rows,
                        Duration interval, Clock::TimePoint now) {
  // The first report's requests happened over its interval, before it arrived.
  if (!first_report_) first_report_ = now - interval;
  // Everything is swept once per slot.
  const std::int64_t slot = slot_of(now);
  if (slot != swept_slot_) {
    expire(now);
    swept_slot_ = slot;
  }
  entries_.clear();
  auto next = ids_.begin();
  for (const auto& row : rows) {
    if (row.counts.empty()) continue;
    const std::uint32_t id = id_of(row.service, row.version, next);
    auto& ring = series_[id].merged;
    if (ring.empty() || ring.back().first != slot) ring.emplace_back(slot, model::TrafficCounts{});
    ring.back().second.add(row.counts);
    entries_.push_back({id, &row.counts});
  }
  if (entries_.empty()) return;
  std::sort(entries_.begin(), entries_.end(),
            [](const PackedSlots::Entry& a, const PackedSlots::Entry& b) { return a.id < b.id; });

  auto& mine = consumers_[consumer];
  const std::int64_t at = mine.slots.add(consumer_slot_of(now), entries_);
  mine.last_slot = std::max(mine.last_slot, at);
  // `seen` and the entries are both in id order: walk them together, updating the ids known and
  // appending the new ones, then merge the two runs.
  auto& seen = mine.seen;
  const std::size_t known = seen.size();
  std::size_t i = 0;
  for (const auto& e : entries_) {
    while (i < known && seen[i].id < e.id) ++i;
    if (i < known && seen[i].id == e.id) {
      seen[i].slot = std::max(seen[i].slot, at);
    } else if (seen.size() == known || seen.back().id != e.id) {  // (an id twice in a report)
      seen.push_back({e.id, at});
      ++series_[e.id].holders;
    }
  }
  std::inplace_merge(seen.begin(), seen.begin() + static_cast<std::ptrdiff_t>(known), seen.end(),
                     [](const Seen& a, const Seen& b) { return a.id < b.id; });
}

void TrafficWindow::remove(const std::string& consumer) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return;
  for (const auto& s : it->second.seen) release(s.id);
  consumers_.erase(it);
}

void TrafficWindow::expire(Clock::TimePoint now) {
  const std::int64_t coldest = consumer_slot_of(now - options_.window);
  for (auto c = consumers_.begin(); c != consumers_.end();) {
    auto& mine = c->second;
    mine.slots.drop_before(coldest);
    std::erase_if(mine.seen, [&](const Seen& s) {
      if (s.slot >= coldest) return false;
      release(s.id);
      return true;
    });
    c = mine.seen.empty() ? consumers_.erase(c) : std::next(c);
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

  // By id while collecting, in name order when answering. `wanted`: the ids the answer shows.
  std::map<std::uint32_t, VersionTraffic> out;
  std::vector<char> wanted(series_.size(), 0);
  for (const auto& [key, id] : ids_) {
    if (q.service && key.first != *q.service) continue;
    if (q.consumer) {
      wanted[id] = 1;
      continue;
    }
    TrafficFigures f{{}, seconds};
    for (const auto& [slot, counts] : series_[id].merged)
      if (slot >= from) f.counts.add(counts);
    // A consumer's minute may reach further back than the merged window: a version with no
    // requests in the window is not shown for the share it had before.
    if (f.counts.empty()) continue;
    wanted[id] = 1;
    out[id].version = key.second;
    out[id].merged = f;
  }

  if (!q.breakdown && !q.consumer) {
    for (const auto& [consumer, mine] : consumers_)
      for (const auto& s : mine.seen)
        if (s.slot >= cfrom && wanted[s.id]) ++out[s.id].reporting;
    return in_name_order(std::move(out));
  }
  // Each consumer's share, summed per id, then taken into the answer.
  std::vector<model::TrafficCounts> sums(series_.size());
  std::vector<std::uint32_t> touched;
  for (const auto& [consumer, mine] : consumers_) {
    if (q.consumer && consumer != *q.consumer) continue;
    if (mine.last_slot < cfrom) continue;
    mine.slots.sum_from(cfrom, [&](std::uint32_t id) -> model::TrafficCounts* {
      if (id >= wanted.size() || !wanted[id]) return nullptr;
      if (sums[id].empty()) touched.push_back(id);
      return &sums[id];
    });
    for (const auto id : touched) {
      TrafficFigures f{sums[id], cseconds};
      sums[id] = {};
      if (f.counts.empty()) continue;
      auto& v = out[id];
      v.version = series_[id].key->first.second;
      if (q.consumer) v.merged = f;
      v.consumers[consumer] = f;
      ++v.reporting;
    }
    touched.clear();
  }
  return in_name_order(std::move(out));
}

TrafficSeries TrafficWindow::series(const TrafficSeriesQuery& q, Clock::TimePoint now) const {
  const std::int64_t slot = ticks(options_.slot);
  const std::int64_t per = std::max<std::int64_t>(1, ticks(q.step) / slot);  // slots per step
  const std::int64_t window_slots = (ticks(std::min(q.window, options_.window)) + slot - 1) / slot;
  const std::int64_t n = std::max<std::int64_t>(1, (window_slots + per - 1) / per);
  const std::int64_t last = slot_of(now);
  const std::int64_t first = last - n * per + 1;
  const std::int64_t now_ticks = ticks(now.time_since_epoch());
  // Figures exist from the first report, and no further back than the merged tier keeps.
  const std::int64_t reported_from =
      std::max(first_report_ ? ticks(first_report_->time_since_epoch()) : now_ticks,
               slot_of(now - options_.window) * slot);
  const auto seconds = [](std::int64_t t) {
    return std::chrono::duration<double>(Duration(t)).count();
  };

  TrafficSeries out;
  out.first_ago_seconds = seconds(now_ticks - first * slot);
  out.step_seconds = seconds(per * slot);
  out.steps = static_cast<std::size_t>(n);
  // What each step covers: up to now for the last, and nothing before the first report.
  std::vector<double> covered(out.steps);
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t begin = std::max((first + k * per) * slot, reported_from);
    const std::int64_t end = std::min((first + (k + 1) * per) * slot, now_ticks);
    covered[static_cast<std::size_t>(k)] = end > begin ? seconds(end - begin) : 0;
  }
  for (const auto& [key, id] : ids_) {
    if (q.service && key.first != *q.service) continue;
    const auto& ring = series_[id].merged;
    if (ring.empty() || ring.back().first < first) continue;
    if (out.services.empty() || out.services.back().service != key.first)
      out.services.push_back({key.first, {}});
    VersionSeries v{key.second, std::vector<TrafficFigures>(out.steps)};
    for (std::size_t k = 0; k < out.steps; ++k) v.steps[k].seconds = covered[k];
    for (const auto& [s, counts] : ring)
      if (s >= first) v.steps[static_cast<std::size_t>((s - first) / per)].counts.add(counts);
    out.services.back().versions.push_back(std::move(v));
  }
  return out;
}

std::vector<ServiceTraffic> TrafficWindow::in_name_order(
    std::map<std::uint32_t, VersionTraffic> by_id) const {
  std::vector<ServiceTraffic> services;
  for (const auto& [key, id] : ids_) {
    auto v = by_id.find(id);
    if (v == by_id.end()) continue;
    if (services.empty() || services.back().service != key.first)
      services.push_back({key.first, {}});
    services.back().versions.push_back(std::move(v->second));
  }
  return services;
}

std::size_t TrafficWindow::reporting(Duration window, Clock::TimePoint now) const {
  const std::int64_t cfrom = consumer_slot_of(now - std::min(window, options_.window));
  return static_cast<std::size_t>(
      std::count_if(consumers_.begin(), consumers_.end(),
                    [&](const auto& c) { return c.second.last_slot >= cfrom; }));
}

std::size_t TrafficWindow::consumer_series() const {
  std::size_t n = 0;
  for (const auto& [consumer, mine] : consumers_) n += mine.seen.size();
  return n;
}

std::size_t TrafficWindow::bytes() const {
  constexpr std::size_t kMapNode = 32;  // a std::map node's links and colour
  std::size_t n = series_.capacity() * sizeof(Series);
  for (const auto& s : series_) {
    n += s.merged.size() * sizeof(s.merged.front());
    if (s.key != ids_.end())
      n += kMapNode + sizeof(*s.key) + s.key->first.first.capacity() +
           s.key->first.second.capacity();
  }
  for (const auto& [consumer, mine] : consumers_)
    n += kMapNode + sizeof(consumer) + consumer.capacity() + sizeof(mine) +
         mine.slots.size_bytes() + mine.seen.capacity() * sizeof(Seen);
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
