// SPDX-License-Identifier: Apache-2.0
// etcd key-values as the etcd backend reads them (registry::etcd::read_entry, docs/etcd.md): the
// JSON gateway's kv objects (base64 key and value, int64s as strings), the key layout, and the
// value validated like a PUT body. A valid entry's value as the backend writes it
// (instance_value, route_value) must read back the same.
#include "common/registry/etcd_entries.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;
using namespace dstack::registry::etcd;
using nlohmann::json;

namespace {

const KeyLayout kKeys("/dstack");

void check(const json& kv, bool deleted) {
  auto entry = read_entry(kKeys, kv, deleted);
  if (!entry) return;
  FUZZ_CHECK(!(entry->instance && entry->route));
  // Exactly the entries that count as absent say why.
  FUZZ_CHECK(entry->problem.empty() ==
             (entry->names_valid && (entry->instance || entry->route || deleted)));
  const auto event = to_event(*entry);
  FUZZ_CHECK(event.revision == entry->revision && event.service == entry->key.service);
  if (entry->instance) {
    json again = kv;
    again["value"] = base64_encode(instance_value(*entry->instance));
    auto back = read_entry(kKeys, again, false);
    FUZZ_CHECK(back && back->instance && *back->instance == *entry->instance);
  }
  if (entry->route) {
    json again = kv;
    again["value"] = base64_encode(route_value(*entry->route));
    auto back = read_entry(kKeys, again, false);
    FUZZ_CHECK(back && back->route && *back->route == *entry->route);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto input = fuzz::text(data + 1, size - 1);
  const bool deleted = data[0] & 1;
  if (data[0] & 2) {
    // The kv as the gateway sends it.
    const json kv = json::parse(input, nullptr, /*allow_exceptions=*/false);
    if (!kv.is_discarded()) check(kv, deleted);
    return 0;
  }
  // KEY\nVALUE, encoded here, so the fuzzer spends its time on keys and values, not base64.
  const auto parts = fuzz::split(input, '\n', 2);
  if (parts.size() < 2) return 0;
  const std::string key = parts[0];
  FUZZ_CHECK(base64_decode(base64_encode(key)) == key);
  const json kv = {{"key", base64_encode(key)},
                   {"value", base64_encode(parts[1])},
                   {"mod_revision", std::to_string(size)}};
  check(kv, deleted);
  return 0;
}
