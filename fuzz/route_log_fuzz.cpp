// SPDX-License-Identifier: Apache-2.0
// The directory's route log (directory/route_log_format.hpp, record_log_format.hpp,
// docs/directory.md) as recovery reads it at start: record_log::parse with the route format on
// a file's bytes, then RouteStore::open on the same bytes in a scratch directory. The parse's own
// rules are checked (records tile the file from the header, a torn tail is what is left after them,
// every record re-encodes), and the store must load what the parse found, or refuse exactly what it
// calls corrupt, and load the same again afterwards. The first input byte picks the file: the rest
// as is, or the rest with every record's checksum made right, so that mutated payloads get past the
// checksum to the decoder.
#include <filesystem>
#include <map>

#include "directory/route_log_format.hpp"
#include "directory/route_store.hpp"
#include "fuzz/record_log_check.hpp"

using namespace dstack;
using namespace dstack::directory;

namespace {

// The framing's properties (fuzz/record_log_check.hpp), then what each route record says:
// its key, and that it re-encodes to the same route.
void check_parse(std::string_view file, const record_log::Parsed& p) {
  fuzz::check_framing(file, p, route_log::kMagic.size());
  if (p.outcome == record_log::Parsed::Outcome::corrupt) return;
  for (const auto& record : p.records) {
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
    if (!back.remove) FUZZ_CHECK(back.route == op.route && back.previous == op.previous);
  }
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
  if (data[0] & 1) bytes = fuzz::with_checksums(std::move(bytes), route_log::kMagic.size());
  const std::string_view file = bytes;
  const auto parsed = record_log::parse(file, route_log::format());
  check_parse(file, parsed);

  const std::filesystem::path dir = fuzz::scratch_dir();
  fuzz::write_file(dir / "routes.log", file);
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
