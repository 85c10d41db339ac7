// SPDX-License-Identifier: Apache-2.0
#pragma once
// One consumer's share of the fleet's traffic, packed into bytes: a block per slot (a minute)
// holding a record per service and version the consumer reported requests for, by the id the
// traffic window gave it. What lets the directory keep 1,000 consumers x 100 services x 2
// versions x 10 minutes in tens of MB (docs/insight.md#the-fleets-view).
//
// A record is, each number a LEB128 varint:
//   id - the previous record's id (records are in id order), the length of what follows,
//   a bitmask of the code classes with requests and their counts,
//   a bitmask of the duration buckets with requests and their counts.
// A typical minute of one version takes 15 to 20 bytes (against 272 for TrafficCounts), and one
// allocation per block instead of one per series. The length lets a reader skip the records it
// does not want without decoding them. The durations' sum is not kept: answers do not use it.

#include <cstdint>
#include <span>
#include <vector>

#include "common/model/traffic.hpp"

namespace dstack::directory {

class PackedSlots {
 public:
  struct Entry {
    std::uint32_t id;
    const model::TrafficCounts* counts;
  };

  // Adds the entries (in id order) to the slot's block and returns the slot they went to: slots
  // only move forward, so a report for an older slot than the last block's (the clock stepped
  // back) goes to the last.
  std::int64_t add(std::int64_t slot, std::span<const Entry> entries);
  // Drops the blocks of slots before `slot`.
  void drop_before(std::int64_t slot);
  // Calls into(id) for every record of the blocks of `slot` and later; a record is added to the
  // counts it returns, or skipped when it returns nullptr.
  template <class Into>
  void sum_from(std::int64_t slot, Into into) const {
    for (const auto& block : blocks_) {
      if (block.slot < slot) continue;
      Cursor at{block.bytes.data(), block.bytes.data() + block.bytes.size()};
      for (std::uint32_t id = 0; at.p < at.end;) {
        std::size_t length = 0;
        id = next_record(at, id, length);
        if (model::TrafficCounts* counts = into(id)) {
          decode(at.p, at.p + length, *counts);
        }
        at.p += length;
      }
    }
  }
  bool empty() const { return blocks_.empty(); }
  std::size_t size_bytes() const;  // what the blocks hold, for the memory benchmark

 private:
  struct Block {
    std::int64_t slot = 0;
    std::vector<std::uint8_t> bytes;
  };
  struct Cursor {
    const std::uint8_t* p;
    const std::uint8_t* end;
  };
  // Reads a record's id (given the previous one) and the length of its counts.
  static std::uint32_t next_record(Cursor& at, std::uint32_t previous, std::size_t& length);
  // Adds the counts encoded in [p, end) to `into`.
  static void decode(const std::uint8_t* p, const std::uint8_t* end, model::TrafficCounts& into);
  static void encode(const model::TrafficCounts& counts, std::vector<std::uint8_t>& out);

  std::vector<Block> blocks_;  // by slot
};

}  // namespace dstack::directory
