// SPDX-License-Identifier: Apache-2.0
// HTTP answers as HttpClient::request() reads them (net::read_response runs its steps on
// bytes): status line, headers, Content-Length, chunked and read-to-close bodies, and the
// client's own bound on the body, which Beast 1.74 does not enforce for responses.
#include "common/net/http_parse.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

namespace {
constexpr std::size_t kMaxBody = 4096;  // small, so the fuzzer reaches it (the default is 64 MiB)
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = std::size_t{data[0]} + 1;  // bytes per read, 1..256
  const auto r = net::read_response(fuzz::text(data + 1, size - 1), kMaxBody, piece);
  if (r) {
    FUZZ_CHECK(r->body.size() <= kMaxBody);
    FUZZ_CHECK(r->status >= 0 && r->status <= 999);
  } else {
    FUZZ_CHECK(r.error().code == "response_too_large" || r.error().code == "unreachable");
  }
  return 0;
}
