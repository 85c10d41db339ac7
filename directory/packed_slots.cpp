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

// Reads a varint, never past `end` (the bytes are the window's own, but a bug should not read
// out of bounds).
std::uint64_t get(const std::uint8_t*& p, const std::uint8_t* end) {
  std::uint64_t v = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    const std::uint8_t b = *p++;
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

}  // namespace

std::uint32_t PackedSlots::next_record(Cursor& at, std::uint32_t previous, std::size_t& length) {
  const auto id = previous + static_cast<std::uint32_t>(get(at.p, at.end));
  length = std::min<std::size_t>(get(at.p, at.end), static_cast<std::size_t>(at.end - at.p));
  return id;
}

void PackedSlots::decode(const std::uint8_t* p, const std::uint8_t* end,
                         model::TrafficCounts& into) {
  const auto codes = get(p, end);
  for (std::size_t c = 0; c < model::kCodeClasses; ++c)
    if (codes & (1u << c)) into.requests[c] += get(p, end);
  const auto buckets = get(p, end);
  for (std::size_t b = 0; b < model::kDurationBuckets; ++b)
    if (buckets & (1u << b)) into.duration[b] += get(p, end);
}

void PackedSlots::encode(const model::TrafficCounts& counts, std::vector<std::uint8_t>& out) {
  std::uint64_t codes = 0, buckets = 0;
  for (std::size_t c = 0; c < model::kCodeClasses; ++c)
    if (counts.requests[c]) codes |= 1u << c;
  for (std::size_t b = 0; b < model::kDurationBuckets; ++b)
    if (counts.duration[b]) buckets |= 1u << b;
  put(out, codes);
  for (auto n : counts.requests)
    if (n) put(out, n);
  put(out, buckets);
  for (auto n : counts.duration)
    if (n) put(out, n);
}

std::int64_t PackedSlots::add(std::int64_t slot, std::span<const Entry> entries) {
  if (blocks_.empty() || blocks_.back().slot < slot) {
    // The last block is closed: it keeps only what it holds.
    if (!blocks_.empty()) blocks_.back().bytes.shrink_to_fit();
    blocks_.push_back({slot, {}});
  }
  Block& block = blocks_.back();

  // The block again, its records and the entries merged in id order. A record no entry touches
  // is copied as it is; one both have is decoded, added to and encoded. Made in a buffer kept
  // for its capacity, then copied into the block's own, which grows by an eighth at a time: a
  // minute's block is made again at every report, and a new allocation each time would leave
  // the heap full of holes.
  thread_local std::vector<std::uint8_t> next, counts_bytes;
  next.clear();
  std::uint32_t written = 0;  // the last id written
  auto write = [&](std::uint32_t id, const std::uint8_t* p, std::size_t length) {
    put(next, id - written);
    put(next, length);
    next.insert(next.end(), p, p + length);
    written = id;
  };
  Cursor at{block.bytes.data(), block.bytes.data() + block.bytes.size()};
  std::uint32_t old_id = 0;
  std::size_t old_length = 0;
  bool old_pending = at.p < at.end;
  if (old_pending) old_id = next_record(at, 0, old_length);
  auto take_old = [&] {
    write(old_id, at.p, old_length);
    at.p += old_length;
    old_pending = at.p < at.end;
    if (old_pending) old_id = next_record(at, old_id, old_length);
  };
  for (std::size_t i = 0; i < entries.size();) {
    const std::uint32_t id = entries[i].id;
    while (old_pending && old_id < id) take_old();
    model::TrafficCounts sum;
    if (old_pending && old_id == id) {
      decode(at.p, at.p + old_length, sum);
      at.p += old_length;
      old_pending = at.p < at.end;
      if (old_pending) old_id = next_record(at, id, old_length);
    }
    // Entries of one id (never twice from a report, but cheap to allow) go to one record.
    for (; i < entries.size() && entries[i].id == id; ++i) sum.add(*entries[i].counts);
    counts_bytes.clear();
    encode(sum, counts_bytes);
    write(id, counts_bytes.data(), counts_bytes.size());
  }
  while (old_pending) take_old();
  if (block.bytes.capacity() < next.size()) block.bytes.reserve(next.size() + next.size() / 8);
  block.bytes.assign(next.begin(), next.end());
  return block.slot;
}

void PackedSlots::drop_before(std::int64_t slot) {
  const auto keep =
      std::find_if(blocks_.begin(), blocks_.end(), [&](const Block& b) { return b.slot >= slot; });
  blocks_.erase(blocks_.begin(), keep);
}

std::size_t PackedSlots::size_bytes() const {
  std::size_t n = blocks_.capacity() * sizeof(Block);
  for (const auto& b : blocks_) n += b.bytes.capacity();
  return n;
}

}  // namespace dstack::directory
