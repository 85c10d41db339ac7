// SPDX-License-Identifier: Apache-2.0
#include "directory/record_log_format.hpp"

#include <boost/crc.hpp>
#include <optional>

namespace dstack::directory::record_log {
namespace {

std::uint32_t load_le32(std::string_view bytes, std::uint64_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

void append_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

// A record is plausible when its length is sane and it fits in the file; a plausible record
// with a matching checksum is one somebody wrote whole.
bool checksum_ok_at(std::string_view file, std::uint64_t at) {
  if (file.size() - at < kRecordHeader) return false;
  const std::uint32_t length = load_le32(file, at);
  if (length == 0 || length > kMaxPayload || file.size() - at - kRecordHeader < length)
    return false;
  return crc32(file.substr(at + kRecordHeader, length)) == load_le32(file, at + 4);
}

// The stores' payloads are JSON, which never contains a zero byte (control characters are
// escaped), while a plausible length has a zero high byte, so no record hides inside a
// payload: short of a 2^-32 checksum coincidence in a record header, a hit is data written
// after the damage.
std::optional<std::uint64_t> find_record_after(std::string_view file, std::uint64_t from) {
  for (std::uint64_t at = from; at + kRecordHeader <= file.size(); ++at)
    if (checksum_ok_at(file, at)) return at;
  return std::nullopt;
}

}  // namespace

std::uint32_t crc32(std::string_view bytes) {
  boost::crc_32_type crc;
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::string frame(std::string_view payload) {
  std::string record;
  record.reserve(kRecordHeader + payload.size());
  append_le32(record, static_cast<std::uint32_t>(payload.size()));
  append_le32(record, crc32(payload));
  record += payload;
  return record;
}

Parsed parse(std::string_view file, const Format& format) {
  const std::string_view magic = format.magic;
  Parsed p;
  if (file.size() < magic.size() && magic.substr(0, file.size()) == file) {
    // A crash while the file was being created; nothing was ever acknowledged from it.
    if (!file.empty()) {
      p.outcome = Parsed::Outcome::torn_tail;
      p.dropped = file.size();
      p.problem = "incomplete file header";
    }
    return p;
  }
  if (file.substr(0, magic.size()) != magic) {
    std::string expected(magic.substr(0, magic.size() - 1));  // without the newline
    p.outcome = Parsed::Outcome::corrupt;
    p.problem = "not a dstack " + std::string(format.kind) +
                " (bad header at offset 0, expected \"" + expected + "\")";
    return p;
  }

  std::uint64_t at = magic.size();
  p.good_end = at;
  while (at < file.size()) {
    const std::uint64_t rest = file.size() - at;
    std::string damage;
    std::uint64_t end = 0;  // known only for a complete record with a plausible length
    if (rest < kRecordHeader) {
      damage = "incomplete record header";
    } else if (const std::uint32_t length = load_le32(file, at);
               length == 0 || length > kMaxPayload) {
      damage = "invalid length " + std::to_string(length);
    } else if (rest - kRecordHeader < length) {
      damage = "incomplete record: length " + std::to_string(length) + ", " +
               std::to_string(rest - kRecordHeader) + " bytes present";
    } else if (const auto payload = file.substr(at + kRecordHeader, length);
               crc32(payload) != load_le32(file, at + 4)) {
      damage = "checksum mismatch";
      end = at + kRecordHeader + length;
    } else {
      Record record{{}, payload, at, kRecordHeader + length};
      std::string why;
      if (!format.read(payload, record.change, &why)) {
        p.outcome = Parsed::Outcome::corrupt;
        p.problem = "record at offset " + std::to_string(at) +
                    " has a valid checksum but an invalid payload (" + why + ")";
        return p;
      }
      p.records.push_back(std::move(record));
      at += kRecordHeader + length;
      p.good_end = at;
      continue;
    }

    const std::string where =
        "corrupt record at offset " + std::to_string(at) + " (" + damage + ")";
    if (end != 0 && end < file.size()) {
      p.outcome = Parsed::Outcome::corrupt;
      p.problem = where + " followed by " + std::to_string(file.size() - end) + " more bytes";
      return p;
    }
    if (const auto next = find_record_after(file, at + 1)) {
      p.outcome = Parsed::Outcome::corrupt;
      p.problem = where + " followed by a valid record at offset " + std::to_string(*next);
      return p;
    }
    p.outcome = Parsed::Outcome::torn_tail;
    p.dropped = file.size() - at;
    p.problem = damage;
    return p;
  }
  return p;
}

}  // namespace dstack::directory::record_log
