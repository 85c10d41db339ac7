// SPDX-License-Identifier: Apache-2.0
// Streamed answers as HttpClient::open_stream() and LineStream::next_line() read them
// (net::read_stream runs their steps on bytes): the header, a chunked or read-to-close body
// read 16 KiB at a time, and its lines, each bounded by max_line.
#include "common/net/http_parse.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

namespace {
constexpr std::size_t kMaxLine = 1024;  // small, so the fuzzer reaches it (the default is 4 MiB)
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = std::size_t{data[0]} + 1;  // bytes per read, 1..256
  const auto body = fuzz::text(data + 1, size - 1);
  const auto r = net::read_stream(body, kMaxLine, piece);
  std::size_t bytes = 0;
  for (const auto& line : r.lines) {
    FUZZ_CHECK(line.find('\n') == std::string::npos);
    bytes += line.size() + 1;
  }
  // Lines come from the body, which is never larger than what was sent.
  FUZZ_CHECK(bytes <= body.size() + 1);
  FUZZ_CHECK(r.end.code == "line_too_long" || r.end.code == "stream_ended" ||
             r.end.code == "unreachable");
  if (!r.status) FUZZ_CHECK(r.lines.empty() && r.end.code == "unreachable");
  return 0;
}
