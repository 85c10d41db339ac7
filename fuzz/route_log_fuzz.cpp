// SPDX-License-Identifier: Apache-2.0
// The directory's route log (directory/route_log_format.hpp, record_log_format.hpp,
// docs/directory.md) as recovery reads it at start: record_log::parse with the route format on
// a file's bytes, then RouteStore::open on the same bytes
// in a scratch directory. The parse's own rules are checked (records tile the file from the
// header, a torn tail is what is left after them, every record re-encodes), and the store must
// load what the parse found, or refuse exactly what it calls corrupt, and load the same again
// afterwards. The first input byte picks the file: the rest as is, or the rest with every
// record's checksum made right, so that mutated payloads get past the checksum to the decoder.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "directory/route_log_format.hpp"
#include "directory/route_store.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;
using namespace dstack::directory;

namespace {

// Removed at exit. A plain array, not a std::string: it must outlive the static destructors
// that run before the atexit handler.
char scratch[4096];

const char* scratch_dir() {
  // Under TMPDIR, which scripts/fuzz points at a tmpfs: fdatasync costs nothing there.
  if (scratch[0] == '\0') {
    const auto pattern = std::filesystem::temp_directory_path() / "dstack-route-log-fuzz.XXXXXX";
    std::snprintf(scratch, sizeof scratch, "%s", pattern.c_str());
    if (!::mkdtemp(scratch)) std::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch, ignored);
    });
  }
  return scratch;
}

void check_parse(std::string_view file, const record_log::Parsed& p) {
  using Outcome = record_log::Parsed::Outcome;
  if (p.outcome == Outcome::corrupt) {
    FUZZ_CHECK(!p.problem.empty());
    return;
  }
  std::uint64_t at =
      p.records.empty() && p.good_end < route_log::kMagic.size() ? 0 : route_log::kMagic.size();
  for (const auto& record : p.records) {
    FUZZ_CHECK(record.offset == at);
    FUZZ_CHECK(record.size == record_log::kRecordHeader + record.payload.size());
    at += record.size;
    route_log::Op op;
    FUZZ_CHECK(route_log::decode_payload(record.payload, op));
    FUZZ_CHECK(record.change.key == route_log::key(op.route.service, op.route.consumer) &&
               record.change.remove == op.remove);
    std::string encoded;
    FUZZ_CHECK(route_log::encode(op, encoded));
    route_log::Op back;
    FUZZ_CHECK(route_log::decode_payload(encoded, back));
    FUZZ_CHECK(back.remove == op.remove && back.route.service == op.route.service &&
               back.route.consumer == op.route.consumer);
    if (!back.remove) FUZZ_CHECK(back.route == op.route);
  }
  FUZZ_CHECK(p.good_end == at);
  if (p.outcome == Outcome::clean) FUZZ_CHECK(p.good_end == file.size() || file.empty());
  if (p.outcome == Outcome::torn_tail) FUZZ_CHECK(p.good_end + p.dropped == file.size());
}

// `file` with the checksum of every record whose length fits made right, record by record.
std::string with_checksums(std::string file) {
  using record_log::kRecordHeader;
  std::uint64_t at = route_log::kMagic.size();
  while (at + kRecordHeader <= file.size()) {
    std::uint32_t length = 0;
    for (int i = 3; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(file[at + i]);
    if (length == 0 || length > file.size() - at - kRecordHeader) break;
    const std::uint32_t crc =
        record_log::crc32(std::string_view(file).substr(at + kRecordHeader, length));
    for (int i = 0; i < 4; ++i) file[at + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xffu);
    at += kRecordHeader + length;
  }
  return file;
}

// What the records leave: the last put of each (service, consumer), unless removed after it.
std::map<RouteStore::Key, model::Route> replay(const record_log::Parsed& p) {
  std::map<RouteStore::Key, model::Route> routes;
  for (const auto& r : p.records) {
    route_log::Op op;
    FUZZ_CHECK(route_log::decode_payload(r.payload, op));
    RouteStore::Key key{op.route.service, op.route.consumer};
    if (op.remove)
      routes.erase(key);
    else
      routes[key] = op.route;
  }
  return routes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(fuzz::text(data + 1, size - 1));
  if (data[0] & 1) bytes = with_checksums(std::move(bytes));
  const std::string_view file = bytes;
  const auto parsed = record_log::parse(file, route_log::format());
  check_parse(file, parsed);

  const std::filesystem::path dir = scratch_dir();
  {
    std::ofstream out(dir / "routes.log", std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  try {
    const auto store = RouteStore::open(dir);
    FUZZ_CHECK(parsed.outcome != record_log::Parsed::Outcome::corrupt);
    FUZZ_CHECK(store.routes() == replay(parsed));
    FUZZ_CHECK(store.recovery().dropped ==
               (parsed.outcome == record_log::Parsed::Outcome::torn_tail));
  } catch (const StoreError&) {
    FUZZ_CHECK(parsed.outcome == record_log::Parsed::Outcome::corrupt);
    return 0;
  }
  // What recovery left on disk loads clean, with the same routes.
  const auto again = RouteStore::open(dir);
  FUZZ_CHECK(!again.recovery().dropped);
  FUZZ_CHECK(again.routes() == replay(parsed));
  return 0;
}
