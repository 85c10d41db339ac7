// SPDX-License-Identifier: Apache-2.0
// The directory's token log (directory/token_log_format.hpp, record_log_format.hpp,
// docs/directory.md#durable-state) as recovery reads it at start: record_log::parse with the
// token format on a file's bytes, then TokenStore::open on the same bytes in a scratch
// directory. The framing's rules hold (fuzz/record_log_check.hpp), every record re-encodes to
// the same token, and the store loads exactly the tokens the records leave (findable by name
// and by digest), or refuses exactly what the parse calls corrupt, and loads the same again
// afterwards. The first input byte picks the file: the rest as is, or with every record's
// checksum made right, so that mutated payloads get past the checksum to the decoder.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "directory/token_log_format.hpp"
#include "directory/token_store.hpp"
#include "fuzz/record_log_check.hpp"

using namespace dstack;
using namespace dstack::directory;

namespace {

void check_parse(std::string_view file, const record_log::Parsed& p) {
  fuzz::check_framing(file, p, token_log::kMagic.size());
  if (p.outcome == record_log::Parsed::Outcome::corrupt) return;
  for (const auto& record : p.records) {
    token_log::Op op;
    FUZZ_CHECK(token_log::decode_payload(record.payload, op));
    FUZZ_CHECK(record.change.key == op.token.name && record.change.remove == op.remove);
    std::string encoded;
    FUZZ_CHECK(token_log::encode(op, encoded));
    token_log::Op back;
    FUZZ_CHECK(token_log::decode_payload(encoded, back));
    FUZZ_CHECK(back.remove == op.remove && back.token.name == op.token.name);
    if (!back.remove) FUZZ_CHECK(back.token == op.token);
  }
}

struct Replayed {
  std::map<std::string, Token> live;  // the last put of each name, unless deleted after it
  std::set<std::string> digests;      // every digest any record put
};

Replayed replay(const record_log::Parsed& p) {
  Replayed r;
  for (const auto& record : p.records) {
    token_log::Op op;
    FUZZ_CHECK(token_log::decode_payload(record.payload, op));
    if (op.remove) {
      r.live.erase(op.token.name);
    } else {
      r.live[op.token.name] = op.token;
      r.digests.insert(op.token.digest);
    }
  }
  return r;
}

void check_store(const TokenStore& store, const Replayed& want) {
  FUZZ_CHECK(store.tokens() == want.live);
  // A digest finds a live token with that digest (two may share one in a crafted file, never
  // from random secrets) exactly when a live token has it: a replaced or deleted token's digest
  // finds nothing.
  for (const auto& digest : want.digests) {
    const Token* found = store.find_by_digest(digest);
    const bool live = std::any_of(want.live.begin(), want.live.end(),
                                  [&](const auto& kv) { return kv.second.digest == digest; });
    FUZZ_CHECK(live == (found != nullptr));
    if (found) FUZZ_CHECK(found->digest == digest && want.live.contains(found->name));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(fuzz::text(data + 1, size - 1));
  if (data[0] & 1) bytes = fuzz::with_checksums(std::move(bytes), token_log::kMagic.size());
  const std::string_view file = bytes;
  const auto parsed = record_log::parse(file, token_log::format());
  check_parse(file, parsed);

  const std::filesystem::path dir = fuzz::scratch_dir();
  fuzz::write_file(dir / "tokens.log", file);
  try {
    const auto store = TokenStore::open(dir);
    FUZZ_CHECK(parsed.outcome != record_log::Parsed::Outcome::corrupt);
    check_store(store, replay(parsed));
    FUZZ_CHECK(store.recovery().dropped ==
               (parsed.outcome == record_log::Parsed::Outcome::torn_tail));
  } catch (const StoreError&) {
    FUZZ_CHECK(parsed.outcome == record_log::Parsed::Outcome::corrupt);
    return 0;
  }
  // What recovery left on disk loads clean, with the same tokens.
  const auto again = TokenStore::open(dir);
  FUZZ_CHECK(!again.recovery().dropped);
  check_store(again, replay(parsed));
  return 0;
}
