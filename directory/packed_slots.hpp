// SPDX-License-Identifier: Apache-2.0
#pragma once
// One consumer's traffic of one service and version, a record per slot (a minute), packed into
// bytes: what lets the directory keep 1,000 consumers x 100 services x 10 minutes in tens of MB
// (docs/insight.md#the-fleets-view). A record is the slot's index, the five code counts, the
// number of non-empty duration buckets and (bucket, count) for each, every number a LEB128
// varint: a typical minute takes about 20 bytes, against 264 for TrafficCounts.

#include <cstdint>
#include <vector>

#include "common/model/traffic.hpp"

namespace dstack::directory {

class PackedSlots {
 public:
  // Adds counts to the slot's record; slots only move forward (a report for an older slot than
  // the last record's is added to the last).
  void add(std::int64_t slot, const model::TrafficCounts& counts);
  // Drops records of slots before `slot`.
  void drop_before(std::int64_t slot);
  // Adds the records of `slot` and later to `into`.
  void sum_from(std::int64_t slot, model::TrafficCounts& into) const;
  bool any_from(std::int64_t slot) const;
  bool empty() const { return bytes_.empty(); }
  std::size_t size_bytes() const { return bytes_.capacity(); }

 private:
  struct Record {
    std::int64_t slot = 0;
    model::TrafficCounts counts;
  };
  // Decodes the record at `at`, returning where the next one starts.
  std::size_t read(std::size_t at, Record& out) const;
  // The slot of the record at `at` and where the next one starts, without decoding counts.
  std::size_t skip(std::size_t at, std::int64_t& slot) const;
  void write(const Record& r);

  std::vector<std::uint8_t> bytes_;
};

}  // namespace dstack::directory
