// SPDX-License-Identifier: Apache-2.0
// The directory's rollout log (directory/rollout_log_format.hpp, record_log_format.hpp) as
// recovery reads it at start: record_log::parse with the rollout format on a file's bytes, then
// RolloutStore::open on the same bytes in a scratch directory. The framing's properties hold,
// every record re-encodes to the same rollout, and the store loads what the parse found or
// refuses exactly what it calls corrupt. The first input byte picks the file: the rest as is,
// or with every record's checksum made right so mutated payloads reach the decoder.
#include <filesystem>
#include <map>

#include "directory/rollout_log_format.hpp"
#include "directory/rollout_store.hpp"
#include "fuzz/record_log_check.hpp"

using namespace dstack;
using namespace dstack::directory;

namespace {

void check_parse(std::string_view file, const record_log::Parsed& p) {
  fuzz::check_framing(file, p, rollout_log::kMagic.size());
  if (p.outcome == record_log::Parsed::Outcome::corrupt) return;
  for (const auto& record : p.records) {
    rollout_log::Op op;
    FUZZ_CHECK(rollout_log::decode_payload(record.payload, op));
    FUZZ_CHECK(record.change.key == op.rollout.spec.service && record.change.remove == op.remove);
    std::string encoded;
    FUZZ_CHECK(rollout_log::encode(op, encoded));
    rollout_log::Op back;
    FUZZ_CHECK(rollout_log::decode_payload(encoded, back));
    FUZZ_CHECK(back.remove == op.remove && back.rollout.spec.service == op.rollout.spec.service);
    if (!back.remove) FUZZ_CHECK(back.rollout == op.rollout);
  }
}

// What the records leave: the last put of each service, unless removed after it.
std::map<std::string, model::RolloutState> replay(const record_log::Parsed& p) {
  std::map<std::string, model::RolloutState> rollouts;
  for (const auto& r : p.records) {
    rollout_log::Op op;
    FUZZ_CHECK(rollout_log::decode_payload(r.payload, op));
    if (op.remove)
      rollouts.erase(op.rollout.spec.service);
    else
      rollouts[op.rollout.spec.service] = op.rollout;
  }
  return rollouts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(fuzz::text(data + 1, size - 1));
  if (data[0] & 1) bytes = fuzz::with_checksums(std::move(bytes), rollout_log::kMagic.size());
  const std::string_view file = bytes;
  const auto parsed = record_log::parse(file, rollout_log::format());
  check_parse(file, parsed);

  const std::filesystem::path dir = fuzz::scratch_dir();
  fuzz::write_file(dir / "rollouts.log", file);
  try {
    const auto store = RolloutStore::open(DataDir::open(dir));
    FUZZ_CHECK(parsed.outcome != record_log::Parsed::Outcome::corrupt);
    FUZZ_CHECK(store.rollouts() == replay(parsed));
    FUZZ_CHECK(store.recovery().dropped ==
               (parsed.outcome == record_log::Parsed::Outcome::torn_tail));
  } catch (const StoreError&) {
    FUZZ_CHECK(parsed.outcome == record_log::Parsed::Outcome::corrupt);
    return 0;
  }
  // What recovery left on disk loads clean, with the same rollouts.
  const auto again = RolloutStore::open(DataDir::open(dir));
  FUZZ_CHECK(!again.recovery().dropped);
  FUZZ_CHECK(again.rollouts() == replay(parsed));
  return 0;
}
