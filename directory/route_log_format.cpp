// SPDX-License-Identifier: Apache-2.0
#include "directory/route_log_format.hpp"

#include <boost/crc.hpp>
#include <nlohmann/json.hpp>
#include <optional>

namespace dstack::directory::route_log {
namespace {

using nlohmann::json;

std::uint32_t load_le32(std::string_view bytes, std::uint64_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

void append_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

bool fail(std::string* why, std::string message) {
  if (why) *why = std::move(message);
  return false;
}

bool get_string(const json& object, const char* key, std::string& out, std::string* why) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string())
    return fail(why, std::string("\"") + key + "\" missing or not a string");
  out = it->get<std::string>();
  return true;
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

// A payload never contains a zero byte (JSON escapes control characters) while a plausible
// length has a zero high byte, so no record hides inside a payload: short of a 2^-32 checksum
// coincidence in a record header, a hit is data written after the damage.
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

bool encode(const Op& op, std::string& record, std::string* why) {
  json j = {{"op", op.remove ? "delete" : "put"},
            {"service", op.route.service},
            {"consumer", op.route.consumer}};
  if (!op.remove) {
    json targets = json::array();
    for (const auto& t : op.route.targets)
      targets.push_back({{"version", t.version}, {"weight", t.weight}});
    j["targets"] = std::move(targets);
    j["revision"] = op.route.revision;
  }
  std::string payload;
  try {
    payload = j.dump();
  } catch (const json::exception&) {  // dump() refuses invalid UTF-8
    return fail(why, "a string is not valid UTF-8");
  }
  if (payload.size() > kMaxPayload) return fail(why, "record larger than 1 MiB");
  Op back;
  if (!decode_payload(payload, back, why)) return false;
  if (back.route.service != op.route.service || back.route.consumer != op.route.consumer ||
      (!op.remove && back.route != op.route))
    return fail(why, "route does not survive a round trip through the log format");

  record.clear();
  record.reserve(kRecordHeader + payload.size());
  append_le32(record, static_cast<std::uint32_t>(payload.size()));
  append_le32(record, crc32(payload));
  record += payload;
  return true;
}

bool decode_payload(std::string_view payload, Op& op, std::string* why) {
  const json j = json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return fail(why, "not a JSON object");
  std::string kind;
  op = Op{};
  if (!get_string(j, "op", kind, why) || !get_string(j, "service", op.route.service, why) ||
      !get_string(j, "consumer", op.route.consumer, why))
    return false;
  if (op.route.service.empty()) return fail(why, "empty service");
  if (kind == "delete") {
    op.remove = true;
    return true;
  }
  if (kind != "put") return fail(why, "unknown op \"" + kind + "\"");

  const auto revision = j.find("revision");
  if (revision == j.end() || !revision->is_number_unsigned())
    return fail(why, "\"revision\" missing or not an unsigned integer");
  op.route.revision = revision->get<std::uint64_t>();
  const auto targets = j.find("targets");
  if (targets == j.end() || !targets->is_array())
    return fail(why, "\"targets\" missing or not an array");
  for (const json& t : *targets) {
    if (!t.is_object()) return fail(why, "a target is not an object");
    model::RouteTarget target;
    if (!get_string(t, "version", target.version, why)) return false;
    const auto weight = t.find("weight");
    // Negative numbers are not number_unsigned, so this also rejects them.
    if (weight == t.end() || !weight->is_number_unsigned() || weight->get<std::uint64_t>() > 100)
      return fail(why, "target weight missing or not an integer 0..100");
    target.weight = static_cast<int>(weight->get<std::uint64_t>());
    op.route.targets.push_back(std::move(target));
  }
  return true;
}

Parsed parse(std::string_view file) {
  Parsed p;
  if (file.size() < kMagic.size()) {
    if (kMagic.substr(0, file.size()) == file) {
      // A crash while the file was being created; nothing was ever acknowledged from it.
      if (!file.empty()) {
        p.outcome = Parsed::Outcome::torn_tail;
        p.dropped = file.size();
        p.problem = "incomplete file header";
      }
      return p;
    }
  }
  if (file.substr(0, kMagic.size()) != kMagic) {
    p.outcome = Parsed::Outcome::corrupt;
    p.problem = "not a dstack route log (bad header at offset 0, expected \"DSTACK-ROUTES 1\")";
    return p;
  }

  std::uint64_t at = kMagic.size();
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
      Record record{{}, at, kRecordHeader + length};
      std::string why;
      if (!decode_payload(payload, record.op, &why)) {
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

}  // namespace dstack::directory::route_log
