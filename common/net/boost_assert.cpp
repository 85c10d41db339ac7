// SPDX-License-Identifier: Apache-2.0
// Boost's assertions, in the builds that check them (no NDEBUG: Debug, the sanitizer suite, the
// fuzz build), through BOOST_ENABLE_ASSERT_DEBUG_HANDLER (common/net/CMakeLists.txt). Each one
// aborts as assert() does, except one that is wrong: Beast 1.74's chunked parser asserts that
// 5 bytes are buffered after a last chunk "0\r\n" was seen, when 4 are legal (a peer that
// sends "0\r\n", then "\r", then "\n"); the code after it asks for more bytes, as it should, and
// later Beast releases relaxed the assert. Found by http_response_fuzz (docs/fuzzing.md).
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

namespace {

bool known_wrong(std::string_view expr, std::string_view function, std::string_view file) {
  return expr == "n >= 5" && function.find("parse_chunk_header") != std::string_view::npos &&
         file.ends_with("boost/beast/http/impl/basic_parser.ipp");
}

}  // namespace

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (known_wrong(expr, function, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
