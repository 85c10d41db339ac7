// SPDX-License-Identifier: Apache-2.0
// The directory's traffic-policy log (directory/policy_log_format.hpp, record_log_format.hpp) as
// recovery reads it at start: record_log::parse with the policy format on a file's bytes, then
// PolicyStore::open on the same bytes in a scratch directory. The framing's properties hold,
// every record re-encodes to the same policy, and the store loads what the parse found or
// refuses exactly what it calls corrupt. The first input byte picks the file: the rest as is,
// or with every record's checksum made right so mutated payloads reach the decoder.
#include <filesystem>
#include <map>

#include "directory/policy_log_format.hpp"
#include "directory/policy_store.hpp"
#include "fuzz/record_log_check.hpp"

using namespace dstack;
using namespace dstack::directory;

namespace {

void check_parse(std::string_view file, const record_log::Parsed& p) {
  fuzz::check_framing(file, p, policy_log::kMagic.size());
  if (p.outcome == record_log::Parsed::Outcome::corrupt) return;
  for (const auto& record : p.records) {
    policy_log::Op op;
    FUZZ_CHECK(policy_log::decode_payload(record.payload, op));
    FUZZ_CHECK(record.change.key == op.policy.service && record.change.remove == op.remove);
    std::string encoded;
    FUZZ_CHECK(policy_log::encode(op, encoded));
    policy_log::Op back;
    FUZZ_CHECK(policy_log::decode_payload(encoded, back));
    FUZZ_CHECK(back.remove == op.remove && back.policy.service == op.policy.service);
    if (!back.remove) FUZZ_CHECK(back.policy == op.policy);
  }
}

// What the records leave: the last put of each service, unless removed after it.
std::map<std::string, model::TrafficPolicy> replay(const record_log::Parsed& p) {
  std::map<std::string, model::TrafficPolicy> policies;
  for (const auto& r : p.records) {
    policy_log::Op op;
    FUZZ_CHECK(policy_log::decode_payload(r.payload, op));
    if (op.remove)
      policies.erase(op.policy.service);
    else
      policies[op.policy.service] = op.policy;
  }
  return policies;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(fuzz::text(data + 1, size - 1));
  if (data[0] & 1) bytes = fuzz::with_checksums(std::move(bytes), policy_log::kMagic.size());
  const std::string_view file = bytes;
  const auto parsed = record_log::parse(file, policy_log::format());
  check_parse(file, parsed);

  const std::filesystem::path dir = fuzz::scratch_dir();
  fuzz::write_file(dir / "policies.log", file);
  try {
    const auto store = PolicyStore::open(DataDir::open(dir));
    FUZZ_CHECK(parsed.outcome != record_log::Parsed::Outcome::corrupt);
    FUZZ_CHECK(store.policies() == replay(parsed));
    FUZZ_CHECK(store.recovery().dropped ==
               (parsed.outcome == record_log::Parsed::Outcome::torn_tail));
  } catch (const StoreError&) {
    FUZZ_CHECK(parsed.outcome == record_log::Parsed::Outcome::corrupt);
    return 0;
  }
  // What recovery left on disk loads clean, with the same policies.
  const auto again = PolicyStore::open(DataDir::open(dir));
  FUZZ_CHECK(!again.recovery().dropped);
  FUZZ_CHECK(again.policies() == replay(parsed));
  return 0;
}
