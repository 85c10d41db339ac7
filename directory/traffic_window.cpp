// SPDX-License-Identifier: Apache-2.0
#include "directory/traffic_window.hpp"

#include <algorithm>
#include <set>

namespace dstack::directory {

namespace {

constexpr std::uint32_t kBucketShift = 27;
constexpr std::uint32_t kCountMask = (1u << kBucketShift) - 1;
constexpr std::size_t kHeader = 1 + model::kCodeClasses + 1;  // slot, codes, bucket count

std::uint32_t cap(std::uint64_t n, std::uint64_t max) {
  return static_cast<std::uint32_t>(std::min(n, max));
}

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

void TrafficWindow::PackedSlots::add(std::int64_t slot, const model::TrafficCounts& counts) {
  // The newest slot is the last record; a report for it merges into it.
  model::TrafficCounts merged = counts;
  std::size_t last = words.size();
  for (std::size_t at = 0; at < words.size(); at += kHeader + words[at + kHeader - 1]) last = at;
  if (last < words.size() && static_cast<std::int64_t>(words[last]) == slot) {
    model::TrafficCounts old;
    for (std::size_t c = 0; c < model::kCodeClasses; ++c) old.requests[c] = words[last + 1 + c];
    for (std::size_t i = 0; i < words[last + kHeader - 1]; ++i) {
      const std::uint32_t w = words[last + kHeader + i];
      old.duration[w >> kBucketShift] = w & kCountMask;
    }
    merged.add(old);
    words.resize(last);
  }
  words.push_back(static_cast<std::uint32_t>(slot));
  for (auto n : merged.requests) words.push_back(cap(n, UINT32_MAX));
  std::uint32_t buckets = 0;
  const std::size_t count_at = words.size();
  words.push_back(0);
  for (std::size_t b = 0; b < model::kDurationBuckets; ++b)
    if (merged.duration[b]) {
      words.push_back(static_cast<std::uint32_t>(b) << kBucketShift |
                      cap(merged.duration[b], kCountMask));
      ++buckets;
    }
  words[count_at] = buckets;
}

void TrafficWindow::PackedSlots::drop_before(std::int64_t slot) {
  std::size_t at = 0;
  while (at < words.size() && static_cast<std::int64_t>(words[at]) < slot)
    at += kHeader + words[at + kHeader - 1];
  words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(at));
  if (words.capacity() > 2 * words.size() + 64) words.shrink_to_fit();
}

void TrafficWindow::PackedSlots::sum_from(std::int64_t slot, model::TrafficCounts& into) const {
  for (std::size_t at = 0; at < words.size(); at += kHeader + words[at + kHeader - 1]) {
    if (static_cast<std::int64_t>(words[at]) < slot) continue;
    for (std::size_t c = 0; c < model::kCodeClasses; ++c) into.requests[c] += words[at + 1 + c];
    for (std::size_t i = 0; i < words[at + kHeader - 1]; ++i) {
      const std::uint32_t w = words[at + kHeader + i];
      into.duration[w >> kBucketShift] += w & kCountMask;
    }
  }
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
      Key key{service, version};
      auto& ring = merged_[key];
      if (ring.empty() || ring.back().first != slot)
        ring.emplace_back(slot, model::TrafficCounts{});
      ring.back().second.add(counts);
      auto& slots = mine[std::move(key)];
      slots.drop_before(coldest);
      slots.add(cslot, counts);
    }
}

void TrafficWindow::remove(const std::string& consumer) {
  consumers_.erase(consumer);
}

void TrafficWindow::expire(Clock::TimePoint now) {
  const std::int64_t oldest = slot_of(now - options_.window);
  for (auto it = merged_.begin(); it != merged_.end();) {
    auto& ring = it->second;
    while (!ring.empty() && ring.front().first < oldest) ring.pop_front();
    it = ring.empty() ? merged_.erase(it) : std::next(it);
  }
  const std::int64_t coldest = consumer_slot_of(now - options_.window);
  for (auto c = consumers_.begin(); c != consumers_.end(); ++c) {
    auto& series = c->second;
    for (auto it = series.begin(); it != series.end();) {
      it->second.drop_before(coldest);
      it = it->second.empty() ? series.erase(it) : std::next(it);
    }
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

  std::map<Key, VersionTraffic> out;
  if (!q.consumer) {
    for (const auto& [key, ring] : merged_) {
      if (q.service && key.first != *q.service) continue;
      TrafficFigures f{{}, seconds};
      for (const auto& [slot, counts] : ring)
        if (slot >= from) f.counts.add(counts);
      if (f.counts.empty()) continue;
      out[key].version = key.second;
      out[key].merged = f;
    }
  }
  for (const auto& [consumer, series] : consumers_) {
    if (q.consumer && consumer != *q.consumer) continue;
    for (const auto& [key, slots] : series) {
      if (q.service && key.first != *q.service) continue;
      TrafficFigures f{{}, cseconds};
      slots.sum_from(cfrom, f.counts);
      if (f.counts.empty()) continue;
      // A consumer's minute may reach further back than the merged window: a version with no
      // requests in the window is not shown for the share it had before.
      if (!q.consumer && !out.contains(key)) continue;
      auto& v = out[key];
      v.version = key.second;
      if (q.consumer) v.merged = f;
      v.consumers[consumer] = f;
    }
  }
  std::vector<ServiceTraffic> services;
  for (auto& [key, v] : out) {
    if (services.empty() || services.back().service != key.first)
      services.push_back({key.first, {}});
    services.back().versions.push_back(std::move(v));
  }
  return services;
}

std::size_t TrafficWindow::consumer_series() const {
  std::size_t n = 0;
  for (const auto& [consumer, series] : consumers_) n += series.size();
  return n;
}

model::TrafficView view_of(const std::vector<ServiceTraffic>& services, Duration window) {
  model::TrafficView view;
  view.window = format_duration(window);
  view.window_seconds = std::chrono::duration<double>(window).count();
  for (const auto& s : services) {
    model::ServiceTrafficSummary service{s.service, {}};
    for (const auto& v : s.versions) {
      model::VersionTrafficSummary version{
          v.version, model::summarize(v.merged.counts, v.merged.seconds), {}};
      for (const auto& [consumer, f] : v.consumers)
        version.consumers.push_back({consumer, model::summarize(f.counts, f.seconds)});
      service.versions.push_back(std::move(version));
    }
    view.services.push_back(std::move(service));
  }
  return view;
}

}  // namespace dstack::directory
