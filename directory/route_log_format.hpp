// SPDX-License-Identifier: Apache-2.0
#pragma once
// The on-disk format of routes.log, kept free of I/O so every recovery decision is tested
// directly on byte strings.
//
//   file    := magic record*
//   magic   := "DSTACK-ROUTES 1\n"
//   record  := u32le length | u32le CRC-32(payload) | payload      (length in 1..kMaxPayload)
//   payload := {"op":"put","service":S,"consumer":C,"targets":[{"version":V,"weight":W}],
//               "revision":R}  |  {"op":"delete","service":S,"consumer":C}     (compact JSON)
//
// The payload is the store's own JSON, not model/json.hpp's wire format: the API format may
// evolve, the file must stay readable by the version header alone.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/model/model.hpp"

namespace dstack::directory::route_log {

inline constexpr std::string_view kMagic = "DSTACK-ROUTES 1\n";
inline constexpr std::size_t kRecordHeader = 8;
// Far above any route the API accepts (bodies are limited to 1 MiB); its job is to make a
// garbage length recognisable instead of a reason to read gigabytes.
inline constexpr std::uint32_t kMaxPayload = 1u << 20;

struct Op {
  bool remove = false;
  model::Route route;  // for a remove only service and consumer matter
};

std::uint32_t crc32(std::string_view bytes);

// The whole record (header + payload). Fails, with *why set, for anything decode_payload would
// refuse or not reproduce exactly (bad ranges, invalid UTF-8, too large): a record we cannot
// load again must never reach the file, or one bad put would make the store unloadable.
bool encode(const Op& op, std::string& record, std::string* why = nullptr);

// Parses and sanity-checks one payload: types, a non-empty service, weights 0..100. Naming
// rules are validate.hpp's business, applied before a route reaches the store.
bool decode_payload(std::string_view payload, Op& op, std::string* why = nullptr);

struct Record {
  Op op;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;  // header + payload
};

struct Parsed {
  enum class Outcome {
    clean,      // every byte belongs to the header or a good record
    torn_tail,  // what a crash mid-append leaves: cut the file to good_end
    corrupt,    // damage that dropping could not explain: refuse to load
  };
  Outcome outcome = Outcome::clean;
  std::vector<Record> records;  // the good ones, in file order
  // End of the last good record; below kMagic.size() when the header itself is missing or
  // partial (a crash while creating the file), so the caller writes a fresh one.
  std::uint64_t good_end = 0;
  std::uint64_t dropped = 0;  // torn_tail: bytes after good_end
  std::string problem;        // torn_tail: why; corrupt: the message (without the file name)
};

// Rules, in order, for the first record that is not good:
// - checksum valid but payload invalid: corrupt (a crash cannot produce it);
// - a complete record with a bad checksum and bytes after it: corrupt;
// - otherwise (incomplete, a bad checksum at the very end, an implausible length): corrupt if
//   a record with a valid checksum starts anywhere after it (acknowledged data would be
//   lost), else a torn tail.
// A cut at any byte of a valid file therefore loads exactly the records before the cut.
Parsed parse(std::string_view file);

}  // namespace dstack::directory::route_log
