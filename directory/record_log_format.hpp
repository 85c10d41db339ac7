// SPDX-License-Identifier: Apache-2.0
#pragma once
// The on-disk framing the directory's durable stores share (routes.log, tokens.log), kept free
// of I/O so every recovery decision is tested directly on byte strings
// (docs/directory.md#durable-state).
//
//   file    := magic record*
//   magic   := a line naming the kind and version, e.g. "DSTACK-ROUTES 1\n"
//   record  := u32le length | u32le CRC-32(payload) | payload      (length in 1..kMaxPayload)
//
// What a payload means is the store's business: it hands parse() a reader that checks one and
// names the key it puts or deletes.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dstack::directory::record_log {

inline constexpr std::size_t kRecordHeader = 8;
// Far above any record the API accepts (bodies are limited to 1 MiB); its job is to make a
// garbage length recognisable instead of a reason to read gigabytes.
inline constexpr std::uint32_t kMaxPayload = 1u << 20;

std::uint32_t crc32(std::string_view bytes);

// Header and payload; the payload is at most kMaxPayload bytes (the caller checks).
std::string frame(std::string_view payload);

// What one payload does to the store's live set.
struct Change {
  std::string key;
  bool remove = false;
};

// Reads one payload: false, with *why set, when it is not one the store wrote.
using PayloadReader =
    std::function<bool(std::string_view payload, Change& change, std::string* why)>;

// What a file holds: its magic line and how its payloads are read.
struct Format {
  std::string_view magic;
  std::string_view kind;  // for messages: "route log"
  PayloadReader read;
};

struct Record {
  Change change;
  std::string_view payload;  // into the parsed file
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
  // End of the last good record; below the magic's size when the header itself is missing or
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
Parsed parse(std::string_view file, const Format& format);

}  // namespace dstack::directory::record_log
