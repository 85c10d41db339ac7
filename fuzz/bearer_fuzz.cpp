// SPDX-License-Identifier: Apache-2.0
// Authorization headers as the directory will read them (directory/token_secret.hpp,
// docs/security.md#token-secrets): a secret comes out only of a well-formed Bearer header, is
// the header's tail, printable, bounded, and reads back the same from a header written anew.
// The constant-time comparison of secrets agrees with == on any bytes.
#include "directory/token_secret.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header = fuzz::text(data, size);
  const auto front = header.substr(0, header.size() / 2), back = header.substr(header.size() / 2);
  FUZZ_CHECK(directory::constant_time_equal(front, back) == (front == back));
  FUZZ_CHECK(directory::constant_time_equal(header, std::string(header)));
  const auto secret = directory::bearer_secret(header);
  if (!secret) return 0;
  FUZZ_CHECK(!secret->empty() && secret->size() <= directory::kMaxSecret);
  FUZZ_CHECK(header.ends_with(*secret));
  for (char c : *secret) FUZZ_CHECK(c >= 0x21 && c <= 0x7e);
  FUZZ_CHECK(directory::bearer_secret("Bearer " + std::string(*secret)) == *secret);
  FUZZ_CHECK(directory::secret_digest(*secret).size() == 64);
  return 0;
}
