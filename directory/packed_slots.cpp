// SPDX-License-Identifier: Apache-2.0
#include "directory/packed_slots.hpp"

#include <algorithm>

namespace dstack::directory {

namespace {

void put(std::vector<std::uint8_t>& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}

std::uint64_t get(const std::vector<std::uint8_t>& in, std::size_t& at) {
  std::uint64_t v = 0;
  for (int shift = 0; at < in.size() && shift < 64; shift += 7) {
    const std::uint8_t b = in[at++];
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

}  // namespace

std::size_t PackedSlots::read(std::size_t at, Record& out) const {
  out.slot = static_cast<std::int64_t>(get(bytes_, at));
  out.counts = {};
  for (auto& n : out.counts.requests) n = get(bytes_, at);
  const auto buckets = get(bytes_, at);
  for (std::uint64_t i = 0; i < buckets; ++i) {
    const auto b = std::min<std::uint64_t>(get(bytes_, at), model::kDurationBuckets - 1);
    out.counts.duration[b] += get(bytes_, at);
  }
  return at;
}

std::size_t PackedSlots::skip(std::size_t at, std::int64_t& slot) const {
  slot = static_cast<std::int64_t>(get(bytes_, at));
  for (std::size_t c = 0; c < model::kCodeClasses; ++c) get(bytes_, at);
  const auto buckets = get(bytes_, at);
  for (std::uint64_t i = 0; i < 2 * buckets; ++i) get(bytes_, at);
  return at;
}

void PackedSlots::write(const Record& r) {
  put(bytes_, static_cast<std::uint64_t>(r.slot));
  for (auto n : r.counts.requests) put(bytes_, n);
  std::uint64_t buckets = 0;
  for (auto n : r.counts.duration) buckets += n ? 1 : 0;
  put(bytes_, buckets);
  for (std::size_t b = 0; b < model::kDurationBuckets; ++b)
    if (r.counts.duration[b]) {
      put(bytes_, b);
      put(bytes_, r.counts.duration[b]);
    }
}

void PackedSlots::add(std::int64_t slot, const model::TrafficCounts& counts) {
  // The newest record is the last; a report for its slot (or, the clock having stepped back, an
  // older one) merges into it.
  std::size_t last = bytes_.size();
  std::int64_t last_slot = 0;
  for (std::size_t at = 0; at < bytes_.size();) {
    last = at;
    at = skip(at, last_slot);
  }
  Record r{slot, counts};
  if (last < bytes_.size() && last_slot >= slot) {
    Record old;
    read(last, old);
    r.slot = old.slot;
    r.counts.add(old.counts);
    bytes_.resize(last);
  }
  write(r);
}

void PackedSlots::drop_before(std::int64_t slot) {
  std::size_t keep = 0;
  for (std::int64_t s = 0; keep < bytes_.size();) {
    const std::size_t next = skip(keep, s);
    if (s >= slot) break;
    keep = next;
  }
  if (keep == 0) return;
  bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(keep));
  if (bytes_.capacity() > 2 * bytes_.size() + 32) bytes_.shrink_to_fit();
}

void PackedSlots::sum_from(std::int64_t slot, model::TrafficCounts& into) const {
  Record r;
  for (std::size_t at = 0; at < bytes_.size();) {
    std::int64_t s = 0;
    const std::size_t next = skip(at, s);
    if (s >= slot) {
      read(at, r);
      into.add(r.counts);
    }
    at = next;
  }
}

bool PackedSlots::any_from(std::int64_t slot) const {
  for (std::size_t at = 0; at < bytes_.size();) {
    std::int64_t s = 0;
    at = skip(at, s);
    if (s >= slot) return true;
  }
  return false;
}

}  // namespace dstack::directory
