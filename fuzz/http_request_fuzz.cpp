// SPDX-License-Identifier: Apache-2.0
// HTTP requests as HttpServer reads them (net::read_requests runs its read loop on bytes):
// pipelined requests, Content-Length and chunked bodies, Expect: 100-continue, the header and
// body limits, then the path and query decoding the directory's API routes on, and whether
// Accept-Encoding admits gzip (the console's files).
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>

#include "common/net/http_parse.hpp"
#include "fuzz/fuzz.hpp"

using namespace dstack;

namespace {
// Small, so the fuzzer reaches them (the directory's defaults are 16 KiB and 1 MiB).
constexpr std::size_t kMaxHeader = 1024;
constexpr std::size_t kMaxBody = 2048;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte is how many bytes each read returns (1..256): every split point gets tried.
  const std::size_t piece = std::size_t{data[0]} + 1;
  const auto reads =
      net::read_requests(fuzz::text(data + 1, size - 1), kMaxHeader, kMaxBody, piece);
  for (std::size_t i = 0; i < reads.size(); ++i) {
    const auto& read = reads[i];
    FUZZ_CHECK(read.request.has_value() != read.answer.has_value());
    // Only the last request of a connection may close it.
    FUZZ_CHECK(read.keep_alive || i + 1 == reads.size());
    if (read.answer) {
      const int status = read.answer->status;
      FUZZ_CHECK(status == 400 || status == 413 || status == 431);
      FUZZ_CHECK(nlohmann::json::accept(read.answer->body));
      continue;
    }
    const auto& r = *read.request;
    FUZZ_CHECK(r.body.size() <= kMaxBody);
    FUZZ_CHECK(r.target.compare(0, r.path.size(), r.path) == 0);
    std::string path;
    std::vector<std::pair<std::string, std::string>> query;
    FUZZ_CHECK(net::split_target(r.target, path, query) && path == r.path && query == r.query);
    // Without "gzip" or "*" in it, no header admits gzip.
    std::string lower = r.accept_encoding;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (net::accepts_gzip(r.accept_encoding))
      FUZZ_CHECK(lower.find("gzip") != std::string::npos || lower.find('*') != std::string::npos);
    if (auto segments = net::path_segments(r.path))
      for (const auto& s : *segments)
        FUZZ_CHECK(!s.empty() || r.path.find("//") != std::string::npos);
  }
  return 0;
}
